"""Typer command classes that skip building a pydantic validator for plain options.

Typer 0.29 coerces every parameter through a pydantic ``TypeAdapter``, built when the parameter is
first processed. Importing pydantic and building a dozen adapters costs more, on every
``lossdoc analyze`` call, than reading a 100-epoch log (benchmarks/README.md). lossdoc's options are plain strings,
flags, paths and lists of strings, which need no validation beyond what the command does itself,
so :class:`LeanCommand` and :class:`LeanGroup` give those parameters a coercion that gives the same
values without pydantic. Anything else (or a value of an unexpected type) goes to Typer's own
coercion, and on a Typer without this machinery the classes are Typer's own, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.core import TyperCommand, TyperGroup

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # a Typer without pydantic coercion: nothing to skip
    RuntimeParam = None  # type: ignore[assignment,misc]

PLAIN = (str, bool, Path, list[str])


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):  # type: ignore[misc,valid-type]
        """Strings stay strings, flags stay flags, a path becomes a Path with Typer's own checks."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = self.annotation
            if kind is str and isinstance(value, str):
                return value
            if kind is bool and isinstance(value, bool):
                return value
            if kind is Path and isinstance(value, str) and value:
                return coerce_cli_path(Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx)
            if kind == list[str] and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return list(value)
            return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

    def _plain_help(params: list[Any]) -> None:
        """An argument with a metavar is shown as that metavar: ``PATH...`` in the usage line and the
        help, ``[RULE]`` when it may be left out; Typer's own type labels are for the reader of the
        code (``<list[str]>``), not of the help."""
        from typer.core import TyperArgument

        for p in params:
            if not isinstance(p, TyperArgument) or p.metavar is None:
                continue
            name = p.metavar if p.required else f"[{p.metavar}]"
            p._usage_display_name = lambda name=name: name  # type: ignore[method-assign]
            p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]

    def _lighten(params: list[Any]) -> None:
        for p in params:
            if not isinstance(p, _TyperParameter) or getattr(p, "_runtime_param", "") is not None:
                continue
            desc = p.type_descriptor
            if desc.file_annotation is None and desc.parameter_info.parser is None and desc.annotation in PLAIN:
                p._runtime_param = PlainRuntimeParam(annotation=desc.annotation, parameter_info=desc.parameter_info)

    class _Lean:
        """Mixed into a Typer command or group: its plain options skip pydantic, and its help shows
        arguments by their metavar alone (no ``{paths}`` or ``<list[str]>``)."""

        params: list[Any]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _lighten(self.params)
            _plain_help(self.params)

        def get_params(self, ctx: Any) -> list[Any]:
            params = super().get_params(ctx)  # type: ignore[misc]
            _lighten(params)  # the --help option is made here
            return params

    class LeanCommand(_Lean, TyperCommand):
        pass

    class LeanGroup(_Lean, TyperGroup):
        pass

else:
    LeanCommand = TyperCommand  # type: ignore[misc]
    LeanGroup = TyperGroup  # type: ignore[misc]


def _command_name(info: Any) -> str | None:
    if info.name:
        return str(info.name)
    callback = getattr(info, "callback", None)
    return callback.__name__.lower().replace("_", "-") if callback is not None else None


@contextmanager
def only_the_invoked_command(app: Any, args: list[str]) -> Iterator[None]:
    """While Typer runs ``app`` on ``args``, register only the command they name.

    Typer turns every registered command into a click command before it runs one, evaluating each
    parameter's annotations (``Annotated[...]`` strings, under ``from __future__ import annotations``):
    for ``lossdoc analyze`` that is most of the time between start-up and reading the log. The named
    command is built as before, with the same name, help and errors; without exactly one command
    named first (``--help``, a typo, no arguments), every command is registered, as Typer lists them.
    """
    name = args[0] if args else None
    commands = [c for c in app.registered_commands if _command_name(c) == name]
    groups = [g for g in app.registered_groups if _command_name(g) == name]
    if name is None or len(commands) + len(groups) != 1:
        yield
        return
    saved = app.registered_commands, app.registered_groups
    app.registered_commands, app.registered_groups = commands, groups
    try:
        yield
    finally:
        app.registered_commands, app.registered_groups = saved
