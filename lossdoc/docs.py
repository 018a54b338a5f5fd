"""Text the tool prints about itself: rule documentation and the list of formats."""

from __future__ import annotations

import dataclasses
import inspect
from itertools import pairwise

FORMATS_INTRO = (
    "Formats are recognised from the content (the file name is only a hint). gzip-compressed files are read "
    "like the plain ones; '-' reads standard input; a folder is searched and every log found in it is a run "
    "named by its relative path. The 'format' of each run is reported."
)
FORMATS_OUTRO = (
    "Everywhere: a column is a loss by its name (loss, logloss, rmse, mse, l2, error ...), never when it is a "
    "higher-is-better metric (accuracy, AUC, mAP, F1 ...); repeated or backwards x values (a resumed run) keep "
    "the last write, and the run's notes say so. Override the choice with --x, --train, --val."
)
FORMAT_DOCS = {
    "csv": "any delimited text with a header (delimiter sniffed: , ; tab | or spaces), BOM, UTF-16; a "
    "pandas-dumped DataFrame (empty first header cell: that index is the x)",
    "keras_csv": "Keras CSVLogger: first column 'epoch', val_* columns (appended at the end when they first "
    "appear later), NA cells, any separator; also no-epoch Keras-style tables",
    "lightning_csv": "Lightning CSVLogger metrics.csv: 'epoch' and 'step' columns, sparse rows (each value on its "
    "own row), *_step/*_epoch forks (the step curve when it has >= 4 points per epoch point, else the epoch "
    "one), any column order; lightning_logs/version_N = runs",
    "yolo_csv": "Ultralytics results.csv, old (space-padded headers) and new: train/*_loss with metrics/* or "
    "lr/pg*; each loss pair (box, cls, dfl, seg, pose, obj ...) is a run",
    "fastai_csv": "fastai CSVLogger history.csv: epoch,train_loss,valid_loss[,...,time]; header lines repeated "
    "by append=True are skipped",
    "tb_csv": 'TensorBoard "Download CSV": header Wall time,Step,Value; run and tag from the file name '
    "run-<run>-tag-<tag>.csv",
    "wandb_csv": "W&B exports: panel CSV ('Step', '<run> - <key>' with __MIN/__MAX; one run per W&B run) or "
    "run.history() CSV (_step, _runtime, _timestamp)",
    "headerless": "numbers with no header (np.savetxt output, a first row of numbers): columns named by position "
    "0, 1, ... (--train col2 or --train 2); column 0 is the loss, or the x when it counts up in whole steps",
    "hf_console": "HuggingFace Trainer console output: the printed dicts {'loss': ..., 'grad_norm': ..., "
    "'learning_rate': ..., 'epoch': ...} and {'eval_loss': ...} among tqdm bars; x = the printed epoch",
    "keras_console": "Keras fit() output, verbose=1 (progress bars: the epoch-final values) or 2: 'Epoch 3/20' then "
    "'... - loss: 0.45 - val_loss: 0.50'",
    "lightning_console": "Lightning progress bars (tqdm 'Epoch 3: ...[..., train_loss=0.45, val_loss=0.51]' or rich "
    "'Epoch 3/9 ... train_loss: 0.45 val_loss: 0.51'): the epoch-final values",
    "yolo_console": "Ultralytics console: the 'Epoch GPU_mem box_loss ...' header and its '3/100 0G 1.23 ...' rows",
    "mmengine_console": "mmengine / MMDetection text logs: 'Epoch(train) [1][ 50/500]  lr: ... loss: 1.23' (x = "
    "global iteration) and Epoch(val) / Iter(train) / Iter(val) lines",
    "megatron_console": "Megatron-LM console: 'iteration 100/1000 | ... | lm loss: 3.4E+00 | ... | grad norm: 1.2 |' "
    "and 'validation loss at iteration 100 | lm loss value: ...'",
    "fairseq_console": "fairseq logs: '| train_inner | epoch 001:  100 / 487 loss=4.65, ..., num_updates=100' and "
    "'| valid | epoch 001 | ... | loss 2.00 | ... | num_updates 487'; x = num_updates",
    "llmc_log": "llm.c main.log: 's:100 trl:2.34 lr:0.0006 norm:1.2' (train) and 's:100 tel:2.41' (val)",
    "nanogpt_log": "build-nanogpt log.txt: '100 train 2.34', '100 val 2.41' ('hella' is an accuracy, not read)",
    "console": "any text log with a counter and loss values (nanoGPT 'step 100: train loss 2.34, val loss 2.40', "
    "'iter 100: loss 2.34, time 34ms', 'step 10/100 | train loss 3.21 | lr 6e-4', 'epoch 3 | train_loss=0.45', "
    "'key: value', 'key=value'); ANSI colours and progress redraws removed; a counter going back is a resume",
    "mlflow_long_csv": "MLflow metric histories in long format: metric,step,timestamp,value with run_id / run_name "
    "columns; one series per metric, one run per run id",
    "tb_long_csv": "TensorBoard scalars in long format: tag,step,value (and a run column): one series per tag, one "
    "run per run",
    "long_csv": "any long-format export (a metric/key/name column, a step column and a value column, e.g. a "
    "flattened W&B scan_history): pivoted to one series per metric",
    "json_history": "a JSON object of lists, e.g. Keras History.history (x = list position = epoch)",
    "json_records": "a JSON list of objects (one per logged point)",
    "json_list": "a JSON list of numbers (e.g. scikit-learn loss_curve_)",
    "jsonl": "JSON Lines: one object per line",
    "detectron2_json": "detectron2 metrics.json: JSON Lines with 'iteration' and total_loss/eta_seconds",
    "mmengine_json": "mmengine vis_data/scalars.json: JSON Lines with 'step', 'iter'/'epoch' and 'lr'",
    "llamafactory_jsonl": "LLaMA-Factory trainer_log.jsonl: JSON Lines with 'current_steps' and 'total_steps'",
    "hf_trainer_state": "HuggingFace trainer_state.json: log_history train entries (loss) and eval entries "
    "(eval_loss); the final summary entry (a run-average train_loss) is skipped; in an output folder only the "
    "latest checkpoint-N/ (or the folder's own state) is read",
    "xgboost_json": "XGBoost evals_result / LightGBM record_evaluation: {dataset: {metric: [...]}}; train = "
    "'train'/'training'/'validation_0' (XGBoost's sklearn wrapper, with more sets)",
    "mlflow": "MLflow file store: a run folder with metrics/ and meta.yaml, or one metric file (lines "
    "'timestamp value step')",
    "mlflow_sqlite": "MLflow SQLite tracking store (mlflow.db, or sqlite:///path/mlflow.db; SQLite's header): every "
    "active run, named experiment/run_name, its params kept (JSON 'params'); read-only, mlflow not needed",
    "mlflow_server": "a running MLflow tracking server, read through its REST API (runs/search, metrics/get-history, "
    "paginated): http://host:5000 (every run), .../#/experiments/1 (its runs) or the run's page, "
    ".../#/experiments/1/runs/ID; named experiment/run_name, params kept",
    "tensorboard": "TensorBoard event files (events.out.tfevents.*: first record 'brain.Event:'), a file or a "
    "folder of them; every point (no sampling), simple_value and TF2 tensor scalars; Keras's train/ and "
    "validation/ folders are one run. Needs the extra: pip install 'lossdoc[tensorboard]'",
}
"""What each format is and what is handled; the list itself comes from the readers (:func:`reader_formats`)."""
READER_MODULES = (
    "delimited",
    "jsonlike",
    "frame",
    "mlflow",
    "tensorboard",
    "headerless",
    "console",
    "longformat",
    "mlflow_sqlite",
    "mlflow_rest",
)


def _wrap(text: str, width: int, **kw: str) -> list[str]:
    """Lines of at most ``width``, broken between words only (never inside "no-epoch" or a path)."""
    import textwrap

    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False, **kw)


def _fill(text: str, width: int, **kw: str) -> str:
    return "\n".join(_wrap(text, width, **kw))


def reader_formats() -> list[str]:
    """Every format name a reader can report, read from the readers' own source: each ``fmt=...``
    argument, ``fmt``/``FORMAT`` assignment and ``return`` of a ``*_format`` function that is a string.
    ``lossdoc formats`` lists these, so a new format cannot be left out of it."""
    import ast
    import importlib.util

    found: list[str] = []

    def strings(node: ast.AST) -> list[str]:
        return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]

    for name in READER_MODULES:
        spec = importlib.util.find_spec(f"lossdoc.ingest.{name}")
        if spec is None or spec.origin is None:
            continue
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            argument = isinstance(node, ast.keyword) and node.arg == "fmt"
            assigned = isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in ("fmt", "FORMAT") for t in node.targets
            )
            if argument or assigned:
                found += strings(node.value)  # type: ignore[attr-defined]
            elif isinstance(node, ast.FunctionDef) and node.name.endswith("_format"):
                found += [v for r in ast.walk(node) if isinstance(r, ast.Return) and r.value for v in strings(r.value)]
    ordered = [f for f in FORMAT_DOCS if f in found]
    return ordered + sorted(set(found) - set(ordered))


def formats_text(width: int = 100) -> str:
    """``lossdoc formats``: every format the readers report, laid out for a terminal ``width`` wide."""
    names = reader_formats()
    col = max(len(n) for n in names) + 2
    body = max(30, width - col)
    out = [_fill(FORMATS_INTRO, width), "", f"{'format':<{col}}recognised by / quirks handled"]
    for name in names:
        doc = FORMAT_DOCS.get(name, "(not described yet)")
        lines = _wrap(doc, body) or [""]
        out.append(f"{name:<{col}}{lines[0]}")
        out += [" " * col + line for line in lines[1:]]
    out += ["", _fill(FORMATS_OUTRO, width)]
    return "\n".join(out)


def plain_docstring(text: str, width: int = 100) -> str:
    """A docstring as a terminal shows it: paragraphs and ``*`` list items re-flowed to ``width``,
    reStructuredText's ````code```` written as plain ``code``."""
    import re

    text = re.sub(r"``([^`]+)``", r"\1", inspect.cleandoc(text))
    text = re.sub(r"/\n\s*", "/", text)  # "a/\nb" was broken at the slash for the source's width only
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        items = re.split(r"\n(?=\s*[*-] )", para)
        for item in items:
            stripped = item.strip()
            if stripped[:2] in ("* ", "- "):
                out.append(_fill(" ".join(stripped[2:].split()), width, initial_indent="* ", subsequent_indent="  "))
            else:
                out.append(_fill(" ".join(stripped.split()), width))
        out.append("")
    return "\n".join(out).rstrip("\n")


def rule_text(rule: object, width: int = 100) -> str:
    """A rule's docstring followed by its parameters, their defaults and what each means, laid out for
    a terminal ``width`` wide."""
    module = rule.module  # type: ignore[attr-defined]
    lines = [plain_docstring(module.__doc__ or "", width), "", f"default severity: {rule.severity}", ""]  # type: ignore[attr-defined]
    fields = dataclasses.fields(module.Params)
    if not fields:
        lines.append("parameters: none")
        return "\n".join(lines)
    docs = _attribute_docs(module.Params)
    slug = rule.slug  # type: ignore[attr-defined]
    lines.append(
        _fill(
            f"parameters (set them in [tool.lossdoc.rules.{slug}] of pyproject.toml, or --param {slug}.NAME=VALUE):",
            width,
        )
    )
    for f in fields:
        lines.append(f"  {f.name} = {f.default!r}")
        if f.name in docs:
            doc = docs[f.name].replace("``", "")
            lines.append(_fill(doc, width, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


def _attribute_docs(cls: type) -> dict[str, str]:
    """Docstrings written under dataclass fields (the convention the rule modules use)."""
    import ast

    try:
        tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    out: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, nxt in pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            out[node.target.id] = " ".join(nxt.value.value.split())
    return out
