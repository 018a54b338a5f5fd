"""TensorBoard event files (``events.out.tfevents.*``), read with the optional ``tensorboard`` package.

TensorFlow is never needed. The plugin ``EventAccumulator`` is used with size guidance 0 (keep
every point: the default keeps a reservoir *sample* of long runs) and with orphan purging off, so a
restarted run's repeated steps reach :func:`lossdoc.history.resolve_repeats` (later write wins,
reported in the run's notes) instead of being dropped silently. It migrates PyTorch's classic
``simple_value`` scalars and TF2/Keras tensor summaries alike to tensors of the ``scalars`` plugin,
so both are read the same way.

A run is a folder of event files (all files in it, in write order) or one event file. The Keras
callback writes ``train/`` and ``validation/`` folders holding the same tags (``epoch_loss``): they
are read as one run whose split comes from the folder; both series carry the tag as written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest import LogRef, NotALog
from lossdoc.ingest.frame import histories_from_points
from lossdoc.ingest.source import RawInput

FORMAT = "tensorboard"
INSTALL_HINT = "TensorBoard event file; install the extra: pip install 'lossdoc[tensorboard]'"
SCALARS_PLUGIN = "scalars"
VALIDATION_PREFIX = "validation/"  # internal name of a paired validation folder's tags, for role inference


@contextlib.contextmanager
def _quiet_tensorboard() -> Iterator[None]:
    """TensorBoard logs warnings (duplicate graphs, truncated records) that are not the user's business."""
    logger = logging.getLogger("tensorboard")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_scalars(path: str, source: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar tag under ``path`` (an event file or a folder of them) with all of its points."""
    try:
        from tensorboard.backend.event_processing import plugin_event_accumulator as pea
        from tensorboard.util import tensor_util
    except ImportError:
        raise LossdocError(source, INSTALL_HINT) from None

    accumulator = pea.EventAccumulator(
        path,
        size_guidance={pea.TENSORS: 0},
        tensor_size_guidance={SCALARS_PLUGIN: 0},
        purge_orphaned_data=False,
    )
    with _quiet_tensorboard():
        try:
            accumulator.Reload()
        except Exception as exc:  # the protobuf/record layer raises many types for a damaged file
            raise LossdocError(source, f"cannot read TensorBoard events ({type(exc).__name__}: {exc})") from None
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for tag in accumulator.Tags().get("tensors", []):
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name != SCALARS_PLUGIN:
            continue
        events = accumulator.Tensors(tag)
        steps = np.fromiter((e.step for e in events), dtype=np.float64, count=len(events))
        values = np.empty(len(events), dtype=np.float64)
        for i, e in enumerate(events):
            arr = tensor_util.make_ndarray(e.tensor_proto)
            values[i] = float(arr.reshape(-1)[0]) if arr.size == 1 else np.nan
        out[tag] = (steps, values)
    return out


def read_tensorboard_folder(ref: LogRef, overrides: dict[str, str | None]) -> list[LossHistory]:
    """A TensorBoard run folder, or Keras's train/ folder paired with its validation/ folder."""
    source = ref.source or ref.path
    name = ref.name or Path(source).name
    tags = load_scalars(ref.path, source)
    if not tags:
        raise NotALog(source, "TensorBoard events hold no scalar values")
    display: dict[str, str] = {}
    notes: list[str] = []
    if ref.validation is not None:
        val_dir = Path(ref.validation)
        for tag, points in load_scalars(ref.validation, source).items():
            internal = VALIDATION_PREFIX + tag
            tags[internal] = points
            display[internal] = tag
        notes.append(f"train series from {Path(ref.path).name}/, validation series from {val_dir.name}/")
    return histories_from_points(
        tags, source=source, fmt=FORMAT, name=name, overrides=overrides, display=display, notes=notes
    )


def _event_file_run_name(path: Path) -> str:
    parent = path.parent
    if parent.name in ("train", "validation", "val", "eval") and parent.parent.name:
        return f"{parent.parent.name}/{parent.name}"
    return parent.name or path.name


def read_tfevents(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    """One event file named on the command line (or piped in)."""
    name = raw.run_name or (_event_file_run_name(raw.path) if raw.path is not None else "stdin")
    if raw.path is not None:
        tags = load_scalars(str(raw.path), raw.source)
    else:
        # The reader needs a file name with "tfevents" in it: stdin and gzip data go through a temp file.
        fd, tmp = tempfile.mkstemp(prefix="events.out.tfevents.lossdoc.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw.data)
            tags = load_scalars(tmp, raw.source)
        finally:
            os.unlink(tmp)
    if not tags:
        raise NotALog(raw.source, "TensorBoard events hold no scalar values")
    return histories_from_points(tags, source=raw.source, fmt=FORMAT, name=name, overrides=overrides)
