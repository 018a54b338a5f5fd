"""Settings: defaults, then ``[tool.lossdoc]`` of the nearest config file, then the command line.

The file is the nearest ``lossdoc.toml`` (top-level keys) or ``pyproject.toml`` with a
``[tool.lossdoc]`` table, walking up from the current directory and stopping at the folder that
holds ``.git`` (or the filesystem root); ``--config FILE`` names one explicitly. Keys may be written
kebab-case or snake_case. Per-rule thresholds live in ``[tool.lossdoc.rules.<slug>]`` and map to
that rule's ``Params`` fields (``lossdoc explain <slug>`` lists them).

Every value is checked here, before any log is read: a wrong key or value raises
:class:`LossdocError` whose ``source`` is the file and table (``pyproject.toml [tool.lossdoc]``)
and whose ``message`` names the key, which the CLI prints as one line and exit code 2.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
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


@dataclass(frozen=True)
class Settings:
    """Everything ``lossdoc analyze`` can be told, with its default."""

    format: str = "table"
    plot: str | None = None
    fail_on: str = "error"
    min_confidence: str = "medium"
    """Only findings at least this sure fail the call (see policy.DEFAULT_MIN_CONFIDENCE)."""
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    x: str | None = None
    train: str | None = None
    val: str | None = None
    smoothing: float | None = None
    """EMA weight for plotted curves; None picks one from each curve's length (see lossdoc.plot.prepare)."""
    quiet: bool = False
    details: str = "auto"
    max_input_size: int | None = None
    """Bytes an input may hold (see lossdoc.ingest.source.DEFAULT_MAX_INPUT_BYTES); None: that default."""
    framework: str | None = None
    """Whose API the advice and snippets use (lossdoc.advice.frameworks.NAMES); None guesses per log."""
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-rule Params overrides, validated: {slug: {field: value}}."""

    def merged(self, options: Mapping[str, Any]) -> Settings:
        """These settings with the command line's options over them: each option given (not None) wins,
        checked and parsed by its entry in :data:`OPTIONS`, in that table's order (the first bad option
        is the one reported); ``param`` (the ``--param`` values) adds to ``rules``."""
        values: dict[str, Any] = {}
        for option, (name, parse) in OPTIONS.items():
            given = options.get(option)
            if given is not None:
                values[name] = parse(given, self)
        return dataclasses.replace(self, **values)


KEYS = tuple(f.name.replace("_", "-") for f in dataclasses.fields(Settings))
"""The keys of ``[tool.lossdoc]``: one per setting, each checked by its entry in :data:`CHECKS`."""


def _r(value: Any) -> str:
    """A value from a config file as a message shows it: short, however long or deeply nested
    (``repr`` of a 10,000-deep array is a RecursionError)."""
    import reprlib

    shown = reprlib.Repr()
    shown.maxlevel, shown.maxstring, shown.maxother, shown.maxlist, shown.maxdict = 3, 60, 60, 6, 6
    try:
        return shown.repr(value)
    except RecursionError:
        return type(value).__name__


def _tool_table(data: dict[str, Any], path: Path) -> Any:
    """``[tool]`` of a pyproject.toml, checked to be a table (``tool = 1`` is not)."""
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise LossdocError(_shown(path), f"'tool' must be a table, not {_r(tool)}")
    return tool


def _lossdoc_table(table: Any, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise LossdocError(f"{_shown(path)} [tool.lossdoc]", f"must be a table, not {_r(table)}")
    return table


def find_config(start: Path) -> tuple[Path, str] | None:
    """The nearest config file at or above ``start`` and its table prefix ('' or 'tool.lossdoc')."""
    here = start.resolve()
    for folder in (here, *here.parents):
        own = folder / "lossdoc.toml"
        if own.is_file():
            return own, ""
        py = folder / "pyproject.toml"
        if py.is_file() and "lossdoc" in _tool_table(_read_toml(py), py):
            return py, "tool.lossdoc"
        if (folder / ".git").exists():
            return None
    return None


def load(explicit: Path | None = None, start: Path | None = None) -> Settings:
    """Settings from ``explicit`` (``--config``) or the nearest config file; defaults when none."""
    if explicit is not None:
        if not explicit.is_file():
            raise LossdocError(str(explicit), "config file not found")
        data = _read_toml(explicit)
        if explicit.name == "pyproject.toml" or "tool" in data:
            table = _tool_table(data, explicit).get("lossdoc")
            if table is None:
                raise LossdocError(str(explicit), "no [tool.lossdoc] table")
            return from_table(_lossdoc_table(table, explicit), _shown(explicit), "tool.lossdoc", explicit.parent)
        return from_table(data, _shown(explicit), "", explicit.parent)
    found = find_config(start or Path.cwd())
    if found is None:
        return Settings()
    path, prefix = found
    data = _read_toml(path)
    table = _lossdoc_table(_tool_table(data, path).get("lossdoc", {}), path) if prefix else data
    return from_table(table, _shown(path), prefix, path.parent)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise LossdocError(_shown(path), f"invalid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise LossdocError(_shown(path), f"not UTF-8 text (bad byte at offset {exc.start})") from None
    except RecursionError:
        raise LossdocError(_shown(path), "invalid TOML (nested too deeply)") from None
    except OSError as exc:
        raise LossdocError(_shown(path), f"cannot read ({exc.strerror or exc})") from None


def _shown(path: Path) -> str:
    """The path as a user would type it: relative to the current directory (``../pyproject.toml``)."""
    try:
        return os.path.relpath(path.resolve(), Path.cwd().resolve())
    except ValueError:  # another drive on Windows
        return str(path)


def _key(name: str) -> str:
    return name.replace("_", "-")


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
        raise bad(f"must be one of {', '.join(FORMATS)}, not {_r(value)}")
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
        raise bad(f"must be one of {', '.join(DETAILS)}, not {_r(value)}")
    return str(value)


def _check_quiet(value: Any, bad: Bad, at: TableAt) -> bool:
    if not isinstance(value, bool):
        raise bad(f"must be true or false, not {_r(value)}")
    return value


def _check_plot(value: Any, bad: Bad, at: TableAt) -> str:
    if not isinstance(value, str) or not value:
        raise bad(f"must be a path (a string), not {_r(value)}")
    return str(at.base / value)


def _check_column(value: Any, bad: Bad, at: TableAt) -> str:
    if not isinstance(value, str) or not value:
        raise bad(f"must be a column name (a string), not {_r(value)}")
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
"""Each key of :data:`KEYS` and how its value is checked (a test holds the two equal)."""


def from_table(table: Mapping[str, Any], shown: str, prefix: str, base: Path) -> Settings:
    """Validate one ``[tool.lossdoc]`` table (or a lossdoc.toml's top level) into Settings."""
    where = f"{shown} [{prefix}]" if prefix else shown
    at = TableAt(shown, prefix, base)

    def bad(key: str, what: str) -> LossdocError:
        return LossdocError(where, f"'{key}': {what}")

    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _key(raw_key)
        if key not in KEYS:
            raise LossdocError(where, f"unknown key '{raw_key}'; keys are: {', '.join(KEYS)}")
        values[key.replace("-", "_")] = CHECKS[key](value, partial(bad, raw_key), at)
    return Settings(**values)


def _str_or_list(value: Any, bad: Any) -> str:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        raise bad(f"must be a string or a list of strings, not {_r(value)}")
    return ",".join(i.strip() for i in items if i.strip())


def parse_size_setting(value: Any, bad: Any) -> int:
    """``max-input-size``: a number of bytes or a size such as ``"2 GiB"``."""
    from lossdoc.ingest.source import parse_size

    try:
        return parse_size(value)
    except ValueError:
        raise bad(f"must be a size in bytes or like '2 GiB', not {_r(value)}") from None


def parse_framework(value: Any, bad: Any) -> str:
    """One of the framework names advice is written for."""
    from lossdoc.advice.frameworks import NAMES

    if not isinstance(value, str) or value.strip().lower() not in NAMES:
        raise bad(f"{_r(value)} is not a framework; frameworks are: {', '.join(NAMES)}")
    return value.strip().lower()


def parse_smoothing(value: Any, bad: Any) -> float | None:
    """'auto' (None) or an EMA weight in [0, 1)."""
    if value == SMOOTHING_AUTO or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise bad(f"must be 'auto' or a number at least 0 and below 1, not {_r(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise bad(f"must be 'auto' or a number at least 0 and below 1, not {_r(value)}")
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
            raise LossdocError(where, f"must be a table of thresholds, not {_r(params)}")
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
        raise LossdocError(where, f"'{key}' must be {want}, not {_r(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise LossdocError(where, f"'{key}' must not be negative, not {_r(value)}")
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


def _bad_option(option: str) -> Bad:
    return lambda what: LossdocError(f"--{option.replace('_', '-')}", what)


def _one_of(option: str, allowed: tuple[str, ...]) -> Callable[[Any, Settings], str]:
    def parse(value: Any, settings: Settings) -> str:
        if value not in allowed:
            raise _bad_option(option)(f"'{value}' is not one of {', '.join(allowed)}")
        return str(value)

    return parse


def _as_is(value: Any, settings: Settings) -> Any:
    return value


def _slug_list(value: Any, settings: Settings) -> tuple[str, ...]:
    from lossdoc.policy import split_list  # start-up time: policy imports the analysis types (numpy)

    return tuple(split_list(value))


OPTIONS: dict[str, tuple[str, Callable[[Any, Settings], Any]]] = {
    "format": ("format", _one_of("format", FORMATS)),
    "details": ("details", _one_of("details", DETAILS)),
    "smoothing": ("smoothing", lambda value, s: parse_smoothing(value, _bad_option("smoothing"))),
    "fail_on": ("fail_on", _as_is),
    "min_confidence": ("min_confidence", _as_is),
    "select": ("select", _slug_list),
    "ignore": ("ignore", _slug_list),
    "framework": ("framework", lambda value, s: parse_framework(value, _bad_option("framework"))),
    "param": ("rules", lambda value, s: merged_rules(s.rules, [parse_param_option(p) for p in value])),
    "max_input_size": ("max_input_size", lambda value, s: parse_size_setting(value, _bad_option("max_input_size"))),
    "plot": ("plot", _as_is),
    "quiet": ("quiet", _as_is),
    "x": ("x", _as_is),
    "train": ("train", _as_is),
    "val": ("val", _as_is),
}
"""The command-line options :meth:`Settings.merged` takes: option → (the setting it sets, how its value
is checked and parsed, given the settings it goes over). ``fail_on``, ``min_confidence``, ``select`` and
``ignore`` are checked with the rules they name, by :mod:`lossdoc.policy`."""
