"""The way back: the checkpoints on disk beside the log, and how to resume from them.

When the log sits in a training output folder, :func:`plan` lists the checkpoints that exist there,
read from a directory listing only (file contents are never read, except the head of the
``trainer_state.json`` that is the log itself, for its ``best_model_checkpoint``):

* Hugging Face: ``checkpoint-N/`` folders beside the log (or beside the checkpoint folder the log is in);
* Lightning: ``epoch=E-step=S.ckpt`` files in ``checkpoints/`` beside ``metrics.csv`` (or in the folder);
* Keras: ``ModelCheckpoint`` files (``.keras``, ``.h5``, ``.hdf5``) named by epoch, beside the log or in
  ``checkpoints/``.

Then, for each loss event (with its cause from :mod:`lossdoc.advice.causes`): the last checkpoint saved
before it and the framework's resume call, the batches to skip and how, the change to the learning rate;
and the best checkpoint that still exists against the best point, with the checkpoints after it that
could be deleted to free disk. lossdoc never deletes anything, and never names a checkpoint that is not
on disk.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lossdoc.advice.model import BestPoint
from lossdoc.analysis.context import fmt_x
from lossdoc.history import LossHistory

HF_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
LIGHTNING_CHECKPOINT = re.compile(r"(?:.*[-_])?epoch=(\d+)[-_]step=(\d+)(?:[-_].*)?\.ckpt")
KERAS_CHECKPOINT = re.compile(r"(?:.*?)(?:epoch[=_-]?|[._-])(\d+)(?:[._-].*)?\.(?:keras|h5|hdf5)")
CHECKPOINT_DIRS = ("checkpoints",)

MAX_LISTED = 5_000
"""At most this many folder entries are looked at: a listing stays cheap even beside a dataset folder
(a real run keeps tens of checkpoints)."""
LISTINGS_CACHED = 64
"""Folder listings kept per process: the folders of the logs being read at once (a batch walks one
folder's logs together), small enough to hold no memory worth counting."""
LR_CUT = 3.0
"""The rate a resumed run uses after a blow-up is the logged rate divided by this: OPT-175B and others
restarted with the rate cut by a few times; a third is the middle of the 3-10x range the divergence
rule advises."""
STATE_HEAD_CHARS = 65_536
"""Characters read from the head of a ``trainer_state.json`` for ``best_model_checkpoint``: the sorted keys
before ``log_history`` take a few hundred; a million-step log is never parsed twice."""
BEST_KEY = re.compile(r'"best_model_checkpoint":\s*("(?:[^"\\]|\\.)*"|null)')
NEVER_DELETES = "a suggestion only: lossdoc never deletes anything"


@dataclass(frozen=True)
class Checkpoint:
    path: str
    """As found on disk, relative to the folder lossdoc was given (or absolute, as the log's path was)."""
    x: float
    """Where it was saved, in the log's x units (a step, or an epoch)."""
    framework: str


def find_checkpoints(history: LossHistory) -> tuple[Path | None, list[Checkpoint]]:
    """The output folder the log sits in and the checkpoints in it, oldest first (none: no folder)."""
    source = Path(history.source)
    try:
        folder = source if source.is_dir() else source.parent
        if not source.exists():
            return None, []
    except OSError:
        return None, []
    if HF_CHECKPOINT.fullmatch(folder.name):  # a trainer_state.json inside checkpoint-N/: the run's folder is above
        folder = folder.parent
    found: list[Checkpoint] = []
    epochs = history.x_name.lower() in ("epoch", "epochs")
    for base in (folder, *(folder / d for d in CHECKPOINT_DIRS)):
        for name, is_dir in _listing(base):
            if is_dir and (m := HF_CHECKPOINT.fullmatch(name)):
                found.append(Checkpoint(str(base / name), float(m.group(1)), "huggingface"))
            elif not is_dir and (m := LIGHTNING_CHECKPOINT.fullmatch(name)):
                # Lightning names the epoch and the optimizer steps done; a log by epoch counts epochs
                found.append(Checkpoint(str(base / name), float(m.group(1) if epochs else m.group(2)), "lightning"))
            elif not is_dir and epochs and (m := KERAS_CHECKPOINT.fullmatch(name)):
                # Keras formats {epoch} from 1; its CSVLogger counts epochs from 0
                found.append(Checkpoint(str(base / name), float(int(m.group(1)) - 1), "keras"))
    found.sort(key=lambda c: c.x)
    return folder, found


def plan(history: LossHistory, causes: list[dict[str, Any]], best: BestPoint | None) -> dict[str, Any] | None:
    """The recovery plan (the JSON ``advice.recovery``), or None when no checkpoint is on disk beside the log::

    {"folder", "checkpoints": [{"path", "x", "framework"}],
     "events": [{"rule", "x", "cause", "resume_from", "resume_x", "resume", "skip", "lr_change"}],
     "best": {"x", "checkpoint", "checkpoint_x", "exact", "best_model_checkpoint", "on_disk"} | None,
     "deletable": [path, ...], "note": str}
    """
    folder, checkpoints = find_checkpoints(history)
    if folder is None or not checkpoints:
        return None
    events = [_event_plan(c, checkpoints, history) for c in causes]
    keep = {e["resume_from"] for e in events if e["resume_from"]}
    best_out = _best(history, best, checkpoints, folder)
    deletable: list[str] = []
    if best_out is not None and best_out["checkpoint"] is not None:
        keep.add(best_out["checkpoint"])
        deletable = [c.path for c in checkpoints if c.x > best_out["x"] and c.path not in keep]
    return {
        "folder": str(folder),
        "checkpoints": [{"path": c.path, "x": c.x, "framework": c.framework} for c in checkpoints],
        "events": events,
        "best": best_out,
        "deletable": deletable,
        "note": NEVER_DELETES,
    }


def _listing(folder: Path) -> tuple[tuple[str, bool], ...]:
    """The folder's possible checkpoints (name, is a folder): listed once per process while it is unchanged
    (its mtime changes when an entry is added or removed), so 20,000 logs in one folder list it once."""
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        return ()
    return _listing_at(str(folder), mtime)


@lru_cache(maxsize=LISTINGS_CACHED)
def _listing_at(folder: str, _mtime_ns: int) -> tuple[tuple[str, bool], ...]:
    """The entries named as a checkpoint (a folder named checkpoint-N, a Lightning or Keras checkpoint file):
    the names of a folder of 5,000 logs are matched once, not once per log."""
    return tuple((name, is_dir) for name, is_dir in _entries(folder) if _may_be_checkpoint(name, is_dir))


def _may_be_checkpoint(name: str, is_dir: bool) -> bool:
    if is_dir:
        return HF_CHECKPOINT.fullmatch(name) is not None
    return bool(LIGHTNING_CHECKPOINT.fullmatch(name) or KERAS_CHECKPOINT.fullmatch(name))


def _entries(folder: str) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    try:
        with os.scandir(folder) as it:
            for i, entry in enumerate(it):
                if i >= MAX_LISTED:
                    break
                try:
                    out.append((entry.name, entry.is_dir(follow_symlinks=False)))
                except OSError:
                    continue
    except OSError:
        return []
    return out


def _event_plan(cause: dict[str, Any], checkpoints: list[Checkpoint], history: LossHistory) -> dict[str, Any]:
    """The last checkpoint saved before the event (strictly before its x: the one saved at that step may
    already hold the bad update), the resume call, the batches to skip and the rate to use."""
    x = float(cause["x"])
    before = [c for c in checkpoints if c.x < x]
    ckpt = before[-1] if before else None
    x_name = history.x_name
    skip = _skip(cause, ckpt, x_name) if cause["cause"] in ("data", "gradient", "unknown") else None
    return {
        "rule": cause["rule"],
        "x": x,
        "cause": cause["cause"],
        "resume_from": ckpt.path if ckpt else None,
        "resume_x": ckpt.x if ckpt else None,
        "resume": _resume_call(ckpt) if ckpt else None,
        "skip": skip,
        "lr_change": _lr_change(cause, history),
    }


def _resume_call(ckpt: Checkpoint) -> str:
    if ckpt.framework == "huggingface":
        return f'trainer.train(resume_from_checkpoint="{ckpt.path}")'
    if ckpt.framework == "lightning":
        return f'trainer.fit(model, datamodule=dm, ckpt_path="{ckpt.path}")'
    return f'model = keras.models.load_model("{ckpt.path}"); model.fit(..., initial_epoch={int(ckpt.x) + 1})'


def _skip(cause: dict[str, Any], ckpt: Checkpoint | None, x_name: str) -> dict[str, Any]:
    """The batches of the event's steps (from the logged point before it to it), and how to skip them."""
    a, x = (float(v) for v in cause["batch_steps"])
    which = f"{x_name} {fmt_x(x)}" if a == x else f"{x_name}s {fmt_x(a)}..{fmt_x(x)}"
    framework = ckpt.framework if ckpt else "generic"
    if framework == "huggingface":
        how = (
            f"resuming fast-forwards to the same place in the same data order, so the batch of {which} comes "
            "back at the same step; TrainingArguments(ignore_data_skip=True) starts the resumed epoch's data "
            "from its beginning instead (other batches at those steps, the bad one later in the epoch), so to "
            "be rid of it drop its examples from the dataset (the sampler's indices for those steps)"
        )
    elif framework == "lightning":
        steps = f"== {fmt_x(x)}" if a == x else f"in range({fmt_x(a)}, {fmt_x(x + 1)})"
        how = (
            f"return None from training_step when self.global_step {steps} (Lightning then skips that "
            "optimizer step); lightning.pytorch.callbacks.SpikeDetection records such batches in skip_batches.json"
        )
    else:
        how = f"skip the batch of {which} in the training loop (or drop those examples from the data)"
    return {"from": a, "to": x, "how": how}


def _lr_change(cause: dict[str, Any], history: LossHistory) -> str | None:
    import numpy as np

    kind = cause["cause"]
    if kind == "data":
        return "keep the learning rate: the batch, not the rate, moved the loss"
    if kind == "loss_scale":
        return None
    lr = history.lr
    rate = None
    if lr is not None:
        m = np.isfinite(lr.y) & (lr.x <= float(cause["x"]))
        if m.any():
            rate = float(lr.y[m][-1])
    if kind == "gradient":
        return "keep the learning rate and clip the gradient norm"
    if rate is not None and rate > 0:
        return f"resume with the learning rate cut to a third: from {rate:.3g} to {rate / LR_CUT:.3g}"
    return "resume with the learning rate cut to a third"


def _best(
    history: LossHistory, best: BestPoint | None, checkpoints: list[Checkpoint], folder: Path
) -> dict[str, Any] | None:
    recorded = _best_model_checkpoint(history)
    if best is None and recorded is None:
        return None
    out: dict[str, Any] = {
        "x": None,
        "checkpoint": None,
        "checkpoint_x": None,
        "exact": False,
        "best_model_checkpoint": None,
        "on_disk": None,
    }
    if best is not None:
        bx = float(best.x)
        nearest = min(checkpoints, key=lambda c: (abs(c.x - bx), -c.x))
        out.update(x=bx, checkpoint=nearest.path, checkpoint_x=nearest.x, exact=nearest.x == bx)
    if recorded is not None:
        name = Path(recorded).name
        here = next((c for c in checkpoints if Path(c.path).name == name), None)
        out["best_model_checkpoint"] = recorded
        out["on_disk"] = here.path if here else None
        if best is None and here is not None:
            out.update(x=here.x, checkpoint=here.path, checkpoint_x=here.x, exact=True)
    return out


def _best_model_checkpoint(history: LossHistory) -> str | None:
    """``best_model_checkpoint`` from the log when the log is a ``trainer_state.json``: the Trainer writes
    its keys sorted, so the key stands before the long ``log_history`` and the file's head is enough."""
    if history.format != "hf_trainer_state" or not history.source.endswith(".json"):
        return None
    try:
        with open(history.source, encoding="utf-8", errors="replace") as fh:
            head = fh.read(STATE_HEAD_CHARS)
    except OSError:
        return None
    m = BEST_KEY.search(head)
    if m is None:
        return None
    try:
        value = json.loads(m.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) and value else None
