"""A run's hyperparameters, from what its framework left beside the log and from its folder names.

Read, nearest first (a nearer source wins a key): the run folder's name and its parents' names up to
the folder searched (``lr=3e-4_bs=64``, also ``lr-3e-4`` is not: only ``key=value`` pairs count);
HuggingFace ``training_args.json`` and ``trainer_state.json`` (``train_batch_size``); Lightning
``hparams.yaml``; Keras / W&B ``config.yaml`` (W&B's ``key: {value: v}`` form too); MLflow's
``params/`` folder (one file per parameter). Common spellings are folded into one name
(``learning_rate`` → ``lr``, ``per_device_train_batch_size`` → ``batch_size``), so runs of different
frameworks group together.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

Value = float | str
ALIASES = {
    "learning_rate": "lr",
    "learning-rate": "lr",
    "bs": "batch_size",
    "batch-size": "batch_size",
    "per_device_train_batch_size": "batch_size",
    "train_batch_size": "batch_size",
    "wd": "weight_decay",
}
PAIR = re.compile(r"(?:^|[_,;\s/])([A-Za-z][A-Za-z0-9.\-]*)=([^_,;\s/=]+)")
SIDE_FILES = ("config.yaml", "hparams.yaml", "training_args.json", "trainer_state.json")
MAX_SIDE_BYTES = 1 << 20
"""A side file larger than this is not a config (it is skipped)."""


def _value(text: str) -> Value:
    t = text.strip().strip("'\"")
    try:
        return float(t)
    except ValueError:
        return t


def _key(k: str) -> str:
    k = k.strip()
    return ALIASES.get(k.lower(), k)


def from_name(name: str) -> dict[str, Value]:
    """``lr=3e-4_bs=64`` → ``{"lr": 0.0003, "batch_size": 64.0}``."""
    return {_key(k): _value(v) for k, v in PAIR.findall(name)}


def _flat_yaml(text: str) -> dict[str, Value]:
    """Top-level ``key: value`` pairs of a YAML file, and W&B's ``key:`` / ``  value: v``; nothing else
    (no YAML library is needed for the scalar settings a sweep varies)."""
    out: dict[str, Value] = {}
    pending: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indented = line[0] in " \t"
        key, sep, rest = line.strip().partition(":")
        if not sep:
            continue
        if not indented:
            pending = None
            if rest.strip():
                out[_key(key)] = _value(rest.split(" #")[0])
            else:
                pending = key
        elif pending is not None and key.strip() == "value" and rest.strip():
            out[_key(pending)] = _value(rest.split(" #")[0])
    return out


def _json_scalars(text: str) -> dict[str, Value]:
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    out: dict[str, Value] = {}
    for k, v in doc.items():
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (int, float)):
            out[_key(k)] = float(v)
        elif isinstance(v, str) and len(v) < 100:
            out[_key(k)] = v
    return out


@functools.lru_cache(maxsize=4096)
def _side_params(folder: Path) -> dict[str, Value]:
    """Cached per folder: the runs of a sweep share their parent, which is looked at once."""
    out: dict[str, Value] = {}
    try:
        present = set(os.listdir(folder)) if folder.is_dir() else set()
    except OSError:
        return out
    for name in SIDE_FILES:
        if name not in present:
            continue
        f = folder / name
        try:
            if not f.is_file() or f.stat().st_size > MAX_SIDE_BYTES:
                continue
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if name == "trainer_state.json":
            got = _json_scalars(text)
            got = {k: v for k, v in got.items() if k == "batch_size"}  # the rest is the log itself
        elif name.endswith(".json"):
            got = _json_scalars(text)
        else:
            got = _flat_yaml(text)
        for k, v in got.items():
            out.setdefault(k, v)
    params = folder / "params"
    if "meta.yaml" in present and "params" in present and params.is_dir():  # an MLflow run
        for f in sorted(params.iterdir())[:200]:
            try:
                out.setdefault(_key(f.name), _value(f.read_text(encoding="utf-8", errors="replace")[:100]))
            except OSError:
                continue
    return out


def forget() -> None:
    """Drop the cached side files (a long-lived process reading a sweep again sees them anew)."""
    _side_params.cache_clear()


def run_params(source: str) -> dict[str, Value]:
    """The hyperparameters of the run logged at ``source`` (a file or a run folder)."""
    if source.startswith("<") or source == "-":
        return {}
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    out: dict[str, Value] = {}
    if not path.is_dir():
        out.update(from_name(path.stem))
    for level, f in enumerate([folder, *folder.parents][:4]):
        for k, v in from_name(f.name).items():
            out.setdefault(k, v)
        if level < 2:  # a log's own folder and its parent (Lightning's version_N/, HF's checkpoint-N/)
            for k, v in _side_params(f).items():
                out.setdefault(k, v)
    return out
