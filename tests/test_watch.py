"""lossdoc watch against real processes: a writer appending to a file, and a training log piped in."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

from lossdoc.watch import AppendedFile, DelimitedLines, FirstThatParses, RereadLog

WRITER = str(Path(__file__).with_name("writer.py"))
WATCH = [sys.executable, "-m", "lossdoc", "watch"]


def _detected_step(stderr: str, rule: str) -> int:
    found = re.search(rf"step (\d+): new {rule} \(", stderr)
    assert found, stderr
    return int(found.group(1))


def test_a_file_being_written_alerts_soon_after_a_divergence_and_until_error_exits_1(tmp_path: Path) -> None:
    log = tmp_path / "run.csv"
    writer = subprocess.Popen([sys.executable, WRITER, "csv", "400", "150", str(log), "0.01"])
    try:
        done = subprocess.run(
            [*WATCH, str(log), "--until", "error", "--interval", "0.05", "--timeout", "60", "-q"],
            capture_output=True,
            text=True,
            timeout=90,
        )
        still_writing = writer.poll() is None
    finally:
        writer.kill()
        writer.wait()
    assert done.returncode == 1, done.stderr
    assert still_writing  # it stopped while the run was still going
    assert 150 <= _detected_step(done.stderr, "divergence") <= 190
    assert "started at step 15" in done.stderr


def test_a_healthy_file_raises_no_alert_and_ends_with_idle_exit_0(tmp_path: Path) -> None:
    log = tmp_path / "run.csv"
    plot = str(tmp_path / "curves.png")
    writer = subprocess.Popen([sys.executable, WRITER, "csv", "300", "-1", str(log), "0.002"])
    done = subprocess.run(
        [
            *WATCH,
            str(log),
            "--until",
            "error",
            "--interval",
            "0.05",
            "--idle-exit",
            "1.5",
            "-f",
            "json",
            "--plot",
            plot,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    writer.wait()
    assert done.returncode == 0, done.stderr
    assert "divergence" not in done.stderr and "non-finite" not in done.stderr
    run = json.loads(done.stdout)["runs"][0]
    assert run["summary"]["points"] == 300
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_a_bad_option_is_a_usage_error() -> None:
    done = subprocess.run([*WATCH, "-", "--until", "sometimes"], input="", capture_output=True, text=True)
    assert done.returncode == 2
    assert "--fail-on" in done.stderr or "sometimes" in done.stderr


def test_a_piped_log_is_passed_through_unchanged_and_the_divergence_stops_the_watch() -> None:
    writer = subprocess.Popen([sys.executable, WRITER, "jsonl", "400", "150", "-", "0.002"], stdout=subprocess.PIPE)
    done = subprocess.run(
        [*WATCH, "-", "--until", "error", "-q"], stdin=writer.stdout, capture_output=True, text=True, timeout=90
    )
    writer.stdout.close()
    writer.kill()
    writer.wait()
    assert done.returncode == 1, done.stderr
    assert 150 <= _detected_step(done.stderr, "divergence") <= 190
    assert done.stdout.startswith('{"step": 0, "loss": ')
    assert "epoch 0 step 4: working" in done.stdout


def test_a_healthy_pipe_passes_every_line_through_and_exits_0_when_it_closes(tmp_path: Path) -> None:
    made = subprocess.run([sys.executable, WRITER, "csv", "300", "-1", "-", "0"], capture_output=True, text=True)
    done = subprocess.run([*WATCH, "-", "--until", "error"], input=made.stdout, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == made.stdout
    assert "divergence" not in done.stderr


def test_on_finding_runs_the_command_with_the_finding_as_json(tmp_path: Path) -> None:
    made = subprocess.run([sys.executable, WRITER, "jsonl", "300", "150", "-", "0"], capture_output=True, text=True)
    sink = tmp_path / "finding.json"
    hook = f"{sys.executable} -c \"import sys; open(r'{sink}', 'a').write(sys.stdin.read())\""
    done = subprocess.run([*WATCH, "-", "--on-finding", hook], input=made.stdout, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first = json.loads(sink.read_text().split("\n}\n")[0] + "}")
    assert first["event"] == "new" and first["rule"] == "divergence"
    assert first["delay"] == first["detected_at"] - first["start"]


def test_a_path_that_never_appears_is_an_input_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [*WATCH, str(tmp_path / "nothing.csv"), "--timeout", "0.3", "--interval", "0.1"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "file not found" in done.stderr


def test_only_appended_bytes_are_read_and_a_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "run.csv"
    log.write_text("step,loss\n0,1.0\n1,0.9")
    follower = AppendedFile(log, DelimitedLines())
    assert follower.poll() == [{"step": 0.0, "loss": 1.0}]
    with open(log, "a") as fh:
        fh.write("5\n2,0.8\n")
    assert follower.poll() == [{"step": 1.0, "loss": 0.95}, {"step": 2.0, "loss": 0.8}]
    assert follower.offset == log.stat().st_size


def test_a_rewritten_trainer_state_feeds_only_its_new_entries(tmp_path: Path) -> None:
    state = tmp_path / "trainer_state.json"

    def save(steps: int) -> None:
        history = [{"step": s, "loss": 2.0 / (s + 1), "epoch": s / 10} for s in range(1, steps + 1)]
        state.write_text(json.dumps({"log_history": history, "global_step": steps}))
        time.sleep(0.01)

    follower = RereadLog(state, {})
    save(5)
    assert [r["step"] for r in follower.poll()] == [1, 2, 3, 4, 5]
    assert follower.poll() == []
    save(8)
    assert [r["step"] for r in follower.poll()] == [6, 7, 8]


def test_line_parsers_are_pluggable_and_the_first_that_recognises_a_line_is_kept() -> None:
    def console(line: str) -> dict[str, float | None] | None:
        found = re.match(r"iter (\d+) loss ([\d.]+)", line)
        return {"step": float(found.group(1)), "loss": float(found.group(2))} if found else None

    parse = FirstThatParses({"console": lambda: console, "csv-jsonl": DelimitedLines})
    assert parse("starting...") is None
    assert parse("iter 3 loss 0.5") == {"step": 3.0, "loss": 0.5}
    assert parse('{"step": 4, "loss": 0.4}') is None  # the console parser was chosen


def test_a_lightning_metrics_csv_with_sparse_rows_feeds_train_and_val(tmp_path: Path) -> None:
    from lossdoc.monitor import Monitor
    from lossdoc.watch import Run

    log = tmp_path / "version_0" / "metrics.csv"
    log.parent.mkdir()
    lines = ["epoch,step,train_loss,val_loss"]
    for epoch in range(40):
        lines.append(f"{epoch},{epoch * 10 + 9},{2.0 * 0.9**epoch},")
        lines.append(f"{epoch},{epoch * 10 + 9},,{1.0 + 0.002 * (epoch - 12) ** 2}")
    log.write_text("\n".join(lines) + "\n")
    run = Run(str(log), Monitor())
    for row in AppendedFile(log, DelimitedLines()).poll():
        run.feed(row)
    run.monitor.check()
    assert run.monitor.x_name == "step"
    assert "overfitting" in {f.rule for f in run.monitor.findings}


def test_a_tensorboard_folder_gaining_events_is_read_again_for_its_new_points(tmp_path: Path) -> None:
    from test_ingest_tensorboard import write_events

    follower = RereadLog(tmp_path, {})
    write_events(tmp_path, [(s, "train/loss", 1.0 / (s + 1)) for s in range(10)])
    assert [r["step"] for r in follower.poll()] == list(range(10))
    time.sleep(0.01)
    write_events(tmp_path, [(s, "train/loss", 1.0 / (s + 1)) for s in range(10, 15)])
    assert [r["step"] for r in follower.poll()] == list(range(10, 15))


def test_a_piped_console_log_is_read_by_its_printed_lines() -> None:
    # the HuggingFace Trainer's console: printed dicts among tqdm redraws; the loss blows up from epoch 2.0
    lines = []
    for i in range(1, 80):
        loss = 2.0 * math.exp(-i / 20) if i <= 40 else 2.0 * math.exp(-2) * math.exp((i - 40) / 3)
        lines.append(f"{{'loss': {loss:.4f}, 'grad_norm': 1.0, 'learning_rate': 5e-05, 'epoch': {i * 0.05:.2f}}}")
        lines.append(f"\r {i}%|█         | {i}/80 [00:01<00:09,  4.5it/s]")
    text = "\n".join(lines) + "\n"
    done = subprocess.run([*WATCH, "-", "--until", "error", "-q"], input=text.encode(), capture_output=True)
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    found = re.search(r"epoch ([\d.]+): new divergence \(.*started at epoch ([\d.]+)", stderr)
    assert found, stderr
    detected, started = float(found.group(1)), float(found.group(2))
    assert 2.0 <= started <= 2.1 and detected - started <= 0.5  # within 10 printed points of the onset
    assert text.encode().startswith(done.stdout)  # lines pass through unchanged, \r included (until it stops)
