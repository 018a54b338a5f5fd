"""Ingest: paths in, LossHistory runs out; every problem becomes an InputError value, never a crash.

``load_paths`` expands globs and directories, recognises each file's format from its content
(:mod:`lossdoc.ingest.detect`) and hands it to that format's reader. Readers raise
:class:`LossdocError`; here it is caught per file, so one bad file never stops the others.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory

Overrides = dict[str, "str | None"]
Reader = Callable[..., list[LossHistory]]


@dataclass(frozen=True)
class InputError:
    source: str
    message: str


LOG_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".log", ".txt", ".gz")
SKIP_DIRS = frozenset({".git", ".venv", "venv", "__pycache__", "node_modules", ".ipynb_checkpoints", "wandb"})
SKIP_NAMES = frozenset(
    {
        "hparams.yaml",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "generation_config.json",
        "vocab.json",
        "meta.yaml",
        "requirements.txt",
        "README.txt",
        "args.json",
        "training_args.json",
        "model.safetensors.index.json",
        "adapter_config.json",
        "preprocessor_config.json",
    }
)


def read_one(spec: str, overrides: Overrides | None = None) -> list[LossHistory]:
    """Read one input (a file path or ``-``) into its runs. Raises LossdocError."""
    from lossdoc.ingest.detect import reader_for
    from lossdoc.ingest.source import open_input

    raw = open_input(spec)
    reader = reader_for(raw)
    try:
        return reader(raw, dict(overrides or {}))
    except LossdocError:
        raise
    except RecursionError:
        raise LossdocError(raw.source, "input nested too deeply") from None
    except MemoryError:
        raise LossdocError(raw.source, "input too large to read into memory") from None


def discover(directory: Path) -> list[Path]:
    """Loss logs under a folder, in a stable order; hidden and tool folders are skipped, links not followed."""
    found: list[Path] = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for f in sorted(files):
            if f in SKIP_NAMES or f.startswith("."):
                continue
            if f.lower().endswith(LOG_SUFFIXES):
                found.append(Path(root) / f)
    return found


def expand(specs: Iterable[str]) -> tuple[list[str], list[InputError]]:
    """Paths to read from the command line's arguments: globs expanded, directories searched."""
    out: list[str] = []
    errors: list[InputError] = []
    for spec in specs:
        if spec == "-":
            out.append(spec)
            continue
        matches = sorted(glob.glob(spec, recursive=True)) if glob.has_magic(spec) else [spec]
        if not matches:
            errors.append(InputError(spec, "no file matches this pattern"))
        for m in matches:
            p = Path(m)
            if p.is_dir():
                logs = discover(p)
                if not logs:
                    errors.append(InputError(m, "no loss logs found in this folder"))
                out.extend(str(f) for f in logs)
            else:
                out.append(m)
    return out, errors


def load_paths(specs: Iterable[str], overrides: Overrides | None = None) -> tuple[list[LossHistory], list[InputError]]:
    files, errors = expand(specs)
    runs: list[LossHistory] = []
    for f in files:
        try:
            runs.extend(read_one(f, overrides))
        except LossdocError as exc:
            errors.append(InputError(exc.source, exc.message))
    return runs, errors
