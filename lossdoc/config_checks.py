"""How each setting's value is checked, whether it comes from a config file (:data:`CHECKS`, one per
key of ``[tool.lossdoc]``) or from the command line (the parsers :mod:`lossdoc.config` uses for
:meth:`~lossdoc.config.Settings.merged`); per-rule thresholds are checked against the rule's ``Params``.
A bad value raises the :class:`LossdocError` its caller's ``bad`` makes: the key or option, and what is wrong."""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossdoc.errors import LossdocError
from lossdoc.outputs import FORMATTERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


FORMATS = tuple(FORMATTERS)


DETAILS = ("auto", "all", "problems")
"""Which runs the table format prints in full (see report.terminal.detailed)."""


SMOOTHING_AUTO = "auto"


def shown_value(value: Any) -> str:
    """A value from a config file as a message shows it: short, however long or deeply nested
    (``repr`` of a 10,000-deep array is a RecursionError)."""
    import reprlib

    shown = reprlib.Repr()
    shown.maxlevel, shown.maxstring, shown.maxother, shown.maxlist, shown.maxdict = 3, 60, 60, 6, 6
    try:
        return shown.repr(value)
    except RecursionError:
        return type(value).__name__


@dataclass(frozen=True)
class TableAt:
    """Where a settings table was read: for messages (``shown``, ``prefix``) and relative paths (``base``)."""

    shown: str
    prefix: str
    base: Path


Bad = Callable[[str], LossdocError]


Check = Callable[[Any, Bad, TableAt], Any]
"""A key's check: its value from the file, how to complain about it, and where the table is → the setting."""


def _check_format(value: Any, bad: Bad, at: TableAt) -> str:
    if value not in FORMATS:
        raise bad(f"must be one of {', '.join(FORMATS)}, not {shown_value(value)}")
    return str(value)


def _check_fail_on(value: Any, bad: Bad, at: TableAt) -> str:
    from lossdoc.analysis import RULES
    from lossdoc.policy import FailPolicy

    text = _str_or_list(value, bad)
    try:
        FailPolicy.parse(text, RULES)
    except LossdocError as exc:
        raise bad(exc.message) from None
    return text


def _check_min_confidence(value: Any, bad: Bad, at: TableAt) -> str:
    from lossdoc.analysis.types import CONFIDENCES

    if value not in CONFIDENCES:
        raise bad(f"must be one of {', '.join(CONFIDENCES)}, not {value!r}")
    return str(value)


def _check_slugs(value: Any, bad: Bad, at: TableAt) -> tuple[str, ...]:
    from lossdoc.analysis import RULES

    slugs = tuple(s for s in _str_or_list(value, bad).split(",") if s)
    unknown = [s for s in slugs if s not in RULES]
    if unknown:
        raise bad(f"unknown rule '{unknown[0]}'; rules are: {', '.join(RULES)}")
    return slugs


def _check_details(value: Any, bad: Bad, at: TableAt) -> str:
    if value not in DETAILS:
        raise bad(f"must be one of {', '.join(DETAILS)}, not {shown_value(value)}")
    return str(value)


def _check_quiet(value: Any, bad: Bad, at: TableAt) -> bool:
    if not isinstance(value, bool):
        raise bad(f"must be true or false, not {shown_value(value)}")
    return value


def _check_plot(value: Any, bad: Bad, at: TableAt) -> str:
    if not isinstance(value, str) or not value:
        raise bad(f"must be a path (a string), not {shown_value(value)}")
    return str(at.base / value)


def _check_column(value: Any, bad: Bad, at: TableAt) -> str:
    if not isinstance(value, str) or not value:
        raise bad(f"must be a column name (a string), not {shown_value(value)}")
    return value


CHECKS: dict[str, Check] = {
    "format": _check_format,
    "plot": _check_plot,
    "fail-on": _check_fail_on,
    "min-confidence": _check_min_confidence,
    "select": _check_slugs,
    "ignore": _check_slugs,
    "x": _check_column,
    "train": _check_column,
    "val": _check_column,
    "smoothing": lambda value, bad, at: parse_smoothing(value, bad),
    "quiet": _check_quiet,
    "details": _check_details,
    "max-input-size": lambda value, bad, at: parse_size_setting(value, bad),
    "framework": lambda value, bad, at: parse_framework(value, bad),
    "rules": lambda value, bad, at: _rules(value, at.shown, f"{at.prefix}.rules" if at.prefix else "rules"),
}
"""Each key of :data:`lossdoc.config.KEYS` and how its value is checked (a test holds the two equal)."""


def _str_or_list(value: Any, bad: Any) -> str:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        raise bad(f"must be a string or a list of strings, not {shown_value(value)}")
    return ",".join(i.strip() for i in items if i.strip())


def parse_size_setting(value: Any, bad: Any) -> int:
    """``max-input-size``: a number of bytes or a size such as ``"2 GiB"``."""
    from lossdoc.ingest.source import parse_size

    try:
        return parse_size(value)
    except ValueError:
        raise bad(f"must be a size in bytes or like '2 GiB', not {shown_value(value)}") from None


def parse_framework(value: Any, bad: Any) -> str:
    """One of the framework names advice is written for."""
    from lossdoc.advice.frameworks import NAMES

    if not isinstance(value, str) or value.strip().lower() not in NAMES:
        raise bad(f"{shown_value(value)} is not a framework; frameworks are: {', '.join(NAMES)}")
    return value.strip().lower()


def parse_smoothing(value: Any, bad: Any) -> float | None:
    """'auto' (None) or an EMA weight in [0, 1)."""
    if value == SMOOTHING_AUTO or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise bad(f"must be 'auto' or a number at least 0 and below 1, not {shown_value(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise bad(f"must be 'auto' or a number at least 0 and below 1, not {shown_value(value)}")
    return float(value)


def _rules(value: Any, shown: str, prefix: str) -> dict[str, dict[str, Any]]:
    from lossdoc.analysis import RULES

    if not isinstance(value, dict):
        raise LossdocError(f"{shown} [{prefix}]", "must be a table of [rules.<rule>] tables")
    out: dict[str, dict[str, Any]] = {}
    for slug, params in value.items():
        where = f"{shown} [{prefix}.{slug}]"
        if slug not in RULES:
            raise LossdocError(where, f"unknown rule '{slug}'; rules are: {', '.join(RULES)}")
        if not isinstance(params, dict):
            raise LossdocError(where, f"must be a table of thresholds, not {shown_value(params)}")
        out[slug] = {k: v for k, v in (rule_param(slug, k, v, where) for k, v in params.items())}
    return out


def rule_param(slug: str, key: str, value: Any, where: str) -> tuple[str, Any]:
    """Check one threshold against the rule's Params field: its name and the type of its default."""
    from lossdoc.analysis import RULES, params_for

    defaults = RULES[slug].default_params()
    fields = {f.name: f for f in dataclasses.fields(defaults)}
    name = key.replace("-", "_")
    if name not in fields:
        known = ", ".join(fields) or "none"
        raise LossdocError(where, f"unknown key '{key}'; {slug} has: {known}")
    default = getattr(defaults, name)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "a whole number"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        want = "a number"
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
        want = type(default).__name__
    if not ok:
        raise LossdocError(where, f"'{key}' must be {want}, not {shown_value(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise LossdocError(where, f"'{key}' must not be negative, not {shown_value(value)}")
    params_for(slug, {name: value})  # the registry's own check, so the two can never disagree
    return name, value


def parse_param_option(text: str) -> tuple[str, str, Any]:
    """``--param overfitting.min_rise=0.1`` → ('overfitting', 'min_rise', 0.1), validated."""
    from lossdoc.analysis import RULES

    head, sep, raw = text.partition("=")
    slug, dot, key = head.strip().rpartition(".")
    if not sep or not dot or not slug or not key:
        raise LossdocError("--param", f"'{text}' is not RULE.KEY=VALUE (e.g. overfitting.min_rise=0.1)")
    if slug not in RULES:
        raise LossdocError("--param", f"unknown rule '{slug}'; rules are: {', '.join(RULES)}")
    try:
        value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    except RecursionError:
        raise LossdocError("--param", f"{slug}.{key}: value nested too deeply") from None
    name, checked = rule_param(slug, key, value, f"--param {slug}")
    return slug, name, checked


def merged_rules(base: Mapping[str, Mapping[str, Any]], extra: list[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    out = {slug: dict(p) for slug, p in base.items()}
    for slug, name, value in extra:
        out.setdefault(slug, {})[name] = value
    return out
