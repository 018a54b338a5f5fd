"""Delimited text logs: plain CSV/TSV and the framework CSVs that are CSV underneath.

Keras CSVLogger, Lightning ``metrics.csv``, Ultralytics ``results.csv`` (space-padded headers),
fastai ``history.csv`` (header repeated on append), TensorBoard "Download CSV" and W&B exports
differ only in their column names and quirks, so one reader handles them and names the format
from the header.
"""

from __future__ import annotations

import io
import re

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest.frame import MISSING_TOKENS, Frame, frame_from_pandas, histories_from_frame
from lossdoc.ingest.source import RawInput

DELIMITERS = (",", "\t", ";", "|")


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
    import pandas as pd

    head = raw.head_text()
    delim = sniff_delimiter(head)
    text = raw.text() if raw.path is None or _needs_decoding(raw) else None
    buffer = io.StringIO(text) if text is not None else raw.path
    try:
        df = pd.read_csv(
            buffer,  # type: ignore[arg-type]
            sep=delim,
            engine="python" if delim == r"\s+" else "c",
            keep_default_na=False,
            na_values=list(MISSING_TOKENS),
            skipinitialspace=True,
            index_col=False,
            on_bad_lines="skip",
            encoding="utf-8-sig" if text is None else None,
            encoding_errors="replace",
        )
    except pd.errors.EmptyDataError:
        raise LossdocError(raw.source, "empty file") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LossdocError(raw.source, f"cannot parse as CSV ({first})") from None
    if df.shape[1] == 0:
        raise LossdocError(raw.source, "no columns found")
    if len(df) == 0:
        raise LossdocError(raw.source, "header only, no data rows")
    df.columns = [_clean_name(c) for c in df.columns]
    return frame_from_pandas(df)


def _needs_decoding(raw: RawInput) -> bool:
    head = raw.head(4)
    return head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _clean_name(name: object) -> str:
    s = str(name).strip()
    return "index" if re.fullmatch(r"Unnamed: 0", s) else s


def read_delimited(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    frame = read_frame(raw)
    fmt = name_format(frame.names)
    if fmt == "tb_csv" and not overrides.get("train"):
        overrides = {**overrides, "train": overrides.get("train") or "Value", "x": overrides.get("x") or "Step"}
    x_default = "row"
    if "index" in frame.columns and not overrides.get("x"):
        overrides = {**overrides, "x": "index"}  # pandas-dumped History: the unnamed index is the epoch
    return histories_from_frame(frame, source=raw.source, fmt=fmt, overrides=overrides, default_x_name=x_default)
