"""Leave-one-family-out (LOFO) check: do lossdoc's thresholds generalise from one source group of logs to the next?

Run by hand (not part of the test suite):

    PATH=.venv/bin:$PATH python benchmarks/generalisation.py                 # full run: self-test, grid, LOFO
    PATH=.venv/bin:$PATH python benchmarks/generalisation.py --quick         # defaults only (dev F1, table 2)
    PATH=.venv/bin:$PATH python benchmarks/generalisation.py --markdown --json /tmp/lofo.json
    PATH=.venv/bin:$PATH python benchmarks/generalisation.py --compare /tmp/lofo.json --show-misses

Why leave one *family* out
--------------------------
The labelled dev corpus (``../shared/corpus/dev``) is not 106 independent logs: it is a handful of source
groups ("families"), each with its own generator of runs, logging cadence, noise level and loss scale. 38
of its rows are Keras toy runs from three research repositories that share one generator; nine are one
person's EEG experiments; six are one PINN's Lightning logs. A threshold that was tuned while looking at
the whole corpus can fit one group's files and still fail on the next group, and the ordinary dev score
cannot show that, because the group it was fitted to is also the group it is scored on. So each family is
held out in turn: a threshold is chosen on the *other* families only and then scored on the held-out
one, and the held-out scores are pooled. The pooled "LOFO F1" is what to expect on a new source of logs;
when it is much lower than the dev F1, the rule is fitted to particular families (table 2 shows which).

What "tuned on the others" means here
-------------------------------------
For each scored label (``overfit``, ``diverged``, ``plateau``, ``still_improving``, ``spikes``,
``nonfinite``) the rules behind it are those of score.py's ``RULES`` (``diverged`` counts ``divergence``
and ``non-finite`` findings). For each such rule the candidates are its default ``Params``, plus every
numeric (int or float, not bool) ``Params`` field with a non-zero default scaled by x0.5, x0.75, x1.33 and
x2, one field at a time (ints rounded half up and kept >= 1, floats to 6 significant digits; duplicates,
and values the CLI's ``--param`` check rejects, are dropped). Every other rule stays at its defaults
(still-improving consults the overfitting rule internally; that rule stays at its defaults too). In the
fold that holds out family F, the candidate with the best F1 on all scored rows *not* in F is chosen
(ties: the default, then the candidate whose factor is closest to 1, then grid order) and F's rows are
scored with it. This is a small, one-field-at-a-time grid, not a search: it asks whether the shipped
threshold is where the other families would put it. A default that wins most folds is a stable threshold;
a label whose LOFO F1 falls well below its dev F1 is one where the families disagree.

How it scores
-------------
Exactly as the official scorer ``score.py`` (found beside or above ``--corpus``, imported with importlib):
its ``RULES``, ``norm``, ``pick_runs``, ``x_range`` and ``summarize``, and a copy of the per-row loop of
its ``score()`` (loaded = lossdoc reported at least one run for the file; folder sources matched by
prefix; the "train"/"any"/"file" series matching). The runs are made in this process the way the CLI
makes them: ``lossdoc.ingest.expand`` + ``read_logged`` per file (each file read once), then
``lossdoc.analysis.analyze`` (+ ``advise``) and ``lossdoc.report.json.run_dict``, sent through the JSON
report's own ``dumps`` and ``json.loads`` so numbers are rounded and NaN becomes null as in the CLI's
output. A self-test at start-up runs ``score.score()`` itself (which calls ``lossdoc analyze --format
json`` in a subprocess) and checks that this script's pooled per-label TP/FP/FN/TN (and P/R/F1/onset)
with default params equal it; it also checks that running only a label's rules gives the same findings
for that label as running all of them (the grid runs only the varied label's rules, to save time).

Families are defined by manifest ``repo`` in :data:`FAMILIES` (frameworks-written runs by the file prefix
``frameworks/``); a labelled row that no family covers is reported and put in ``other``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.util
import json
import math
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO / ".." / "shared" / "corpus" / "dev"
FACTORS = (0.5, 0.75, 1.33, 2.0)
FRAMEWORKS_PREFIX = "frameworks/"

# family -> (what it is, manifest repos). Frameworks-written runs (files under frameworks/, not in the
# manifest) form the family "frameworks"; anything else uncovered goes to "other" with a warning.
# By repo, not by manifest row: the manifest has 89 rows, so its "first 72" (the older published logs) and
# "last 18" (collected this month) overlap in one row, build-nanogpt's log.txt, which belongs to "new".
# Rows at the time of writing: autotrainer 38, pinn 6, yolo 8, eeg 9, hf 5, misc 5, frameworks 17, new 18.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "autotrainer": (
        "Keras research toy runs (AUTOTRAINER, DeepDiagnosis, DeepFD: one generator of faulty models)",
        ("shiningrain/AUTOTRAINER", "DeepDiagnosis/ICSE2022", "ArabelaTso/DeepFD"),
    ),
    "pinn": ("PINNforEM Lightning CSVLogger runs (train-only, multi-component)", ("0729max0729/PINNforEM",)),
    "yolo": (
        "Ultralytics results.csv and their TensorBoard copies",
        ("DJT777/xlstm-yolo", "RoiRT/Kidney_Stone_Detection"),
    ),
    "eeg": ("EEG_Classification Lightning CSVLogger runs", ("GeorgTenzing/EEG_Classification",)),
    "hf": (
        "published HF Trainer / LLaMA-Factory runs",
        (
            "Jaong/Checkpoint-of-CPT",
            "ShashankBommana/DNABERT-2",
            "hsc748NLP/NSLLM",
            "Tanisha-anshu/OpenAi-Whisper-small-Braj",
        ),
    ),
    "misc": (
        "other early published logs (Keras CSVLogger, train-only Lightning, TensorBoard + MLflow)",
        (
            "108062134/DM2023-Lab2-Master",
            "josephdutoit/generalized-aliasing",
            "10-Academy-Batch-4-Week-4/Swahili-Speech-To-Text",
        ),
    ),
    "frameworks": ("runs written by the frameworks themselves for the corpus (files under frameworks/)", ()),
    "new": (
        "published logs collected this month (nanoGPT log.txt, headerless CSVs, detectron2, mmdet, HF, YOLO, Keras)",
        (
            "AGNDM/build-nanogpt",
            "Graphical27/Time-Domain-Electromagnetics",
            "Shengfeng233/PINN-for-NS-equation",
            "enriquemondragon/nebulae-nn",
            "syGOAT/Mistral-v0.2-Translator-bf16",
            "Elbhnasy/Medical_Waste_Detection_Detectron2",
            "Caczhtus/OpenMMLab-Learn-Exercises",
            "Driemann/ml-aos",
            "Paksu64/Neural_Networks",
            "AIRI-Institute/genrisk",
            "armenkarakashian/TrOcr-Number-Line-Fraction-Recognition",
            "akhmetvaleev-ruslan/bashkir-language-audio2text",
            "10844110/t5-summarization-demo",
            "JustinLague/Rocket-Tracking-Camera-Train",
            "TheYev/Thesis",
            "AKBoles/Voice-Identification",
            "DexterGomez/ftc-unet",
            "FacuVCanale/bikeshare-demand-gnn",
        ),
    ),
}
FAMILY_ORDER = [*FAMILIES, "other"]


# --------------------------------------------------------------------------------------------- set-up


def load_scorer(corpus: Path) -> Any:
    """score.py beside or above the corpus folder, as a module."""
    for path in (corpus / "score.py", corpus.parent / "score.py"):
        if path.is_file():
            spec = importlib.util.spec_from_file_location("lossdoc_corpus_score", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.__file__ = str(path)
            return module
    raise SystemExit(f"no score.py in {corpus} or {corpus.parent}")


def family_of_rows(corpus: Path, rows: list[dict[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Row id -> family, and a warning per row no family covers."""
    repo_family = {repo: fam for fam, (_, repos) in FAMILIES.items() for repo in repos}
    manifest: dict[str, dict[str, str]] = {}
    if (corpus / "manifest.csv").is_file():
        with (corpus / "manifest.csv").open(newline="") as fh:
            for m in csv.DictReader(fh):
                manifest[m["id"]] = m
                manifest.setdefault("file:" + m["file"], m)
    out, warnings = {}, []
    for r in rows:
        if r["file"].startswith(FRAMEWORKS_PREFIX):
            out[r["id"]] = "frameworks"
            continue
        m = manifest.get(r["id"]) or manifest.get("file:" + r["file"])
        fam = repo_family.get(m["repo"]) if m else None
        if fam is None:
            warnings.append(
                f"warning: {r['id']} ({'repo ' + m['repo'] if m else 'not in manifest'}) is in no family: 'other'"
            )
            fam = "other"
        out[r["id"]] = fam
    return out, warnings


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One parameter setting: the defaults (rule '') or one field of one rule scaled by ``factor``."""

    rule: str = ""
    field: str = ""
    factor: float = 1.0
    value: Any = None

    @property
    def key(self) -> str:
        return "default" if not self.rule else f"{self.rule}.{self.field}={self.value!r}"

    @property
    def label(self) -> str:
        return "default" if not self.rule else f"{self.rule}.{self.field} x{self.factor:g} ({self.value!r})"

    @property
    def distance(self) -> float:
        return abs(math.log(self.factor))

    def params(self) -> dict[str, dict[str, Any]]:
        return {self.rule: {self.field: self.value}} if self.rule else {}


def scaled(default: Any, factor: float) -> Any:
    if isinstance(default, int):
        return max(1, math.floor(default * factor + 0.5))
    return float(f"{default * factor:.6g}")


def rule_grid(slug: str, skipped: list[str]) -> list[Candidate]:
    """The default plus every numeric Params field of ``slug`` scaled by each factor, one at a time."""
    from lossdoc.analysis import RULES
    from lossdoc.config_checks import rule_param
    from lossdoc.errors import LossdocError

    defaults = RULES[slug].default_params()
    out = [Candidate()]
    for f in dataclasses.fields(defaults):
        default = getattr(defaults, f.name)
        if isinstance(default, bool) or not isinstance(default, (int, float)) or default == 0:
            continue
        seen = {default}
        for factor in FACTORS:
            value = scaled(default, factor)
            if value in seen:
                continue
            seen.add(value)
            try:
                rule_param(slug, f.name, value, f"--param {slug}")  # what the CLI would accept
            except (LossdocError, TypeError, ValueError) as exc:
                skipped.append(f"{slug}.{f.name}={value!r}: {getattr(exc, 'message', exc)}")
                continue
            out.append(Candidate(slug, f.name, factor, value))
    return out


def label_grids(sc: Any, skipped: list[str]) -> dict[str, list[Candidate]]:
    """Per scored label: its candidates (the default first; the grids of its rules after it)."""
    from lossdoc.analysis import RULES

    grids = {}
    for label, (slugs, _) in sc.RULES.items():
        cands = [Candidate()]
        for slug in (s for s in RULES if s in slugs):
            cands += [c for c in rule_grid(slug, skipped) if c.rule]
        grids[label] = cands
    return grids


# ------------------------------------------------------------------------------- runs, as the CLI makes them


def _settings() -> tuple[dict[str, Any], list[str], dict[str, dict[str, Any]]]:
    """The CLI's defaults here: overrides, rules and rule params from the nearest config file (as the CLI)."""
    from lossdoc import config as cfg
    from lossdoc.analysis import RULES
    from lossdoc.policy import selected_rules

    s = cfg.load()
    return {"x": s.x, "train": s.train, "val": s.val}, selected_rules(s.select, s.ignore, RULES), s.rules


def _run_dicts(histories: list[Any], rules: list[str], params: dict[str, dict[str, Any]], advise: bool) -> list:
    """The JSON report's run dicts for these runs (a run whose analysis fails is left out, as in the CLI)."""
    from lossdoc.advice import advise as give_advice
    from lossdoc.analysis import analyze
    from lossdoc.report.json import dumps, run_dict

    out = []
    for h in histories:
        try:
            d = analyze(h, rules, params)
            if advise:
                d.advice = give_advice(d)
        except Exception:  # the CLI reports an internal error and no run
            continue
        out.append(run_dict(d))
    return json.loads(dumps(out)) if out else []


def _compact(run: dict[str, Any]) -> dict[str, Any]:
    """What score.py reads from a run."""
    s = run.get("summary") or {}
    return {
        "source": run.get("source"),
        "series": run.get("series"),
        "summary": {"x_min": s.get("x_min"), "x_max": s.get("x_max")},
        "findings": [{k: f.get(k) for k in ("rule", "series", "start")} for f in run.get("findings", [])],
    }


def evaluate_file(path: str, jobs: list[tuple[str, tuple[str, ...], dict]]) -> tuple[str, dict, list[str], float]:
    """Read one file once; its run dicts with all defaults ('full') and for each (key, rules, params) job."""
    from lossdoc.ingest import expand, read_logged

    t0 = time.perf_counter()
    overrides, rules, base = _settings()
    refs, spec_errors = expand([path])
    histories, errors = [], [f"{e.source}: {e.message}" for e in spec_errors]
    for ref in refs:
        hs, errs = read_logged(ref, overrides)
        histories += hs
        errors += [f"{e.source}: {e.message}" for e in errs]
    out = {"full": [_compact(r) for r in _run_dicts(histories, rules, base, advise=True)]}
    for key, job_rules, params in jobs:
        merged = {slug: dict(p) for slug, p in base.items()}
        for slug, p in params.items():
            merged.setdefault(slug, {}).update(p)
        out[key] = [_compact(r) for r in _run_dicts(histories, [s for s in rules if s in job_rules], merged, False)]
    return path, out, errors, time.perf_counter() - t0


def evaluate_all(files: list[Path], jobs: list, workers: int) -> tuple[dict[str, dict], list[str]]:
    """Every file's results (cached by file, then by job key), in a process pool when ``workers`` > 1."""
    results: dict[str, dict] = {}
    errors: list[str] = []
    order = sorted(files, key=lambda p: -(p.stat().st_size if p.is_file() else 1 << 20))  # big ones first
    if workers <= 1:
        done = [evaluate_file(str(p), jobs) for p in order]
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            done = list(pool.map(evaluate_file, [str(p) for p in order], [jobs] * len(order)))
    for path, out, errs, _ in done:
        results[path] = out
        errors += errs
    return results, errors


# ------------------------------------------------------------------------------ scoring, as score.py does


def runs_by_source(results: dict[str, dict], key: str) -> dict[str, list]:
    """score.run_lossdoc's grouping: every run under its resolved source path."""
    out: dict[str, list] = {}
    for path in sorted(results):
        for run in results[path][key]:
            out.setdefault(str(Path(run.get("source", "")).resolve()), []).append(run)
    return out


def score_rows(sc: Any, root: Path, rows: list[dict], runs_by_file: dict[str, list], labels=None) -> dict:
    """The per-row body of score.score(): row id -> {'loaded', 'matched', label: (outcome, onset)}."""
    out = {}
    for r in rows:
        path = (root / r["file"]).resolve()
        runs = runs_by_file.get(str(path), [])
        if not runs and path.is_dir():
            runs = [x for src, rs in runs_by_file.items() if src.startswith(str(path) + "/") for x in rs]
        chosen, ok = sc.pick_runs(runs, r["train_col"], r["val_col"])
        res: dict[str, Any] = {"loaded": bool(runs), "matched": bool(ok)}
        for key, (slugs, about) in sc.RULES.items():
            if labels is not None and key not in labels:
                continue
            truth = r.get(key, "")
            if truth not in ("yes", "no"):
                continue
            pool = runs if about == "file" else chosen
            hits = [
                f
                for run in pool
                for f in run.get("findings", [])
                if f.get("rule") in slugs
                and (about != "train" or sc.norm(f.get("series")) in ("", sc.norm(r["train_col"])))
            ]
            onset = None
            if truth == "yes" and hits:
                outcome = "tp"
                want = r.get(sc.ONSET.get(key, ""), "")
                got = [f.get("start") for f in hits if isinstance(f.get("start"), (int, float))]
                span = next((sc.x_range(run) for run in chosen if sc.x_range(run)), None)
                if want not in ("", None) and got and span:
                    onset = min(abs(g - float(want)) for g in got) / (span[1] - span[0])
            elif truth == "yes":
                outcome = "fn"
            elif hits:
                outcome = "fp"
            else:
                outcome = "tn"
            res[key] = (outcome, onset)
        out[r["id"]] = res
    return out


def pooled(sc: Any, scored: dict, ids, label: str) -> dict:
    """score.summarize() of one label over the rows ``ids``."""
    st: dict[str, Any] = dict(tp=0, fp=0, fn=0, tn=0, onset=[])
    for i in ids:
        got = scored[i].get(label)
        if got is None:
            continue
        st[got[0]] += 1
        if got[1] is not None:
            st["onset"].append(got[1])
    return sc.summarize(st)


def f1_exact(tp: int, fp: int, fn: int) -> float:
    """F1 as score.summarize computes it, unrounded (NaN when there is nothing to score)."""
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else math.nan
    r = tp / (tp + fn) if tp + fn else math.nan
    return p, r, f1_exact(tp, fp, fn)


def counts(outcomes: dict[str, str], ids) -> tuple[int, int, int, int]:
    c = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for i in ids:
        if i in outcomes:
            c[outcomes[i]] += 1
    return c["tp"], c["fp"], c["fn"], c["tn"]


# --------------------------------------------------------------------------------------------- LOFO


def lofo(outcomes: dict[str, dict[str, str]], grid: list[Candidate], families: dict[str, list[str]]) -> dict:
    """One label: per held-out family the candidate chosen on the others and its counts there, pooled."""
    folds, total = {}, [0, 0, 0, 0]
    for fam, ids in families.items():
        held = [i for i in ids if i in outcomes["default"]]
        if not held:
            continue
        held_set = set(held)
        train = [i for i in outcomes["default"] if i not in held_set]

        def rank(item: tuple[int, Candidate], train=train) -> tuple:
            index, c = item
            f1 = f1_exact(*counts(outcomes[c.key], train)[:3])
            return (-(f1 if not math.isnan(f1) else -1.0), bool(c.rule), c.distance, index)

        _, best = min(enumerate(grid), key=rank)
        tr = counts(outcomes[best.key], train)
        te = counts(outcomes[best.key], held)
        total = [a + b for a, b in zip(total, te, strict=True)]
        folds[fam] = {
            "chosen": best.label,
            "default": not best.rule,
            "train_f1": _r(f1_exact(*tr[:3])),
            "held_out": dict(zip(("tp", "fp", "fn", "tn"), te, strict=True)),
            "held_out_default": dict(zip(("tp", "fp", "fn", "tn"), counts(outcomes["default"], held), strict=True)),
        }
    p, r, f = prf(*total[:3])
    return {
        "tp": total[0],
        "fp": total[1],
        "fn": total[2],
        "tn": total[3],
        "precision": _r(p),
        "recall": _r(r),
        "f1": _r(f),
        "default_chosen": sum(fd["default"] for fd in folds.values()),
        "folds_n": len(folds),
        "folds": folds,
    }


def _same(x: Any) -> str:
    """A summary in a form that compares NaN equal to NaN."""
    return json.dumps(x, sort_keys=True)


def _r(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(x, 3)


# ------------------------------------------------------------------------------------------- output


def fmt(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def table(headers: list[str], rows: list[list[str]], markdown: bool, right_from: int = 1) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join("---" if i < right_from else "---:" for i in range(len(headers))) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < right_from else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def cell(c: dict | None) -> str:
    if not c:
        return ""
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    return f"{fmt(f1_exact(tp, fp, fn))} ({tp}/{fp}/{fn})" if tp + fp + fn else f"· (0/0/0, {c['tn']} tn)"


def compare(old_path: str, doc: dict, markdown: bool) -> list[str]:
    old = json.loads(Path(old_path).read_text())
    out = [f"Compared with {old_path} ({old.get('when', '?')}):"]
    rows = []
    for label, now in doc["labels"].items():
        was = old.get("labels", {}).get(label, {})
        d_old, d_new = (was.get("dev") or {}).get("f1"), now["dev"]["f1"]
        l_old, l_new = (was.get("lofo") or {}).get("f1"), (now.get("lofo") or {}).get("f1")

        def delta(a: float | None, b: float | None) -> str:
            return "–" if a is None or b is None else f"{b - a:+.3f}"

        flag = "LOFO F1 DOWN" if l_old is not None and l_new is not None and l_new < l_old else ""
        rows.append(
            [label, fmt(d_old), fmt(d_new), delta(d_old, d_new), fmt(l_old), fmt(l_new), delta(l_old, l_new), flag]
        )
    out.append(table(["label", "dev was", "dev now", "Δ", "LOFO was", "LOFO now", "Δ", ""], rows, markdown))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="folder holding labels.csv (score.py beside/above)")
    ap.add_argument("--lossdoc", default=f"{shlex.quote(sys.executable)} -m lossdoc", help="CLI for the self-test")
    ap.add_argument("--jobs", type=int, default=None, help="processes (default: one per CPU)")
    ap.add_argument("--quick", action="store_true", help="defaults only: no grid, no LOFO")
    ap.add_argument("--markdown", action="store_true", help="tables as Markdown")
    ap.add_argument("--json", help="write all numbers here")
    ap.add_argument("--compare", help="an earlier --json file: print the deltas")
    ap.add_argument("--show-misses", action="store_true", help="FP/FN ids per family with default params")
    ap.add_argument("--no-self-test", action="store_true", help="skip the score.py (CLI) comparison")
    args = ap.parse_args()
    t_start = time.perf_counter()

    corpus = Path(args.corpus).resolve()
    sc = load_scorer(corpus)
    labels_path = corpus / "labels.csv"
    with labels_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    fam_of, warnings = family_of_rows(corpus, rows)
    families = {f: [r["id"] for r in rows if fam_of[r["id"]] == f] for f in FAMILY_ORDER}
    families = {f: ids for f, ids in families.items() if ids}
    files = sorted({(corpus / r["file"]).resolve() for r in rows})
    workers = args.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

    skipped: list[str] = []
    grids = label_grids(sc, skipped)
    if args.quick:
        grids = {label: [Candidate()] for label in grids}
    jobs, job_of = [], {}  # job key "<label>|<candidate>": the label's rules only, with the candidate's params
    for label, grid in grids.items():
        rules = tuple(sc.RULES[label][0])
        for c in grid:
            key = f"{label}|{c.key}"
            job_of[(label, c.key)] = key
            jobs.append((key, rules, c.params()))

    t0 = time.perf_counter()
    results, read_errors = evaluate_all(files, jobs, workers)
    t_grid = time.perf_counter() - t0

    # defaults, exactly as the CLI's runs
    default_runs = runs_by_source(results, "full")
    scored = score_rows(sc, corpus, rows, default_runs)
    ids = [r["id"] for r in rows]
    dev = {label: pooled(sc, scored, ids, label) for label in sc.RULES}
    loaded = sum(s["loaded"] for s in scored.values())
    matched = sum(s["matched"] for s in scored.values())

    # self-test 1: score.py (via the CLI) gives the same pooled counts
    selftest = {"ran": not args.no_self_test}
    if not args.no_self_test:
        t0 = time.perf_counter()
        ref = sc.score(labels_path, args.lossdoc, 400, 600)
        selftest["seconds"] = round(time.perf_counter() - t0, 2)
        diffs = [label for label in sc.RULES if _same(ref["rules"].get(label)) != _same(dev[label])]
        if (ref["loaded"], ref["matched"]) != (loaded, matched):
            diffs.append(f"loaded/matched {ref['loaded']}/{ref['matched']} vs {loaded}/{matched}")
        selftest.update(match=not diffs, differences=diffs, cli_errors=len(ref["errors"]))

    # per label, per candidate: row outcomes (self-test 2: the label-only runs at defaults = the full runs)
    outcomes: dict[str, dict[str, dict[str, str]]] = {}
    subset_mismatch = []
    for label, grid in grids.items():
        outcomes[label] = {}
        for c in grid:
            if c.rule or not args.quick:
                sc_rows = score_rows(sc, corpus, rows, runs_by_source(results, job_of[(label, c.key)]), {label})
            else:
                sc_rows = scored
            outcomes[label][c.key] = {i: v[label][0] for i, v in sc_rows.items() if label in v}
            if not c.rule:
                if {i: v[label] for i, v in sc_rows.items() if label in v} != {
                    i: v[label] for i, v in scored.items() if label in v
                }:
                    subset_mismatch.append(label)
                outcomes[label]["default"] = {i: v[label][0] for i, v in scored.items() if label in v}

    labels_doc: dict[str, Any] = {}
    for label in sc.RULES:
        positives = sum(r.get(label) == "yes" for r in rows)
        scored_n = sum(r.get(label) in ("yes", "no") for r in rows)
        entry: dict[str, Any] = {"positives": positives, "scored": scored_n, "candidates": len(grids[label])}
        entry["dev"] = dev[label]
        entry["lofo"] = None if args.quick else lofo(outcomes[label], grids[label], families)
        entry["families"] = {
            f: dict(zip(("tp", "fp", "fn", "tn"), counts(outcomes[label]["default"], fids), strict=True))
            for f, fids in families.items()
            if any(i in outcomes[label]["default"] for i in fids)
        }
        entry["grid"] = {
            c.label: dict(zip(("tp", "fp", "fn", "tn"), counts(outcomes[label][c.key], ids), strict=True))
            for c in grids[label]
        }
        labels_doc[label] = entry

    misses: dict[str, list[str]] = {}
    for label in sc.RULES:
        for i, o in outcomes[label]["default"].items():
            if o in ("fp", "fn"):
                misses.setdefault(fam_of[i], []).append(f"{o.upper()} {label}: {i}")

    t_total = time.perf_counter() - t_start
    doc = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "corpus": str(corpus),
        "scorer": sc.__file__,
        "runs": len(rows),
        "loaded": loaded,
        "matched": matched,
        "read_errors": read_errors,
        "self_test": selftest,
        "label_only_runs_match_full_runs": not subset_mismatch,
        "quick": args.quick,
        "factors": list(FACTORS),
        "skipped_candidates": skipped,
        "families": {
            f: {"rows": len(fids), "about": FAMILIES.get(f, ("uncovered rows", ()))[0]} for f, fids in families.items()
        },
        "labels": labels_doc,
        "misses": misses,
        "seconds": {"evaluate": round(t_grid, 1), "total": round(t_total, 1)},
        "workers": workers,
    }

    out: list[str] = []
    out += warnings
    out.append(
        f"Corpus {corpus}: {loaded}/{len(rows)} runs loaded, {matched} matched on series names, "
        f"{len(read_errors)} read errors; {len(families)} families; scorer {sc.__file__}"
    )
    if selftest["ran"]:
        verdict = "MATCH" if selftest["match"] else f"MISMATCH ({', '.join(selftest['differences'])})"
        out.append(
            f"Self-test: pooled per-label TP/FP/FN/TN (and P/R/F1/onset) with default params vs score.score() "
            f"through `{args.lossdoc}`: {verdict}"
        )
    else:
        out.append("Self-test: skipped (--no-self-test)")
    if not args.quick:
        out.append(
            "Self-test: each label's rules run alone give the same default findings as all rules: "
            + ("yes" if not subset_mismatch else f"NO ({', '.join(subset_mismatch)})")
        )
        out.append(
            f"Grid: {sum(len(g) - 1 for g in grids.values())} non-default candidates "
            f"(factors {', '.join(f'x{f:g}' for f in FACTORS)}), {len(skipped)} rejected by the CLI's check"
        )
    out.append("")

    head = ["label", "pos", "scored", "dev P", "dev R", "dev F1"]
    if not args.quick:
        head += ["LOFO P", "LOFO R", "LOFO F1", "default chosen", "grid"]
    t1 = []
    for label, e in labels_doc.items():
        row = [
            label,
            str(e["positives"]),
            str(e["scored"]),
            fmt(e["dev"]["precision"]),
            fmt(e["dev"]["recall"]),
            fmt(e["dev"]["f1"]),
        ]
        if e["lofo"]:
            lo = e["lofo"]
            row += [
                fmt(lo["precision"]),
                fmt(lo["recall"]),
                fmt(lo["f1"]),
                f"{lo['default_chosen']}/{lo['folds_n']}",
                str(e["candidates"]),
            ]
        t1.append(row)
    out.append(
        "Table 1. Per label: dev = default params on the whole corpus; LOFO = each family scored with the "
        "candidate that had the best F1 on the other families, pooled"
    )
    out.append(table(head, t1, args.markdown))
    out.append("")

    if not args.quick:
        out.append("Chosen per held-out family (non-default choices only; F1 on the others -> held-out tp/fp/fn):")
        for label, e in labels_doc.items():
            picks = [
                f"{fam}: {fd['chosen']} ({fmt(fd['train_f1'])} -> "
                f"{fd['held_out']['tp']}/{fd['held_out']['fp']}/{fd['held_out']['fn']}, default "
                f"{fd['held_out_default']['tp']}/{fd['held_out_default']['fp']}/{fd['held_out_default']['fn']})"
                for fam, fd in e["lofo"]["folds"].items()
                if not fd["default"]
            ]
            out.append(f"  {label}: " + ("default in every fold" if not picks else "; ".join(picks)))
        out.append("")

    fams = list(families)
    out.append(
        "Table 2. Default params per family x label: F1 (tp/fp/fn); '·' = only true negatives; blank = nothing scored"
    )
    t2 = [
        [f"{f} ({len(families[f])})", *[cell(labels_doc[label]["families"].get(f)) for label in sc.RULES]] for f in fams
    ]
    t2.append(["all", *[cell(labels_doc[label]["dev"]) for label in sc.RULES]])
    out.append(table(["family (rows)", *sc.RULES], t2, args.markdown))

    if args.show_misses:
        out.append("")
        out.append("Misses with default params, per family:")
        for f in fams:
            if misses.get(f):
                out.append(f"  {f}:")
                out += [f"    {m}" for m in sorted(misses[f])]
    if read_errors:
        out.append("")
        out += [f"read error (the row counts as not loaded, as in score.py): {e}" for e in read_errors[:10]]
    if skipped:
        out.append("")
        out += [f"rejected candidate: {s}" for s in skipped]
    if args.compare:
        out.append("")
        out += compare(args.compare, doc, args.markdown)
    out.append("")
    out.append(
        f"Runtime: {t_total:.1f} s ({t_grid:.1f} s reading and analysing {len(files)} files x {len(jobs) + 1} settings "
        f"in {workers} processes"
        + (f", {selftest['seconds']} s self-test through the CLI)" if selftest["ran"] else ")")
    )
    print("\n".join(out))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if not selftest.get("ran") or selftest.get("match") else 1


if __name__ == "__main__":
    sys.exit(main())
