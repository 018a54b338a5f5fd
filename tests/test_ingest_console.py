"""Console and text logs, recognised by their lines: each framework's real output (tests/fixtures/console/,
written by make_fixtures.py) or, for tools that cannot run here, lines in their exact print format
(tests/fixtures/console/handmade/, see its README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lossdoc.ingest import NotALog, load_paths, read_one

CONSOLE = Path(__file__).parent / "fixtures" / "console"
HANDMADE = CONSOLE / "handmade"
MMENGINE_LOG = next((Path(__file__).parent / "fixtures" / "formats" / "mmengine" / "work_dir").glob("*/*.log"))


def one(path: Path, **overrides: str):
    runs = read_one(str(path), overrides)
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def points(run, role):
    s = run.get(role)
    assert s is not None, f"no {role} series in {[x.name for x in run.series]}"
    return s.name, s.x.tolist(), s.y.tolist()


def test_hf_trainer_printed_dicts_among_tqdm_bars():
    run = one(CONSOLE / "hf_trainer.out")
    assert (run.format, run.x_name, run.notes) == ("hf_console", "epoch", [])
    assert points(run, "train") == ("loss", [0.5, 1, 1.5, 2, 2.5, 3], [2.305, 2.305, 2.303, 2.305, 2.303, 2.301])
    assert points(run, "val") == ("eval_loss", [1, 2, 3], [2.303, 2.303, 2.304])
    assert points(run, "lr")[2] == [0.004333, 0.0035, 0.002667, 0.001833, 0.001, 0.0001667]
    assert points(run, "grad_norm")[2] == [0.1766, 0.2498, 0.1411, 0.1839, 0.1716, 0.2102]


KERAS_TRAIN = [2.3546, 2.2100, 2.0915, 1.9819, 1.8798]
KERAS_VAL = [2.3332, 2.2314, 2.1354, 2.0472, 1.9592]


@pytest.mark.parametrize("name", ["keras_fit_verbose1.log", "keras_fit_verbose2.log"])
def test_keras_fit_keeps_the_epoch_final_values(name):
    run = one(CONSOLE / name)
    assert (run.format, run.x_name, run.notes) == ("keras_console", "epoch", [])
    assert points(run, "train") == ("loss", [1, 2, 3, 4, 5], KERAS_TRAIN)
    assert points(run, "val") == ("val_loss", [1, 2, 3, 4, 5], KERAS_VAL)


def test_lightning_tqdm_bar_postfix_epoch_final_values():
    run = one(CONSOLE / "lightning_tqdm.out")
    assert (run.format, run.x_name, run.notes) == ("lightning_console", "epoch", [])
    assert points(run, "train") == ("train_loss", [0, 1, 2, 3], [1.880, 1.130, 0.599, 0.347])
    assert points(run, "val") == ("val_loss", [0, 1, 2, 3], [1.890, 1.230, 0.754, 0.502])


def test_lightning_rich_bar_prints_only_its_last_frame_to_a_file():
    run = one(CONSOLE / "lightning_rich.out")
    assert run.format == "lightning_console"
    assert points(run, "train") == ("train_loss", [3], [0.347])
    assert points(run, "val") == ("val_loss", [3], [0.502])


def test_mmengine_text_log_x_is_the_global_iteration():
    run = one(MMENGINE_LOG)
    assert (run.format, run.x_name, run.notes) == ("mmengine_console", "iter", [])
    name, x, y = points(run, "train")
    assert name == "loss"
    assert x[:5] == [10, 20, 30, 40, 53]  # 43 iterations an epoch: epoch 2's 10th is the 53rd
    assert y[:5] == [2.2706, 2.1403, 1.8758, 1.3991, 0.8130]
    assert points(run, "lr")[2][:2] == [0.05, 0.05]


def test_mmengine_text_log_beside_its_vis_data_is_read_once():
    runs, errors = load_paths([str(MMENGINE_LOG.parent)])
    assert errors == []
    assert [r.format for r in runs] == ["mmengine_json"]


def test_nanogpt_iter_lines_and_eval_lines():
    run = one(HANDMADE / "nanogpt_train.log")
    assert (run.format, run.x_name, run.notes) == ("console", "iter", [])
    assert points(run, "train") == ("loss", [0, 10, 20, 30, 40, 50], [4.19, 3.88, 3.57, 3.26, 2.95, 2.64])
    assert points(run, "val") == ("val loss", [0, 20, 40], [4.21, 3.65, 3.09])


def test_build_nanogpt_log_txt_train_and_val_hella_is_not_a_loss():
    run = one(HANDMADE / "log.txt")
    assert (run.format, run.x_name, run.notes) == ("nanogpt_log", "step", [])
    assert points(run, "train") == ("train", list(range(8)), [round(10.95 - s * 0.41, 6) for s in range(8)])
    assert points(run, "val") == ("val", [0, 4], [10.9, 9.3])
    assert "hella" not in [s.name for s in run.series]


def test_llmc_main_log():
    run = one(HANDMADE / "main.log")
    assert (run.format, run.x_name, run.notes) == ("llmc_log", "step", [])
    assert points(run, "train") == ("train loss", [0, 1, 2, 3, 4, 5], [11.01, 10.7, 10.39, 10.08, 9.77, 9.46])
    assert points(run, "val") == ("val loss", [0, 5], [11.0, 9.5])
    assert points(run, "grad_norm")[2] == [3.1, 2.9, 2.7, 2.5, 2.3, 2.1]
    assert points(run, "lr")[2] == [0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.0006]


def test_megatron_iteration_and_validation_lines():
    run = one(HANDMADE / "megatron.out")
    assert (run.format, run.x_name, run.notes) == ("megatron_console", "iteration", [])
    assert points(run, "train") == ("lm loss", [10, 20, 30, 40], [10.3, 9.8, 9.3, 8.8])
    assert points(run, "val") == ("val lm loss", [20, 40], [9.85, 8.85])
    assert points(run, "grad_norm")[2] == [2.4, 2.3, 2.2, 2.1]
    assert "loss scale" not in [s.name for s in run.series]


def test_fairseq_train_inner_and_valid_lines_on_num_updates():
    run = one(HANDMADE / "fairseq_train.log")
    assert (run.format, run.x_name, run.notes) == ("fairseq_console", "num_updates", [])
    assert points(run, "train") == ("loss", [100, 200, 350, 450], [8.0, 7.0, 5.5, 4.5])
    assert points(run, "val") == ("valid_loss", [250, 500], [6.0, 4.0])
    assert points(run, "grad_norm")[2] == [1.8, 1.6, 1.3, 1.1]


def test_yolo_console_header_and_epoch_bars_keep_the_epoch_final_running_means():
    run = one(HANDMADE / "yolo_console.out")
    assert (run.format, run.x_name, run.notes) == ("yolo_console", "epoch", [])
    assert points(run, "train") == ("box_loss", [1, 2, 3], [1.46, 1.16, 0.86])


def test_generic_epoch_lines_with_key_equals_value():
    run = one(HANDMADE / "generic_epochs.log")
    assert (run.format, run.x_name) == ("console", "epoch")
    assert points(run, "train") == ("train_loss", [1, 2, 3, 4, 5], [1.0, 0.5, 0.3333, 0.25, 0.2])
    assert points(run, "lr")[2] == [0.001] * 5


def test_ansi_colours_nan_inf_and_key_colon_value(tmp_path):
    f = tmp_path / "train.log"
    f.write_text(
        "\x1b[32mINFO\x1b[0m starting\n"
        "step 1 | loss: 2.5 | lr: 1e-3\n"
        "step 2 | loss: \x1b[31mnan\x1b[0m | lr: 1e-3\n"
        "step 3 | loss: inf | lr: 1e-3\n"
        "step 4 | loss: 2.0 | lr: 1e-3\n"
    )
    run = one(f)
    assert run.format == "console"
    name, x, y = points(run, "train")
    assert (name, x) == ("loss", [1, 2, 3, 4])
    np.testing.assert_array_equal(y, [2.5, np.nan, np.inf, 2.0])


def test_a_counter_going_back_is_a_resume_noted_and_the_last_write_kept(tmp_path):
    f = tmp_path / "slurm-1234.out"
    lines = [f"iter {i}: loss {3 - i * 0.1:.4f}, time 30.00ms" for i in range(0, 6)]
    lines += ["resuming from checkpoint at iter 3"] + [
        f"iter {i}: loss {2 - i * 0.1:.4f}, time 30.00ms" for i in (3, 4, 5, 6)
    ]
    f.write_text("\n".join(lines) + "\n")
    run = one(f)
    assert run.name == "slurm-1234"
    _, x, y = points(run, "train")
    assert x == [0, 1, 2, 3, 4, 5, 6]
    assert y == [3.0, 2.9, 2.8, 1.7, 1.6, 1.5, 1.4]
    assert run.notes == [
        "x 'iter' repeats or goes backwards (3 point(s), e.g. a resumed run): kept the last write of each x"
    ]


def test_a_text_with_no_loss_line_is_an_input_error_that_does_not_echo_it(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("Epoch of the dinosaurs\n" + "".join(" ".join(["lorem"] * (i % 7 + 1)) + "\n" for i in range(100_000)))
    with pytest.raises(NotALog) as exc:
        read_one(str(f))
    assert len(exc.value.message) < 300
    assert "no loss line" in exc.value.message
