"""The small-file reader: a plain CSV read without pandas, and the shape checks both readers share.

Up to :data:`SMALL_FILE_BYTES` a log of the plain shape (a header of distinct names, then rows of
numbers, missing tokens and ``nan``/``inf`` words, no quotes) is read here, whole columns at a time;
anything else goes to pandas (``lossdoc.ingest.delimited.read_frame_pandas``), so every message and
note has one source. ``tests/test_speed_paths.py`` checks both give the same Frame on random CSVs.
"""

from __future__ import annotations

import re
from itertools import compress, repeat

import numpy as np

from lossdoc.ingest.frame import MISSING_TOKENS, NAN_TOKENS, Column, Frame
from lossdoc.ingest.source import RawInput

SMALL_FILE_BYTES = 512 * 1024
"""Up to this size a log is read here (no pandas import); past it pandas' C parser is faster than any
Python loop."""


class _NotPlain(Exception):
    """The small-file reader met something only pandas reads exactly the same way."""


# A number as pandas' C parser reads it into a float column (Python's float() accepts more:
# "1_000", "nan", full-width digits); integers short enough for int64, as pandas reads them.
PLAIN_NUMBER = r"[+-]?(?:\d{1,18}|\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?"
PLAIN_CELL = re.compile(PLAIN_NUMBER)
# A whole column of numbers and the missing tokens made of the same characters ("", "-", "--").
PLAIN_COLUMN = re.compile(rf"(?:{PLAIN_NUMBER}|--?)?(?:\n(?:{PLAIN_NUMBER}|--?)?)*")
INF_TOKEN = re.compile(r"[+-]?inf(?:inity)?", re.IGNORECASE)
# ...and with the nan/inf words a non-finite loss is written as (their case as written).
WORD_CELL = r"[+-]?(?:[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
WORDS_COLUMN = re.compile(rf"(?:{PLAIN_NUMBER}|--?|{WORD_CELL})?(?:\n(?:{PLAIN_NUMBER}|--?|{WORD_CELL})?)*")
PLAIN_CHARS = frozenset("0123456789.eE+-\n")
MISSING = frozenset(MISSING_TOKENS)
LINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def read_small_frame(raw: RawInput, delim: str) -> Frame | None:
    """A small log's Frame without pandas, or None to leave the file to pandas.

    Only the plain shape is read here: one header line of distinct names, then rows of numbers,
    missing tokens (``NA``, empty) and ``nan``/``inf`` words, no quotes; a row with fewer fields than
    the header is padded with missing cells, as pandas does. Anything else (more fields than the
    header, text in a column, a repeated header, quoting, a cut-off number, undecodable
    bytes, a whitespace-separated table) returns None, so every message, note and value comes from
    the one pandas path; ``tests/test_speed_paths.py`` checks both give the same Frame.
    """
    if delim == r"\s+" or _size(raw) > SMALL_FILE_BYTES:
        return None
    if raw.path is None or needs_decoding(raw):
        text = raw.text()
    else:
        try:
            text = raw.data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None  # pandas replaces bad bytes; decode() would guess cp1252
    if '"' in text or "\x00" in text or any(b in text for b in LINE_BREAKS):
        return None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    try:
        return _plain_frame(lines, delim, raw)
    except _NotPlain:
        return None


def _size(raw: RawInput) -> int:
    if raw._data is not None or raw.path is None:
        return len(raw.data)
    try:
        return raw.path.stat().st_size
    except OSError:
        return SMALL_FILE_BYTES + 1  # let the pandas path report it


def _plain_frame(lines: list[str], delim: str, raw: RawInput) -> Frame:
    rows = [ln for ln in lines if ln]
    if len(rows) < 2 or any(map(str.isspace, rows)):
        raise _NotPlain  # blank-looking lines and empty files: pandas decides
    header = [h.strip() for h in rows[0].split(delim)]
    names = [clean_name(h or f"Unnamed: {i}") for i, h in enumerate(header)]
    if len(set(names)) != len(names):
        raise _NotPlain  # pandas renames duplicates ("a.1")
    n = len(names)
    body = rows[1:]
    fields = set(map(str.count, body, repeat(delim, len(body))))
    if max(fields) > n - 1:
        raise _NotPlain  # pandas skips such a row, or cuts it when it is the first
    if incomplete_last_line(raw, delim, n) is not None:
        raise _NotPlain  # the cut-off line and its note: one code path
    if fields == {n - 1}:
        cells = delim.join(body).split(delim)  # every row complete: the columns are strided slices
        columns = {name: _plain_column(cells[j::n]) for j, name in enumerate(names)}
        return Frame(columns)
    padded = []
    for ln in body:
        row = ln.split(delim)
        padded.append(row + [""] * (n - len(row)))  # a short row: missing cells, as pandas reads it
    return Frame({name: _plain_column(list(col)) for name, col in zip(names, zip(*padded, strict=True), strict=True)})


def _plain_column(tokens: list[str]) -> Column:
    joined = "\n".join(tokens)
    values = None
    if PLAIN_CHARS.issuperset(joined):
        # Only digits, signs, points and exponents: float() (numpy parses as it does) accepts exactly
        # PLAIN_NUMBER's shapes, except integers of more than 18 digits (pandas' int64): only a column
        # with a token that long needs the pattern.
        if max(map(len, tokens)) <= 18 or PLAIN_COLUMN.fullmatch(joined):
            values, present = _numbers(tokens)
    elif WORDS_COLUMN.fullmatch(joined):
        values, present = _numbers(tokens)
    if values is None:
        stripped = [t.strip() for t in tokens]
        present = np.fromiter((t not in MISSING for t in stripped), dtype=bool, count=len(stripped))
        values = np.empty(len(stripped))
        for i, t in enumerate(stripped):
            if t in MISSING:
                values[i] = np.nan
            elif t.lower() in NAN_TOKENS:
                values[i] = np.nan  # a written nan is a value (a finding), not a gap
            elif PLAIN_CELL.fullmatch(t) or INF_TOKEN.fullmatch(t):
                values[i] = float(t)
            else:
                raise _NotPlain
    if np.any((values == 0) & np.signbit(values)):
        raise _NotPlain  # "-0": pandas reads an integer column's -0 as +0
    return Column(values, present)


def _numbers(tokens: list[str]) -> tuple[np.ndarray | None, np.ndarray]:
    """(values, present) of unpadded number and nan/inf tokens, the missing ones ("", "-", "--") NaN
    and absent, converted in C; (None, _) when a token is no number after all."""
    missing = np.fromiter(map(MISSING.__contains__, tokens), dtype=bool, count=len(tokens))
    try:
        if missing.any():
            values = np.full(len(tokens), np.nan)
            values[~missing] = np.array(list(compress(tokens, (~missing).tolist())), dtype=np.float64)
        else:
            values = np.array(tokens, dtype=np.float64)
    except ValueError:
        return None, missing
    values[np.isnan(values)] = np.nan  # "-nan" parses with its sign bit set; pandas' NaN has none
    return values, ~missing


def _is_number(cell: str) -> bool:
    cell = cell.strip().strip('"')
    if cell in MISSING_TOKENS:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def incomplete_last_line(raw: RawInput, delim: str, n_columns: int) -> str | None:
    """The last line, when a job was cut off while writing it: no newline after it, and fewer
    fields than the header or a field that is no longer a number (``0.1`` cut to ``0.`` is
    indistinguishable, ``1e-05`` cut to ``1e-`` is not)."""
    tail = raw.tail()
    if not tail or tail.endswith((b"\n", b"\r")):
        return None
    lines = [ln for ln in tail.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    if len(lines) < 2:
        return None

    def split(line: str) -> list[str]:
        return line.split() if delim == r"\s+" else line.split(delim)

    last, before = split(lines[-1]), split(lines[-2])
    cut = len(last) < n_columns or any(not _is_number(a) and _is_number(b) for a, b in zip(last, before, strict=False))
    return lines[-1].strip()[:40] if cut else None


def needs_decoding(raw: RawInput) -> bool:
    head = raw.head(4)
    return head.startswith((b"\xff\xfe", b"\xfe\xff"))


def clean_name(name: object) -> str:
    s = str(name).strip()
    return "index" if re.fullmatch(r"Unnamed: 0", s) else s
