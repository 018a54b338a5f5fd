"""Side-by-side detection quality: lossdoc and the existing post-hoc loss-log tools on the synthetic set.

Run by hand (not part of the test suite):

    python benchmarks/competitors.py --setup                     # create /work/compvenv/<tool> venvs, pip install
    PATH=.venv/bin:$PATH python benchmarks/competitors.py --out /tmp/synth   # generate (or --reuse) and compare

The synthetic corpus and its labels come from ``benchmarks/detection.py`` (same seed, same label
definitions, same matching and metrics). Each tool lives in its own venv under ``--venvs``
(default ``/work/compvenv``; outside the repo) so none of them touches lossdoc's environment.

Tools (all four exist on PyPI; versions as installed when this was written):

- losslint 0.4.1 — ``losslint check --format json FILE``. Reads the CSV as is (step/epoch column,
  ``train_loss`` -> its ``loss``, ``val_loss`` -> its ``eval_loss``; empty cells skipped).
- trainproof 0.22.0 — ``trainproof doctor --json FILE`` (plus ``--map step=epoch`` for epoch-indexed
  files, since ``epoch`` is not one of its step aliases). Reads the CSV as is.
- trainspotter 0.2.6 — ``trainspotter analyze --output json FILE`` (``--format lightning`` for the
  Lightning-style files). Reads the CSV as is; without a ``step`` column it uses the row index.
- runmedic 0.1.1 — ``runmedic diagnose --json FILE``. Reads the CSV as is.

No format conversion was needed: every tool reads a plain ``step``/``epoch``,``train_loss``,``val_loss``
CSV. A file a tool fails on (non-zero exit without JSON, or a timeout) counts as "not read": it gets no
findings, as score.py does for files lossdoc cannot load, and the number read is printed per tool.

Mapping of each tool's findings to the six labels (``—`` in the table = the tool has no such check):

| label | lossdoc | losslint | trainproof | trainspotter | runmedic |
|---|---|---|---|---|---|
| overfit | overfitting | overfit_onset | TP-OVERFIT | overfitting | overfitting |
| diverged | divergence, non-finite | divergence, nan_inf [T] | TP-DIVERGE, TP-NAN | divergence [T] | divergence, |
|          | (train)                |                         |                    |                | non_finite [T] |
| plateau | plateau | stagnation | TP-FLAT, TP-DEAD-RUN | plateau [T] | no_learning, constant_lr_plateau |
| still_improving | still-improving | — | — | — | — |
| spikes | loss-spike | loss_spike | — (*) | spikes [T] | loss_spikes |
| nonfinite | non-finite | nan_inf | TP-NAN (train only) | divergence "non-finite" | non_finite |

[T] = only findings about the train-loss series. (*) trainproof's TP-GRAD-SPIKE needs a grad-norm column.

Onset errors are not compared here: the tools report row indices or steps in different ways (and
trainproof only in prose); see detection.py for lossdoc's onset errors.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection import LABEL_KEYS, SEED, ensure_corpus, fmt, run_lossdoc, score

TOOLS = ["losslint", "trainproof", "trainspotter", "runmedic"]
SUPPORTED = {
    "lossdoc": set(LABEL_KEYS),
    "losslint": {"overfit", "diverged", "plateau", "spikes", "nonfinite"},
    "trainproof": {"overfit", "diverged", "plateau", "nonfinite"},
    "trainspotter": {"overfit", "diverged", "plateau", "spikes", "nonfinite"},
    "runmedic": {"overfit", "diverged", "plateau", "spikes", "nonfinite"},
}


def tool_cmd(tool: str, venvs: Path, path: Path, lab: dict[str, str]) -> list[str]:
    exe = str(venvs / tool / "bin" / tool)
    if tool == "losslint":
        return [exe, "check", "--format", "json", str(path)]
    if tool == "trainproof":
        return [exe, "doctor", "--json", *(["--map", "step=epoch"] if lab["x_col"] == "epoch" else []), str(path)]
    if tool == "trainspotter":
        return [
            exe,
            "analyze",
            "--output",
            "json",
            *(["--format", "lightning"] if lab["format"] == "lightning_csv" else []),
            str(path),
        ]
    if tool == "runmedic":
        return [exe, "diagnose", "--json", str(path)]
    raise ValueError(tool)


def map_findings(tool: str, doc) -> dict[str, list]:
    """The tool's JSON output -> {label: [onset or None, ...]} (see the mapping table in the docstring)."""
    got: dict[str, list] = {}

    def hit(key: str, at=None) -> None:
        got.setdefault(key, []).append(at)

    if tool == "losslint":
        for f in doc.get("findings", []):
            c, series = f.get("check"), (f.get("details") or {}).get("series")
            if c == "nan_inf":
                hit("nonfinite")
                if series in ("loss", "train_loss"):
                    hit("diverged")
            elif c == "divergence":
                hit("diverged")
            elif c == "stagnation":
                hit("plateau")
            elif c == "loss_spike":
                hit("spikes")
            elif c == "overfit_onset":
                hit("overfit")
    elif tool == "trainproof":
        for rep in doc.get("reports", []):
            for f in rep.get("findings", []):
                i = f.get("id")
                if i == "TP-NAN":
                    hit("nonfinite")
                    hit("diverged")
                elif i == "TP-DIVERGE":
                    hit("diverged")
                elif i in ("TP-FLAT", "TP-DEAD-RUN"):
                    hit("plateau")
                elif i == "TP-OVERFIT":
                    hit("overfit")
    elif tool == "trainspotter":
        for f in doc.get("findings", []):
            d, metric, at = f.get("detector"), f.get("metric"), f.get("step_start")
            train = metric == "train/loss"
            if d == "divergence" and "non-finite" in (f.get("title") or ""):
                hit("nonfinite")
            if d == "divergence" and train:
                hit("diverged", at)
            elif d == "plateau" and train:
                hit("plateau", at)
            elif d == "spikes" and train:
                hit("spikes", at)
            elif d == "overfitting":
                hit("overfit", at)
    elif tool == "runmedic":
        for run in doc if isinstance(doc, list) else [doc]:
            for f in run.get("findings", []):
                c, metric, at = f.get("check"), f.get("metric"), f.get("step")
                if c == "non_finite":
                    hit("nonfinite")
                    if metric == "train_loss":
                        hit("diverged", at)
                elif c == "divergence":
                    hit("diverged", at)
                elif c in ("no_learning", "constant_lr_plateau"):
                    hit("plateau", at)
                elif c == "loss_spikes":
                    hit("spikes", at)
                elif c == "overfitting":
                    hit("overfit", at)
    return got


def run_tool(
    tool: str, venvs: Path, folder: Path, labels: list[dict[str, str]], timeout: int, jobs: int
) -> tuple[dict, list[str], float]:
    def one(lab):
        cmd = tool_cmd(tool, venvs, folder / lab["file"], lab)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return lab["id"], None, f"{lab['id']}: timeout after {timeout} s"
        try:
            doc = json.loads(p.stdout)
        except json.JSONDecodeError:
            return lab["id"], None, f"{lab['id']}: exit {p.returncode}, no JSON: {p.stderr.strip()[-200:]}"
        return lab["id"], map_findings(tool, doc), None

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        results = list(ex.map(one, labels))
    preds = {cid: got for cid, got, _ in results if got is not None}
    errors = [e for _, _, e in results if e]
    return preds, errors, time.perf_counter() - t0


def setup(venvs: Path) -> None:
    venvs.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        v = venvs / tool
        if not (v / "bin" / tool).exists():
            subprocess.run([sys.executable, "-m", "venv", str(v)], check=True)
            p = subprocess.run([str(v / "bin" / "pip"), "install", "-q", tool], check=False)
            print(f"{tool}: pip install exit {p.returncode}")
        else:
            print(f"{tool}: already installed in {v}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="synthetic corpus folder (default: a new temp dir)")
    ap.add_argument("--reuse", action="store_true", help="reuse the logs already in --out")
    ap.add_argument("--venvs", default="/work/compvenv", help="folder holding one venv per tool")
    ap.add_argument("--setup", action="store_true", help="create the venvs and pip install the tools, then exit")
    ap.add_argument("--lossdoc", default="lossdoc")
    ap.add_argument("--lossdoc-preds", help="reuse lossdoc's findings saved by detection.py (DIR/lossdoc_preds.json)")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--timeout", type=int, default=900, help="seconds per file and tool")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--max-rows", type=int, help="score only cases with at most this many rows (quick runs)")
    ap.add_argument("--json", help="write the per-tool results here")
    args = ap.parse_args()
    venvs = Path(args.venvs)
    if args.setup:
        setup(venvs)
        return 0
    folder, labels = ensure_corpus(args.out, regenerate=not args.reuse)
    if args.max_rows:
        labels = [lab for lab in labels if int(lab["rows"]) <= args.max_rows]
    print(f"synthetic corpus: {folder} ({len(labels)} cases scored, seed {SEED})")
    results: dict[str, dict | None] = {}
    notes = []
    if args.lossdoc_preds:
        preds, errors, secs = json.loads(Path(args.lossdoc_preds).read_text())["preds"], [], 0.0
    else:
        preds, errors, secs = run_lossdoc(args.lossdoc, folder, labels)
    results["lossdoc"] = score(folder, labels, preds, SUPPORTED["lossdoc"])
    how = f"reused {args.lossdoc_preds}" if args.lossdoc_preds else f"{secs:.0f} s, {len(errors)} errors"
    notes.append(f"lossdoc: read {sum(lab['id'] in preds for lab in labels)}/{len(labels)} files ({how})")
    for tool in args.tools.split(","):
        exe = venvs / tool / "bin" / tool
        if not exe.exists():
            results[tool] = None
            notes.append(
                f"{tool}: not installed in {venvs / tool} (run with --setup; if pip fails the tool is reported as n/a)"
            )
            continue
        version = (
            subprocess.run([str(venvs / tool / "bin" / "pip"), "show", tool], capture_output=True, text=True)
            .stdout.split("Version:")[-1]
            .split()[0:1]
        )
        preds, errors, secs = run_tool(tool, venvs, folder, labels, args.timeout, args.jobs)
        results[tool] = score(folder, labels, preds, SUPPORTED[tool]) if preds else None
        notes.append(
            f"{tool} {' '.join(version)}: read {len(preds)}/{len(labels)} files in {secs:.0f} s"
            + (f"; {len(errors)} failures, e.g. {errors[0]}" if errors else "")
        )
    cmd = " ".join(shlex.quote(a) for a in ["python", "benchmarks/competitors.py", *sys.argv[1:]])
    names = list(results)
    print(f"\n### F1 per rule on the synthetic set ({len(labels)} cases, seed {SEED}) — `{cmd}`\n")
    print("| rule | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for k in LABEL_KEYS:
        cells = []
        for name in names:
            r = results[name]
            if r is None:
                cells.append("n/a")
            elif not r[k]["supported"]:
                cells.append("—")
            else:
                s = r[k]
                cells.append(f"{fmt(s['f1'])} (P {fmt(s['precision'])} R {fmt(s['recall'])})")
        print(f"| {k} | " + " | ".join(cells) + " |")
    print("\n" + "\n".join(notes))
    print(f"\ncommand: {cmd}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    n: (None if r is None else {k: {a: b for a, b in v.items() if a != "misses"} for k, v in r.items()})
                    for n, r in results.items()
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
