"""Kept for imports written before plots became the :mod:`lossdoc.plot` package."""

from __future__ import annotations

from lossdoc.plot import *  # noqa: F403
from lossdoc.plot import __all__ as __all__
