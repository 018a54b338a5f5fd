"""Settings: defaults, then ``[tool.lossdoc]`` of the nearest config file, then the command line.

The file is the nearest ``lossdoc.toml`` (top-level keys) or ``pyproject.toml`` with a
``[tool.lossdoc]`` table, walking up from the current directory and stopping at the folder that
holds ``.git`` (or the filesystem root); ``--config FILE`` names one explicitly. Keys may be written
kebab-case or snake_case. Per-rule thresholds live in ``[tool.lossdoc.rules.<slug>]`` and map to
that rule's ``Params`` fields (``lossdoc explain <slug>`` lists them).

Every value is checked (:mod:`lossdoc.config_checks`) before any log is read: a wrong key or value raises
:class:`LossdocError` whose ``source`` is the file and table (``pyproject.toml [tool.lossdoc]``)
and whose ``message`` names the key, which the CLI prints as one line and exit code 2.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from lossdoc.config_checks import (
    CHECKS,
    DETAILS,
    FORMATS,
    Bad,
    TableAt,
    merged_rules,
    parse_framework,
    parse_param_option,
    parse_size_setting,
    parse_smoothing,
    shown_value,
)
from lossdoc.errors import LossdocError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


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


def _tool_table(data: dict[str, Any], path: Path) -> Any:
    """``[tool]`` of a pyproject.toml, checked to be a table (``tool = 1`` is not)."""
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise LossdocError(_shown(path), f"'tool' must be a table, not {shown_value(tool)}")
    return tool


def _lossdoc_table(table: Any, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise LossdocError(f"{_shown(path)} [tool.lossdoc]", f"must be a table, not {shown_value(table)}")
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
