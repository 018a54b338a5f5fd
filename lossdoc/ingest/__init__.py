"""Ingest: paths in, LossHistory runs out; every problem becomes an InputError value, never a crash.

``load_paths`` expands globs and directories into :class:`LogRef` items — a file, whose format is
recognised from its content (:mod:`lossdoc.ingest.readers`), or a log *folder* (a TensorBoard run
folder, an MLflow run) — and hands each to its reader. Readers raise :class:`LossdocError`; here it
is caught per log, so one bad file never stops the others.

A folder is searched like this: every file with a log suffix is a candidate; a folder holding
``events.out.tfevents.*`` files is one TensorBoard run (Keras's ``train/`` and ``validation/``
sub-folders are paired into one run); a folder with ``metrics/`` and ``meta.yaml`` is one MLflow
run; of a HuggingFace output folder's ``checkpoint-N/`` folders only the latest is read (none when
the output folder has its own ``trainer_state.json``); a byte-identical copy of a log in the same
folder (mmengine writes ``scalars.json`` and ``<timestamp>.json``) is read once. Each run found is
named by its path relative to the folder searched.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory, unmask_hidden_nan
from lossdoc.ingest.base import InputError as InputError
from lossdoc.ingest.base import LogRef, NotALog, Overrides, is_event_file
from lossdoc.ingest.base import Reader as Reader
from lossdoc.ingest.names import GENERIC_LOG_STEMS, LOG_SUFFIXES, distinct_names, log_stem
from lossdoc.ingest.readers import reader_for
from lossdoc.ingest.source import open_input

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
        "vocab.txt",
        "merges.txt",
        "added_tokens.json",
        "meta.yaml",
        "requirements.txt",
        "README.txt",
        "args.json",
        "training_args.json",
        "model.safetensors.index.json",
        "adapter_config.json",
        "preprocessor_config.json",
        "all_results.json",
        "train_results.json",
        "eval_results.json",
        "test_results.json",
        "predict_results.json",
        "classes.txt",
    }
)
CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+)")
KERAS_TB_TRAIN = "train"
KERAS_TB_VALIDATION = ("validation", "val", "eval")


def read_ref(ref: LogRef, overrides: Overrides | None = None) -> list[LossHistory]:
    """Read one log (file, ``-``, TensorBoard folder or MLflow run) into its runs. Raises LossdocError."""
    ov = dict(overrides or {})
    try:
        with warnings.catch_warnings():
            # A library's warning (pandas' ParserWarning on a ragged row, ...) must not become a second
            # stderr line: whatever matters about the input is an error or a run note.
            warnings.simplefilter("ignore")
            runs = _read_ref(ref, ov)
        if ref.kind != "file":  # a file's runs were unmasked by read_one
            for run in runs:
                unmask_hidden_nan(run)
        return runs
    except LossdocError:
        raise
    except RecursionError:
        raise LossdocError(ref.source or ref.path, "input nested too deeply") from None
    except MemoryError:
        raise LossdocError(ref.source or ref.path, "input too large to read into memory") from None
    except Exception as exc:  # a reader's bug must cost one file, never the whole call
        raise LossdocError(
            ref.source or ref.path, f"internal error while reading this file ({type(exc).__name__}: {exc})"
        ) from None


def _read_ref(ref: LogRef, ov: Overrides) -> list[LossHistory]:
    if ref.kind == "tensorboard":
        from lossdoc.ingest.tensorboard import read_tensorboard_folder

        return read_tensorboard_folder(ref, ov)
    if ref.kind == "mlflow":
        from lossdoc.ingest.mlflow import read_mlflow_run

        return read_mlflow_run(ref, ov)
    runs = read_one(ref.path, ov, name=ref.name)
    for run in runs:
        run.notes.extend(f"skipped {twin}: a byte-identical copy of this log" for twin in ref.twins)
    return runs


def read_one(spec: str, overrides: Overrides | None = None, *, name: str | None = None) -> list[LossHistory]:
    """Read one input (a file path or ``-``) into its runs. Raises LossdocError."""
    from lossdoc.ingest.mlflow_rest import is_mlflow_url
    from lossdoc.ingest.mlflow_sqlite import is_mlflow_sqlite

    if is_mlflow_url(spec):
        from lossdoc.ingest.mlflow_rest import read_mlflow_server

        return read_mlflow_server(spec, dict(overrides or {}))
    if is_mlflow_sqlite(spec):
        from lossdoc.ingest.mlflow_sqlite import read_mlflow_sqlite

        return read_mlflow_sqlite(spec, dict(overrides or {}), name=name)
    if spec != "-" and Path(spec).is_dir():
        runs: list[LossHistory] = []
        for ref in discover(Path(spec)):
            runs.extend(read_ref(ref, overrides))
        return runs
    raw = open_input(spec)
    raw.run_name = name
    reader = reader_for(raw)
    try:
        runs = reader(raw, dict(overrides or {}))
        for run in runs:
            run.notes[:0] = raw.notes  # what was repaired on the way in (zero bytes cut, gzip cut short)
            unmask_hidden_nan(run)
        return runs
    except LossdocError:
        raise
    except RecursionError:
        raise LossdocError(raw.source, "input nested too deeply") from None
    except MemoryError:
        raise LossdocError(raw.source, "input too large to read into memory") from None


def _relative_name(path: Path, top: Path) -> str | None:
    """A run's name from its folder's path relative to the folder searched; None for that folder itself."""
    rel = path.relative_to(top).as_posix()
    return None if rel == "." else rel


def _file_run_name(file: Path, top: Path) -> str | None:
    """A found file's run name: its relative path, without the file name when that name is generic."""
    parent = file.parent
    in_checkpoint = CHECKPOINT_DIR.fullmatch(parent.name) is not None and parent != top
    if in_checkpoint:
        parent = parent.parent  # checkpoint-N/trainer_state.json belongs to the output folder
    stem = log_stem(file.name)
    if in_checkpoint and parent == top:
        return top.resolve().name
    if in_checkpoint or stem.lower() in GENERIC_LOG_STEMS:
        return _relative_name(parent, top)
    return stem if parent == top else f"{parent.relative_to(top).as_posix()}/{stem}"


def _has_events(folder: Path) -> bool:
    try:
        return any(is_event_file(e.name) and e.is_file() for e in os.scandir(folder))
    except OSError:
        return False


def _is_mlflow_run(dirs: list[str], files: list[str]) -> bool:
    return "metrics" in dirs and "meta.yaml" in files


def _checkpoint_number(name: str) -> int:
    m = CHECKPOINT_DIR.fullmatch(name)
    return int(m.group(1)) if m else -1


class _Twins:
    """Byte-identical files in one folder, in linear time: sizes first, a hash only when two sizes
    match, then a look-up by digest (comparing each file with every earlier one of its size is quadratic:
    slow on a folder of thousands of same-size logs, see benchmarks/README.md)."""

    def __init__(self) -> None:
        self.by_size: dict[int, Path | None] = {}
        """The first file of each size, until a second one makes it hashed (then None)."""
        self.by_digest: dict[tuple[int, bytes], Path] = {}

    def twin_of(self, path: Path) -> Path | None:
        """The earlier file with the same bytes as ``path``, or None (and ``path`` is remembered)."""
        try:
            st = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # reading a named pipe would block forever
        size = st.st_size
        if size not in self.by_size:
            self.by_size[size] = path  # the only one of its size so far: no need to read it
            return None
        first = self.by_size[size]
        if first is not None:
            self.by_size[size] = None
            digest = _digest(first)
            if digest is not None:
                self.by_digest.setdefault((size, digest), first)
        digest = _digest(path)
        if digest is None:
            return None
        earlier = self.by_digest.get((size, digest))
        if earlier is None:
            self.by_digest[(size, digest)] = path
        return earlier


def _digest(path: Path) -> bytes | None:
    """The file's SHA-256, read a megabyte at a time (two same-size files may be large)."""
    import hashlib  # here: OpenSSL's start-up is only paid by folders with same-size files

    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
    except OSError:
        return None
    return digest.digest()


def discover(directory: Path) -> list[LogRef]:
    """Logs under a folder, in a stable order; hidden and tool folders are skipped, links not followed."""
    found: list[LogRef] = []
    paired: set[Path] = set()
    for root, dirs, files in os.walk(directory, followlinks=False):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if _is_mlflow_run(dirs, files):
            found.append(LogRef(str(here), "mlflow", name=_relative_name(here, directory), found=True))
            dirs[:] = []
            continue
        checkpoints = [d for d in dirs if CHECKPOINT_DIR.fullmatch(d)]
        if checkpoints:
            # Every checkpoint-N/ holds the whole trainer state up to N: read the latest one, once.
            latest = [] if "trainer_state.json" in files else [max(checkpoints, key=_checkpoint_number)]
            dirs[:] = [d for d in dirs if d not in checkpoints or d in latest]
        if KERAS_TB_TRAIN in dirs and _has_events(here / KERAS_TB_TRAIN):
            val = next((here / d for d in KERAS_TB_VALIDATION if d in dirs and _has_events(here / d)), None)
            found.append(
                LogRef(
                    str(here / KERAS_TB_TRAIN),
                    "tensorboard",
                    name=_relative_name(here, directory),
                    validation=str(val) if val else None,
                    source=str(here),
                    found=True,
                )
            )
            paired.add(here / KERAS_TB_TRAIN)
            if val is not None:
                paired.add(val)
        if here not in paired and any(is_event_file(f) for f in files):
            found.append(LogRef(str(here), "tensorboard", name=_relative_name(here, directory), found=True))
        twins = _Twins()
        kept: dict[Path, int] = {}  # a file read -> its place in ``found``
        # mmengine prints its run to <timestamp>.log and writes the same points to vis_data/: read them once.
        mmengine_text = "vis_data" in dirs and (here / "vis_data" / "scalars.json").is_file()
        # A framework's own log name first, so that of two identical files that one is kept.
        for f in sorted(files, key=lambda f: (f.split(".")[0].lower() not in GENERIC_LOG_STEMS, f)):
            if f in SKIP_NAMES or f.startswith(".") or is_event_file(f) or not f.lower().endswith(LOG_SUFFIXES):
                continue
            if mmengine_text and f.endswith(".log"):
                continue
            path = here / f
            twin = twins.twin_of(path)
            if twin is not None:  # read once; the run read says which copy was not
                i = kept[twin]
                found[i] = dataclasses.replace(found[i], twins=(*found[i].twins, str(path)))
                continue
            kept[path] = len(found)
            found.append(LogRef(str(path), name=_file_run_name(path, directory), found=True))
    return found


def glob_paths(pattern: str) -> list[str]:
    """The paths matching a glob pattern, sorted; ``**`` is any depth of folders.

    Python's own recursive glob follows symbolic links to folders, so two links back up the tree
    make it enumerate an exponential number of paths (it never ends); here ``**`` walks the tree
    without following links, like a folder search does.
    """
    if "**" not in pattern:
        return sorted(glob.glob(pattern))
    parts = pattern.split("/")
    first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root = "/".join(parts[:first]) or ("/" if pattern.startswith("/") else ".")
    wanted = parts[first:]
    found: list[str] = []
    for here, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = [] if here == root else os.path.relpath(here, root).split(os.sep)
        for name in dirs + files:
            if _glob_match(wanted, [*rel, name]):
                path = os.path.join(here, name)
                found.append(path[2:] if root == "." and not pattern.startswith("./") else path)
    return sorted(found)


def _glob_match(pattern: list[str], parts: list[str]) -> bool:
    """Whether path ``parts`` match pattern components (``**`` = zero or more components)."""
    import fnmatch
    from functools import cache

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(parts)
        if pattern[i] == "**":
            return match(i + 1, j) or (j < len(parts) and not parts[j].startswith(".") and match(i, j + 1))
        if j == len(parts) or (parts[j].startswith(".") and not pattern[i].startswith(".")):
            return False
        return fnmatch.fnmatchcase(parts[j], pattern[i]) and match(i + 1, j + 1)

    return match(0, 0)


def expand(specs: Iterable[str]) -> tuple[list[LogRef], list[InputError]]:
    """Logs to read from the command line's arguments: globs expanded, directories searched."""
    out: list[LogRef] = []
    errors: list[InputError] = []
    for spec in specs:
        if spec == "-":
            out.append(LogRef(spec))
            continue
        # A name that exists is that file, even if it looks like a pattern ("run[1].csv").
        literal = not glob.has_magic(spec) or os.path.lexists(spec)
        matches = [spec] if literal else glob_paths(spec)
        if not matches:
            errors.append(InputError(spec, "no file matches this pattern"))
        for m in matches:
            p = Path(m)
            if p.is_dir():
                logs = discover(p)
                if not logs:
                    errors.append(InputError(m, "no loss logs found in this folder"))
                out.extend(logs)
            else:
                out.append(LogRef(m))
    return out, errors


def read_logged(ref: LogRef, overrides: Overrides | None = None) -> tuple[list[LossHistory], list[InputError]]:
    """One log's runs, or the error that stops it; a found file that holds no series is skipped quietly."""
    try:
        return read_ref(ref, overrides), []
    except NotALog as exc:
        return [], [] if ref.found else [InputError(exc.source, exc.message)]
    except LossdocError as exc:
        return [], [InputError(exc.source, exc.message)]


ReadAll = Callable[[list[LogRef], "Overrides | None"], Iterable[tuple[list, list[InputError]]]]


def _read_one_by_one(refs: list[LogRef], overrides: Overrides | None) -> Iterable[tuple[list, list[InputError]]]:
    return (read_logged(ref, overrides) for ref in refs)


def load_paths(
    specs: Iterable[str], overrides: Overrides | None = None, read_all: ReadAll | None = None
) -> tuple[list, list[InputError]]:
    """The runs of every log the command line names, and every problem, both in command-line order.

    Every argument is expanded first; ``read_all`` then turns the logs into ``(runs, errors)`` per
    log, in order: :func:`read_logged` one by one unless the caller passes its own (the CLI reads and
    analyses many logs in a process pool, and its "runs" are then diagnoses). Runs of different
    arguments that would share a name are told apart by their paths (see ``distinct_names``).
    """
    planned = [(spec, *expand([spec])) for spec in specs]
    results = iter((read_all or _read_one_by_one)([r for _, refs, _ in planned for r in refs], overrides))
    runs: list = []
    errors: list[InputError] = []
    named: list[tuple[str, LossHistory]] = []
    for spec, refs, spec_errors in planned:
        errors.extend(spec_errors)
        before = (len(runs), len(errors))
        for _ in refs:
            ref_runs, ref_errors = next(results)
            runs.extend(ref_runs)
            named += [(spec, h) for h in (getattr(r, "history", r) for r in ref_runs) if isinstance(h, LossHistory)]
            errors.extend(ref_errors)
        if refs and all(r.found for r in refs) and (len(runs), len(errors)) == before:
            errors.append(InputError(spec, "no loss logs found in this folder"))
    distinct_names(named)
    return runs, errors
