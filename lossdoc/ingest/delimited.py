"""Delimited text logs: plain CSV/TSV and the framework CSVs that are CSV underneath.

Keras CSVLogger, Lightning ``metrics.csv``, Ultralytics ``results.csv`` (space-padded headers),
fastai ``history.csv`` (header repeated on append), TensorBoard "Download CSV" and W&B exports
differ only in their column names and quirks, so one reader handles them and names the format
from the header.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from lossdoc.errors import LossdocError, first_line
from lossdoc.history import LossHistory
from lossdoc.ingest.base import NotALog
from lossdoc.ingest.frame import (
    MISSING_TOKENS,
    Frame,
    check_columns,
    frame_from_pandas,
)
from lossdoc.ingest.histories import histories_from_frame
from lossdoc.ingest.plain_csv import (
    clean_name,
    incomplete_last_line,
    needs_decoding,
    read_small_frame,
)
from lossdoc.ingest.source import SNIFF_BYTES, RawInput

DELIMITERS = (",", "\t", ";", "|")
MAX_HEADER_BYTES = 1024 * 1024
"""A header line longer than this is refused before the file is parsed: ten thousand columns of
long names fit in a tenth of it, and pandas takes minutes over a 50 MB file with no line break."""


def sniff_delimiter(head: str) -> str:
    """The delimiter that splits the header and the first data lines into the same number of fields."""
    lines = [ln for ln in head.splitlines()[:20] if ln.strip()][:8]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sniff window may cut the last line
    best, best_score = ",", 0
    for d in DELIMITERS:
        counts = [ln.count(d) for ln in lines]
        if not counts or counts[0] == 0:
            continue
        score = sum(c == counts[0] for c in counts) * 100 + counts[0]
        if score > best_score:
            best, best_score = d, score
    if best_score == 0 and lines and len(lines[0].split()) > 1:
        return r"\s+"
    return best


def name_format(names: list[str]) -> str:
    """Which framework wrote a CSV with these (stripped) column names."""
    lower = [n.lower() for n in names]
    s = set(lower)
    if lower[:3] == ["wall time", "step", "value"]:
        return "tb_csv"
    if any(n.endswith(("__min", "__max")) for n in lower) or any(" - " in n for n in names):
        return "wandb_csv"
    if "_step" in s and ("_runtime" in s or "_timestamp" in s):
        return "wandb_csv"
    if any(n.startswith("train/") for n in lower) and any(n.startswith(("metrics/", "lr/pg", "x/lr")) for n in lower):
        return "yolo_csv"
    if lower[:2] == ["epoch", "train_loss"] and ("valid_loss" in s or "time" in s):
        return "fastai_csv"
    if "epoch" in s and "step" in s:
        return "lightning_csv"
    if (lower and lower[0] == "epoch") or any(n.startswith("val_") for n in lower):
        return "keras_csv"
    return "csv"


def read_frame(raw: RawInput) -> Frame:
    head = raw.head_text()
    delim = sniff_delimiter(head)
    check_header(raw, delim)
    small = read_small_frame(raw, delim)
    if small is not None:
        return small
    return read_frame_pandas(raw, delim)


def check_header(raw: RawInput, delim: str) -> None:
    """Refuse, before parsing, a first line longer than MAX_HEADER_BYTES or of more than
    :data:`~lossdoc.ingest.frame.MAX_COLUMNS` fields."""
    head = raw.head(SNIFF_BYTES)
    if b"\n" not in head and b"\r" not in head and len(head) == SNIFF_BYTES:
        head = raw.head(MAX_HEADER_BYTES + 1)
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    if not ends and len(head) > MAX_HEADER_BYTES:
        raise LossdocError(
            raw.source,
            f"the first line is longer than {MAX_HEADER_BYTES // 1024**2} MiB (no line break): not a loss log header",
        )
    header = head[: min(ends)] if ends else head
    fields = len(header.split()) if delim == r"\s+" else header.count(delim.encode()) + 1
    check_columns(raw.source, fields)


def read_frame_pandas(raw: RawInput, delim: str) -> Frame:
    import pandas as pd

    text = raw.text() if raw.path is None or needs_decoding(raw) else None

    def read(bad_lines: str) -> Any:
        return pd.read_csv(
            io.StringIO(text) if text is not None else raw.path,  # type: ignore[arg-type]
            sep=delim,
            engine="python" if delim == r"\s+" else "c",
            keep_default_na=False,
            na_values=list(MISSING_TOKENS),
            skipinitialspace=True,
            index_col=False,
            on_bad_lines=bad_lines,
            encoding="utf-8-sig" if text is None else None,
            encoding_errors="replace",
            compression=None,  # gzip was undone when reading; a plain "x.csv.gz" is plain text
        )

    skipped: str | None = None
    try:
        try:
            # Lines with more fields than the header are skipped, but being ready to skip them makes
            # pandas read a third slower: they are rare, so the file is read again only when one is met.
            df = read("error")
        except pd.errors.ParserError as exc:
            df = read("skip")
            skipped = str(exc)
    except pd.errors.EmptyDataError:
        raise LossdocError(raw.source, "empty file") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        first = first_line(exc)
        raise LossdocError(raw.source, f"cannot parse as CSV ({first})") from None
    if df.shape[1] == 0:
        raise LossdocError(raw.source, "no columns found")
    if len(df) == 0:
        raise LossdocError(raw.source, "header only, no data rows")
    partial = incomplete_last_line(raw, delim, df.shape[1])
    if partial is not None:
        df = df.iloc[:-1]
        if len(df) == 0:
            raise LossdocError(raw.source, "no complete data row yet (only an incomplete last line)")
    df.columns = [clean_name(c) for c in df.columns]
    frame = frame_from_pandas(df)
    if skipped is not None:
        frame.notes.append(_skipped_lines_note(raw, text, len(df) + (partial is not None), skipped))
    if _has_inf(frame):
        frame.notes.extend(overflow_notes(text if text is not None else raw.text()))
    if partial is not None:
        frame.notes.append(f"ignored an incomplete last line ('{partial}'); the log may still be written")
    return frame


def _skipped_lines_note(raw: RawInput, text: str | None, rows: int, error: str) -> str:
    """The note for the lines pandas skipped for having more fields than the header."""
    text = text if text is not None else raw.text()
    lines = sum(1 for ln in text.splitlines() if ln.strip()) - 1  # the header
    first = re.search(r"line (\d+)", error)
    where = f" (the first: line {first.group(1)})" if first else ""
    count = max(1, lines - rows)
    return f"skipped {count:,} line{'s' if count != 1 else ''} with more fields than the header{where}"


LONG_NUMBER = re.compile(r"(?<![\w.])[+-]?\d{309,}")
"""An integer of more digits than any float holds (1.8e308): read as infinity, with a note."""


def _has_inf(frame: Frame) -> bool:
    return any(bool(np.isinf(c.values).any()) for c in frame.columns.values())


def overflow_notes(text: str) -> list[str]:
    """A note for the numbers in ``text`` too long for a float, which are read as infinity: only
    a written ``inf`` is one, and a 5,000-digit number is more likely damage than a value."""
    found = [m.group(0) for m in LONG_NUMBER.finditer(text)]
    if not found:
        return []
    digits = len(found[0].lstrip("+-"))
    line = text.count("\n", 0, text.find(found[0])) + 1
    more = f" and {len(found) - 1:,} more" if len(found) > 1 else ""
    return [f"read a number of {digits:,} digits (line {line:,}){more} as infinity (too large for a float)"]


def read_delimited(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    frame = read_frame(raw)
    fmt = name_format(frame.names)
    name = raw.run_name
    if fmt == "tb_csv":
        name = name or _tb_export_name(raw.source)
        if not overrides.get("train"):
            overrides = {**overrides, "train": "Value", "x": overrides.get("x") or "Step"}
    if fmt == "wandb_csv" and _wandb_panel_runs(frame.names) and not overrides.get("train"):
        return _read_wandb_panel(frame, raw.source, overrides, name)
    if "index" in frame.columns and not overrides.get("x"):
        overrides = {**overrides, "x": "index"}  # pandas-dumped History: the unnamed index is the epoch
    return histories_from_frame(frame, source=raw.source, fmt=fmt, overrides=overrides, name=name)


TB_EXPORT_NAME = re.compile(r"run[-_](?P<run>.*)[-_]tag[-_](?P<tag>.*)", re.IGNORECASE)


def _tb_export_name(source: str) -> str | None:
    """TensorBoard names a download ``run-<run>-tag-<tag>.csv``: the only place its run and tag are kept."""
    stem = source.rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv"):
        stem = stem.removesuffix(suffix)
    m = TB_EXPORT_NAME.fullmatch(stem)
    return f"{m.group('run')} {m.group('tag')}" if m else None


WANDB_RUN_SEPARATOR = " - "
WANDB_BAND_SUFFIXES = ("__MIN", "__MAX")


def _wandb_panel_runs(names: list[str]) -> dict[str, dict[str, str]]:
    """W&B panel export columns grouped by run: ``{run: {key: column}}``; the __MIN/__MAX bands dropped."""
    runs: dict[str, dict[str, str]] = {}
    for n in names:
        if WANDB_RUN_SEPARATOR not in n or n.endswith(WANDB_BAND_SUFFIXES):
            continue
        run, _, key = n.rpartition(WANDB_RUN_SEPARATOR)
        runs.setdefault(run.strip(), {})[key.strip()] = n
    return runs


def _read_wandb_panel(
    frame: Frame, source: str, overrides: dict[str, str | None], name: str | None
) -> list[LossHistory]:
    """One run per W&B run in a panel export; series keep the export's column names."""
    from lossdoc.ingest.names import run_name

    base = name or run_name(source)
    shared = [n for n in frame.names if WANDB_RUN_SEPARATOR not in n]
    out: list[LossHistory] = []
    for run, keys in _wandb_panel_runs(frame.names).items():
        cols = {k: frame.columns[k] for k in shared if k not in keys}
        cols.update({key: frame.columns[col] for key, col in keys.items()})
        text = {key: frame.text_cells[col] for key, col in keys.items() if col in frame.text_cells}
        sub = Frame(cols, text, notes=list(frame.notes))
        try:
            out.extend(
                histories_from_frame(
                    sub, source=source, fmt="wandb_csv", overrides=overrides, name=f"{base} [{run}]", display=keys
                )
            )
        except NotALog:
            continue  # a run whose panel holds no loss (e.g. an accuracy panel)
    if not out:
        shown = ", ".join(frame.names[:30])
        raise NotALog(source, f"no column looks like a loss; columns are: {shown} — use --train COL")
    return out
