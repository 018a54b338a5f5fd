"""Text the tool prints about itself: rule documentation and the list of formats."""

from __future__ import annotations

import dataclasses
import inspect
from itertools import pairwise

FORMATS_TEXT = """\
format             recognised by
csv                any delimited text with a header (delimiter sniffed: , ; tab |); gzip and '-' too
keras_csv          Keras CSVLogger: first column 'epoch', val_* columns, NA cells
lightning_csv      Lightning CSVLogger metrics.csv: 'epoch' and 'step' columns, sparse rows, *_step/*_epoch
yolo_csv           Ultralytics results.csv: train/*_loss, val/*_loss with metrics/* or lr/pg*; one run per loss pair
fastai_csv         fastai CSVLogger: epoch,train_loss,valid_loss[,...,time]; repeated headers skipped
tb_csv             TensorBoard 'Download CSV': header Wall time,Step,Value
wandb_csv          W&B exports: 'run - key' columns with __MIN/__MAX, or _step/_runtime columns
json_history       a JSON object of lists, e.g. Keras History.history
json_records       a JSON list of objects (one per logged point)
json_list          a JSON list of numbers (e.g. scikit-learn loss_curve_)
jsonl              JSON Lines: one object per line
hf_trainer_state   HuggingFace trainer_state.json: log_history entries; the final summary entry is skipped
xgboost_json       XGBoost evals_result / LightGBM record_evaluation: {dataset: {metric: [...]}}
"""


def rule_text(rule: object) -> str:
    """A rule's docstring followed by its parameters, their defaults and what each means."""
    module = rule.module  # type: ignore[attr-defined]
    lines = [inspect.cleandoc(module.__doc__ or ""), "", f"default severity: {rule.severity}", ""]  # type: ignore[attr-defined]
    fields = dataclasses.fields(module.Params)
    if not fields:
        lines.append("parameters: none")
        return "\n".join(lines)
    docs = _attribute_docs(module.Params)
    lines.append("parameters (set them in [tool.lossdoc.rules.<rule>] of pyproject.toml):")
    for f in fields:
        lines.append(f"  {f.name} = {f.default!r}")
        if f.name in docs:
            lines.append(f"      {docs[f.name]}")
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
