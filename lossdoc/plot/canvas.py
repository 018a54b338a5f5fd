"""The canvas plots are drawn on: matplotlib's Agg canvas, with the PNG file written here.

matplotlib hands a PNG to Pillow, which picks a filter for every row of pixels before compressing.
A plot is flat colour and thin lines: its rows compress better unfiltered, so writing them as they
are, at a low zlib level, takes a third of the time and gives a smaller file. An opaque figure (the
plots are drawn on white) is stored as RGB, with no alpha channel to compress.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

PNG_LEVEL = 3
"""zlib level of the PNG pixel data: as fast as level 1 on plots, and smaller than Pillow's output at its default."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(rgba: np.ndarray, dpi: float, text: dict[str, str] | None = None) -> bytes:
    """A PNG of an RGBA pixel array (rows top to bottom), its resolution, and text entries."""
    height, width = rgba.shape[:2]
    opaque = bool((rgba[..., 3] == 255).all())
    channels = 3 if opaque else 4
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (None) on every row
    rows[:, 1:].reshape(height, width, channels)[...] = rgba[..., :channels]
    per_metre = round(dpi / 0.0254)
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)),
        (b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        *((b"tEXt", k.encode("latin-1") + b"\0" + v.encode("latin-1")) for k, v in (text or {}).items()),
        (b"IDAT", zlib.compress(rows.tobytes(), PNG_LEVEL)),
        (b"IEND", b""),
    ]
    return PNG_SIGNATURE + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)) for kind, data in chunks
    )


class Canvas(FigureCanvasAgg):
    """FigureCanvasAgg whose ``savefig(..., format="png")`` writes :func:`png_bytes`; other formats as ever."""

    def print_png(self, filename_or_obj: Any, *, metadata: dict[str, str | None] | None = None, **_: Any) -> None:
        FigureCanvasAgg.draw(self)
        text = {k: v for k, v in (metadata or {}).items() if v is not None}
        data = png_bytes(np.asarray(self.buffer_rgba()), self.figure.dpi, text)
        if isinstance(filename_or_obj, (str, os.PathLike)):
            with open(filename_or_obj, "wb") as fh:
                fh.write(data)
        else:
            filename_or_obj.write(data)
