"""Getting the bytes of an input: a file, a gzip file or standard input, decoded to text.

Everything here raises :class:`LossdocError` with a message that names what is wrong; nothing
guesses silently. Decompression is bounded so that a gzip bomb is an error, not an exhausted machine.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from lossdoc.errors import LossdocError

GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED_BYTES = 4 * 1024**3  # a log that expands beyond this is refused, not read
SNIFF_BYTES = 64 * 1024


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

    @property
    def data(self) -> bytes:
        if self._data is None:
            assert self.path is not None
            self._data = _read_file(self.source, self.path)
        return self._data

    def head(self, size: int = SNIFF_BYTES) -> bytes:
        if self._data is not None or self.path is None:
            return self.data[:size]
        try:
            with self.path.open("rb") as fh:
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
    return exc.strerror or str(exc)


def _read_file(source: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LossdocError(source, _os_message(exc)) from None


def gunzip(source: str, data: bytes) -> bytes:
    """Decompress gzip data, refusing more than MAX_DECOMPRESSED_BYTES (a gzip bomb) or a corrupt stream."""
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            while chunk := gz.read(1 << 20):
                out.write(chunk)
                if out.tell() > MAX_DECOMPRESSED_BYTES:
                    raise LossdocError(source, "gzip data expands beyond 4 GiB; refusing to read it")
    except (OSError, EOFError, zlib.error) as exc:
        raise LossdocError(source, f"corrupt or truncated gzip data ({exc})") from None
    return out.getvalue()


def open_input(spec: str) -> RawInput:
    """The input named ``spec``: ``-`` is standard input; gzip content is decompressed."""
    if spec == "-":
        data = sys.stdin.buffer.read()
        raw = RawInput(source="<stdin>", path=None, _data=data)
    else:
        path = Path(spec)
        if not path.exists():
            raise LossdocError(spec, "file not found")
        if path.is_dir():
            raise LossdocError(spec, "is a directory")
        raw = RawInput(source=spec, path=path)
    if raw.head(2) == GZIP_MAGIC:
        raw = RawInput(source=raw.source, path=None, _data=gunzip(raw.source, raw.data), compressed=True)
    return raw


def decode(source: str, data: bytes, *, partial: bool = False) -> str:
    """Text from bytes: UTF-8 (with or without BOM) or UTF-16 with a BOM; NUL bytes mean binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16", errors="strict" if not partial else "ignore")
        except UnicodeDecodeError:
            raise LossdocError(source, "not valid UTF-16 text") from None
        return text
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
