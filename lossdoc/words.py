"""Counts in words, the same in every report: "1 run", "2 runs", "1,000 runs"; "1 fails", "2 fail".

Kept free of heavy imports: the help text and every report format use it.
"""

from __future__ import annotations


def count(n: int | float, singular: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and the noun agreeing with it: ``1 check``, ``2,500 checks``."""
    word = singular if n == 1 else (plural or _plural(singular))
    number = f"{int(n):,}" if float(n).is_integer() else f"{n:,g}"
    return f"{number} {word}"


def fail_count(n: int) -> str:
    """``1 fails`` / ``0 fail`` / ``2 fail``: how many runs fail the --fail-on policy."""
    return f"{n:,} {'fails' if n == 1 else 'fail'}"


def units(x_name: str, n: float | int) -> str:
    """The x axis's unit for an amount ``n`` of it: ``1 epoch``, ``12 epochs``; a name that already ends
    in "s" (``steps``) as it is. The number is written by the caller (it is an x value, not a count)."""
    return x_name if float(n) == 1 or x_name.endswith("s") else f"{x_name}s"


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"
