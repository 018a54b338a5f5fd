"""Getting the bytes of an input: a file, a gzip file or standard input, decoded to text.

Everything here raises :class:`LossdocError` with a message that names what is wrong; nothing
guesses silently. Decompression is bounded so that a gzip bomb is an error, not an exhausted machine.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossdoc.errors import LossdocError

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_INPUT_BYTES = 1024**3
"""An input (a file, standard input, or what a gzip file expands to) larger than this is refused, and
a stream is refused as soon as it passes it, before more is held in memory: memory stays bounded
whatever a crashed job, a gzip bomb or ``/dev/zero`` supplies. A loss log of 5,000,000 rows is about
200 MB of CSV; reading 1 GiB takes a few GiB of memory at most, which a CI runner has. Set with
``max-input-size`` in ``[tool.lossdoc]`` or ``--max-input-size``."""
MAX_DECOMPRESSED_BYTES = DEFAULT_MAX_INPUT_BYTES
"""The limit in force (:func:`set_max_input_bytes`)."""
READ_CHUNK = 1024 * 1024
"""A stream (standard input, gzip data) is read this much at a time, and its size checked after each;
gzip data that expands to a whole chunk of zero bytes is a bomb (a crashed writer leaves a few
kilobytes of them, and gzip does not write them)."""
SNIFF_BYTES = 64 * 1024
# A TensorBoard event file's first record (8-byte length, 4-byte CRC, Event) names its file version.
TFEVENTS_MARK = b"brain.Event:"
TFEVENTS_SNIFF = 64


@dataclass
class RawInput:
    """An input's bytes (decompressed) and where they came from.

    ``path`` is set for a plain file on disk so that fast readers can read it themselves;
    ``data`` holds the bytes otherwise (stdin, gzip) and is filled lazily for plain files.
    """

    source: str
    path: Path | None
    _data: bytes | None = None
    compressed: bool = False
    run_name: str | None = None  # set when the file was found by searching a folder: its relative path
    notes: list[str] = field(default_factory=list)  # what was repaired on the way in (becomes run notes)
    _head: bytes | None = field(default=None, repr=False)  # the first SNIFF_BYTES, read once

    @property
    def data(self) -> bytes:
        if self._data is None:
            assert self.path is not None
            self._data = _read_file(self.source, self.path)
        return self._data

    def head(self, size: int = SNIFF_BYTES) -> bytes:
        if self._data is not None or self.path is None:
            return self.data[:size]
        if size > SNIFF_BYTES:
            return self._read_head(size)
        if self._head is None:
            # Sniffing asks for the head several times (format, delimiter, encoding): read it once.
            self._head = self._read_head(SNIFF_BYTES)
        return self._head[:size]

    def _read_head(self, size: int) -> bytes:
        assert self.path is not None
        try:
            with self.path.open("rb") as fh:
                return fh.read(size)
        except OSError as exc:
            raise LossdocError(self.source, _os_message(exc)) from None

    def tail(self, size: int = 4096) -> bytes:
        """The last ``size`` bytes, without reading the whole file: is the last line complete?"""
        if self._data is not None or self.path is None:
            return self.data[-size:]
        try:
            with self.path.open("rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - size))
                return fh.read(size)
        except OSError as exc:
            raise LossdocError(self.source, _os_message(exc)) from None

    def text(self) -> str:
        return decode(self.source, self.data)

    def head_text(self) -> str:
        return decode(self.source, self.head(), partial=True)


def _os_message(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return (exc.strerror or str(exc)).lower()


def size_text(n: int) -> str:
    """``4 GiB``, ``512 KiB``, ``100 bytes``: a byte count the way a user thinks of it."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def set_max_input_bytes(limit: int) -> None:
    """The input size limit for this process (and the workers it forks)."""
    global MAX_DECOMPRESSED_BYTES
    MAX_DECOMPRESSED_BYTES = limit


def parse_size(value: object) -> int:
    """``1073741824``, ``"512 MiB"``, ``"2GB"`` → bytes; ValueError for anything else."""
    import re

    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(value)
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*", value, re.IGNORECASE)
    if m is None:
        raise ValueError(value)
    unit = (m.group(2) or "").lower().rstrip("b").rstrip("i")
    size = int(float(m.group(1)) * 1024 ** ("kmgt".index(unit) + 1 if unit else 0))
    if size < 1:
        raise ValueError(value)
    return size


def _refuse_binary_early(source: str, head: bytes) -> None:
    """Standard input or gzip data whose first SNIFF_BYTES already make it unreadable (``/dev/zero``,
    a gzip bomb of zeros): refused before the rest is read. Zero bytes, then any other byte is binary
    whatever follows, as :func:`_strip_trailing_zeros` decides for the whole input."""
    if len(head) < SNIFF_BYTES or head.startswith(GZIP_MAGIC) or TFEVENTS_MARK in head[:TFEVENTS_SNIFF]:
        return
    if _looks_utf16(head) is not None or b"\x00" not in head:
        return
    if not head.strip(b"\x00"):
        raise LossdocError(source, "only zero bytes so far (binary data, not a text loss log); refusing to read on")
    if b"\x00" in head.rstrip(b"\x00"):
        raise LossdocError(source, "binary file, not a text loss log")


def _read_stream(source: str, stream: Any) -> bytes:
    """All of ``stream``, refused as soon as it passes the limit or its start is binary."""
    out = bytearray()
    checked = False
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return bytes(out)
        out += chunk
        if not checked and len(out) >= SNIFF_BYTES:
            _refuse_binary_early(source, bytes(out[:SNIFF_BYTES]))
            checked = True
        if len(out) > MAX_DECOMPRESSED_BYTES:
            raise _too_large(source, "standard input is" if source == "<stdin>" else "input is")


def read_limited(path: str | Path, source: str | None = None) -> bytes:
    """A file's bytes, refused when it is larger than the limit."""
    return _read_file(source or str(path), Path(path))


def _too_large(source: str, what: str) -> LossdocError:
    return LossdocError(
        source,
        f"{what} larger than {size_text(MAX_DECOMPRESSED_BYTES)}; refusing to read it",
    )


def _read_file(source: str, path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            # read() sizes its buffer from the file; read(n) would reserve n bytes (the limit) first
            if os.fstat(fh.fileno()).st_size > MAX_DECOMPRESSED_BYTES:
                raise _too_large(source, "file is")
            data = fh.read()
    except OSError as exc:
        raise LossdocError(source, _os_message(exc)) from None
    if len(data) > MAX_DECOMPRESSED_BYTES:
        raise _too_large(source, "file is")
    return data


def gunzip(source: str, data: bytes) -> tuple[bytes, bool]:
    """Decompress gzip data (all members) in bounded steps; returns the bytes and whether the stream was cut short.

    More than MAX_DECOMPRESSED_BYTES (a gzip bomb) or a corrupt stream is an error. A stream that
    simply stops (a job still writing it, or killed) gives back what it holds, so no work is lost.
    """
    out = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(wbits=31)  # gzip framing, header and CRC checked
        buf = rest
        try:
            while True:
                chunk = d.decompress(buf, READ_CHUNK)
                before = len(out)
                out += chunk
                if before < SNIFF_BYTES <= len(out):
                    _refuse_binary_early(source, bytes(out[:SNIFF_BYTES]))
                if len(chunk) == READ_CHUNK and not chunk.strip(b"\x00"):
                    # a bomb's usual filling; a log cut off by a crash does not compress a megabyte of them
                    raise LossdocError(
                        source, f"gzip data holds over {size_text(READ_CHUNK)} of zero bytes: not a text loss log"
                    )
                if len(out) > MAX_DECOMPRESSED_BYTES:
                    raise LossdocError(
                        source, f"gzip data expands beyond {size_text(MAX_DECOMPRESSED_BYTES)}; refusing to read it"
                    )
                buf = d.unconsumed_tail
                if d.eof or (not chunk and not buf):
                    break
        except zlib.error as exc:
            raise LossdocError(source, f"corrupt or truncated gzip data ({exc})") from None
        if not d.eof:
            if not out:
                raise LossdocError(source, "corrupt or truncated gzip data (it ends before any data)")
            return bytes(out), True
        rest = d.unused_data
        if not rest.strip(b"\x00"):
            break  # zero padding after the last member, as gzip itself allows
    return bytes(out), False


def _looks_utf16(head: bytes) -> str | None:
    """The UTF-16 codec of text with a BOM, or of BOM-less ASCII-range text (every other byte zero)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[: len(head) // 2 * 2]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    if not odd.strip(b"\x00") and b"\x00" not in even:
        return "utf-16-le"
    if not even.strip(b"\x00") and b"\x00" not in odd:
        return "utf-16-be"
    return None


def _stat(spec: str, path: Path) -> os.stat_result:
    try:
        return path.stat()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and path.is_symlink():
            raise LossdocError(spec, f"broken symbolic link (points to '{os.readlink(path)}')") from None
        raise LossdocError(spec, _os_message(exc)) from None


def open_input(spec: str) -> RawInput:
    """The input named ``spec``: ``-`` is standard input; gzip content is decompressed; UTF-16 becomes
    UTF-8; zero bytes that a crash left at the end are cut off (with a note).

    Only regular files and standard input are read, never more than MAX_DECOMPRESSED_BYTES.
    """
    if spec == "-":
        data = _read_stream("<stdin>", sys.stdin.buffer)
        raw = RawInput(source="<stdin>", path=None, _data=data)
    else:
        path = Path(spec)
        st = _stat(spec, path)
        if stat.S_ISDIR(st.st_mode):
            raise LossdocError(spec, "is a directory")
        if not stat.S_ISREG(st.st_mode):
            # A named pipe with no writer would block forever, a device may never end: pipe it to '-'.
            raise LossdocError(spec, "not a regular file (a pipe, device or socket); to read it, pipe it to '-'")
        if st.st_size > MAX_DECOMPRESSED_BYTES:
            raise _too_large(spec, "file is")
        raw = RawInput(source=spec, path=path)
    if raw.head(2) == GZIP_MAGIC:
        data, cut = gunzip(raw.source, raw.data)
        raw = dataclasses.replace(raw, path=None, _data=data, compressed=True)
        if cut:
            raw.notes.append("the gzip data ends early (the file was cut off); read what it holds")
    if TFEVENTS_MARK in raw.head(TFEVENTS_SNIFF):
        return raw  # a TensorBoard event file: binary by design, read by its own reader
    head = raw.head()
    codec = _looks_utf16(head)
    if codec is not None:
        text = decode(raw.source, raw.data, codec=codec, partial=True)  # a cut-off last character is replaced
        raw = dataclasses.replace(raw, path=None, _data=text.encode("utf-8"))
    elif b"\x00" in head:
        raw = _strip_trailing_zeros(raw)
    return raw


def _strip_trailing_zeros(raw: RawInput) -> RawInput:
    """A crash can leave a run of zero bytes where the last writes should be: cut them off, with a note."""
    data = raw.data
    kept = data.rstrip(b"\x00")
    if b"\x00" in kept:
        raise LossdocError(raw.source, "binary file, not a text loss log")
    if not kept.strip():
        raise LossdocError(raw.source, "only zero bytes (the file was never written out, e.g. after a crash)")
    notes = [*raw.notes, f"ignored {len(data) - len(kept)} zero bytes at the end (the file was not completely written)"]
    return dataclasses.replace(raw, path=None, _data=kept, notes=notes)


def decode(source: str, data: bytes, *, partial: bool = False, codec: str | None = None) -> str:
    """Text from bytes: UTF-8 (with or without BOM) or UTF-16; NUL bytes otherwise mean binary."""
    codec = codec or _looks_utf16(data[:SNIFF_BYTES])
    if codec is not None:
        try:
            text = data.decode(codec, errors="strict" if not partial else "replace")
        except UnicodeDecodeError as exc:
            raise LossdocError(source, f"not valid UTF-16 text (bad bytes at offset {exc.start})") from None
        return text.lstrip("\ufeff")
    if b"\x00" in data[:SNIFF_BYTES]:
        raise LossdocError(source, "binary file, not a text loss log")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if partial and exc.start > len(data) - 4:
            return data[: exc.start].decode("utf-8-sig")  # a multi-byte character cut by the sniff window
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise LossdocError(source, f"not UTF-8 text (bad byte at offset {exc.start})") from None
