"""TensorBoard event files (``events.out.tfevents.*``), read with the optional ``tensorboard`` package.

TensorFlow is never needed. The plugin ``EventAccumulator`` is used with size guidance 0 (keep
every point: the default keeps a reservoir *sample* of long runs) and with orphan purging off, so a
restarted run's repeated steps reach :func:`lossdoc.history.resolve_repeats` (later write wins,
reported in the run's notes) instead of being dropped silently. It migrates PyTorch's classic
``simple_value`` scalars and TF2/Keras tensor summaries alike to tensors of the ``scalars`` plugin,
so both are read the same way.

Event records are read here, not by TensorBoard's reader, which stops without a word at the first
record that fails its checksum or is cut off: one flipped byte lost 55 of 60 points. Here a damaged
record is skipped, the records after it are read, and the run says what was lost
(:func:`_records`); a file of which nothing can be trusted is an input error.

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
from lossdoc.ingest.base import LogRef, NotALog
from lossdoc.ingest.histories import histories_from_points
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


RECORD_HEADER = 12
"""A record: its length (8 bytes) and that length's checksum (4), the data, the data's checksum (4)."""
MAX_RESYNC_BYTES = 1024 * 1024
"""After a record whose length fails its checksum, the next record is searched for this far (a
checksum per byte offset, in Python: slow, see benchmarks/README.md); a file damaged beyond that is read up to
the damage, with a note."""


class _Damage:
    """What the records of one run's event files lost, for its notes."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.good = 0
        self.bad = 0


def _records(path: str, damage: _Damage) -> Iterator[bytes]:
    """The records of one event file that pass their checksums; what is skipped goes to ``damage``."""
    import struct

    # start-up time: tensorboard only for event files
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    from lossdoc.ingest.source import read_limited

    name = Path(path).name
    data = read_limited(path)
    n, pos, skipped = len(data), 0, 0

    def valid_header(p: int) -> bool:
        if p + RECORD_HEADER > n:
            return False
        (crc,) = struct.unpack_from("<I", data, p + 8)
        return masked_crc32c(data[p : p + 8]) == crc

    while pos < n:
        if pos + RECORD_HEADER > n:
            damage.notes.append(f"{name} ends inside a record at byte {pos:,} (cut off while being written?)")
            break
        if not valid_header(pos):
            start = pos
            pos = next((p for p in range(pos + 1, min(n, pos + MAX_RESYNC_BYTES)) if valid_header(p)), n)
            skipped += 1
            if pos >= n:
                damage.notes.append(f"{name}: bytes {start:,} to {n:,} are damaged and could not be read")
                break
            continue
        (length,) = struct.unpack_from("<Q", data, pos)
        end = pos + RECORD_HEADER + length
        if end + 4 > n:
            damage.notes.append(f"{name} ends inside a record at byte {pos:,} (cut off while being written?)")
            break
        record = data[pos + RECORD_HEADER : end]
        (crc,) = struct.unpack_from("<I", data, end)
        pos = end + 4
        if masked_crc32c(record) != crc:
            skipped += 1
            continue
        damage.good += 1
        yield record
    if skipped:
        damage.bad += skipped
        damage.notes.append(
            f"{name}: skipped {skipped} damaged record{'s' if skipped != 1 else ''} (checksum mismatch); "
            "what they held is missing"
        )


class _TolerantLoader:
    """TensorBoard's ``EventFileLoader`` (events migrated the same way) over :func:`_records`."""

    def __init__(self, path: str, damage: _Damage) -> None:
        self.path = path
        self.damage = damage
        self.loaded = False
        self.initial_metadata: dict = {}

    def Load(self) -> Iterator[object]:  # TensorBoard's loader interface
        # start-up time: tensorboard only for event files
        from google.protobuf.message import DecodeError
        from tensorboard import data_compat, dataclass_compat
        from tensorboard.compat.proto import event_pb2

        if self.loaded:
            return
        self.loaded = True
        for record in _records(self.path, self.damage):
            try:
                event = event_pb2.Event.FromString(record)
            except DecodeError:
                self.damage.good -= 1
                self.damage.bad += 1
                self.damage.notes.append(f"{Path(self.path).name}: skipped a record that is not an event")
                continue
            yield from dataclass_compat.migrate_event(data_compat.migrate_event(event), self.initial_metadata)


def load_scalars(path: str, source: str, notes: list[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar tag under ``path`` (an event file or a folder of them) with all of its points;
    what damaged records lost is added to ``notes``."""
    try:
        # start-up time: tensorboard only for event files
        from tensorboard.backend.event_processing import directory_watcher, io_wrapper
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
    damage = _Damage()
    if io_wrapper.IsSummaryEventsFile(path):
        accumulator._generator = _TolerantLoader(path, damage)
    else:
        accumulator._generator = directory_watcher.DirectoryWatcher(
            path, lambda p: _TolerantLoader(p, damage), io_wrapper.IsSummaryEventsFile
        )
    with _quiet_tensorboard():
        try:
            accumulator.Reload()
        except LossdocError:
            raise
        except Exception as exc:  # the protobuf/record layer raises many types for a damaged file
            raise LossdocError(source, f"cannot read TensorBoard events ({type(exc).__name__}: {exc})") from None
    if damage.notes and damage.good == 0:
        raise LossdocError(source, f"damaged TensorBoard event file: no record can be read ({damage.notes[0]})")
    if notes is not None:
        notes.extend(damage.notes)
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
    notes: list[str] = []
    tags = load_scalars(ref.path, source, notes)
    if not tags:
        _no_scalars(source, notes)
    display: dict[str, str] = {}
    if ref.validation is not None:
        val_dir = Path(ref.validation)
        for tag, points in load_scalars(ref.validation, source, notes).items():
            internal = VALIDATION_PREFIX + tag
            tags[internal] = points
            display[internal] = tag
        notes.append(f"train series from {Path(ref.path).name}/, validation series from {val_dir.name}/")
    return histories_from_points(
        tags, source=source, fmt=FORMAT, name=name, overrides=overrides, display=display, notes=notes
    )


def _no_scalars(source: str, notes: list[str]) -> None:
    if notes:  # what was lost may have held them: not a file to skip quietly
        raise LossdocError(source, f"damaged TensorBoard event file: no scalar values can be read ({notes[0]})")
    raise NotALog(source, "TensorBoard events hold no scalar values")


def _event_file_run_name(path: Path) -> str:
    parent = path.parent
    if parent.name in ("train", "validation", "val", "eval") and parent.parent.name:
        return f"{parent.parent.name}/{parent.name}"
    return parent.name or path.name


def read_tfevents(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    """One event file named on the command line (or piped in)."""
    name = raw.run_name or (_event_file_run_name(raw.path) if raw.path is not None else "stdin")
    notes: list[str] = []
    if raw.path is not None:
        tags = load_scalars(str(raw.path), raw.source, notes)
    else:
        # The reader needs a file name with "tfevents" in it: stdin and gzip data go through a temp file.
        fd, tmp = tempfile.mkstemp(prefix="events.out.tfevents.lossdoc.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw.data)
            tags = load_scalars(tmp, raw.source, notes)
        finally:
            os.unlink(tmp)
    if not tags:
        _no_scalars(raw.source, notes)
    return histories_from_points(tags, source=raw.source, fmt=FORMAT, name=name, overrides=overrides, notes=notes)
