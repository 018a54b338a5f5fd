"""lossdoc/lean_typer.py patches Typer's private API to skip pydantic: these fail loudly when that API
moves (a new Typer), instead of lossdoc silently falling back to the slow path or coercing wrongly."""

from __future__ import annotations

import dataclasses
import inspect

import typer
import typer.main
from typer.core import TyperCommand

from lossdoc.cli import app
from lossdoc.lean_typer import LeanCommand


def test_the_private_typer_api_lean_typer_uses_is_there():
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
    from typer.core import _TyperParameter

    assert dataclasses.is_dataclass(RuntimeParam)
    assert {f.name for f in dataclasses.fields(RuntimeParam)} >= {"annotation", "parameter_info"}
    assert list(inspect.signature(RuntimeParam._coerce_value).parameters)[:4] == ["self", "value", "param", "ctx"]
    assert callable(build_runtime_param) and callable(coerce_cli_path)
    analyze = typer.main.get_command(app).commands["analyze"]  # type: ignore[attr-defined]
    for p in analyze.params:
        assert isinstance(p, _TyperParameter)
        desc = p.type_descriptor  # what lean_typer reads to tell a plain option
        assert hasattr(desc, "file_annotation") and hasattr(desc, "annotation")
        assert hasattr(desc.parameter_info, "parser")


def test_the_lean_command_is_in_use_and_lightens_every_plain_option():
    assert LeanCommand is not TyperCommand, f"typer {typer.__version__}: lean_typer fell back to Typer's own classes"
    analyze = typer.main.get_command(app).commands["analyze"]  # type: ignore[attr-defined]
    assert isinstance(analyze, LeanCommand)
    kinds = {type(getattr(p, "_runtime_param", None)).__name__ for p in analyze.params}
    assert kinds == {"PlainRuntimeParam"}


def test_options_still_parse_to_the_same_values(tmp_path):
    from typer.testing import CliRunner

    log = tmp_path / "run.csv"
    log.write_text("epoch,loss\n" + "".join(f"{i},{1 / (i + 1):.4f}\n" for i in range(30)))
    result = CliRunner().invoke(app, ["analyze", str(log), "--format", "json", "--select", "plateau", "-q"])
    assert result.exit_code in (0, 1), result.output
    assert '"schema_version": 1' in result.output


def test_only_the_invoked_command_is_built_and_every_command_comes_back():
    from lossdoc.lean_typer import only_the_invoked_command

    every = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"analyze", "watch", "compare", "golden"} <= every
    for name in sorted(every):
        with only_the_invoked_command(app, [name, "x"]):
            assert set(typer.main.get_command(app).commands) == {name}  # type: ignore[attr-defined]
        assert set(typer.main.get_command(app).commands) == every  # type: ignore[attr-defined]
    for args in ([], ["--help"], ["analyz", "x"], ["-h"]):
        with only_the_invoked_command(app, args):
            assert set(typer.main.get_command(app).commands) == every  # type: ignore[attr-defined]


def test_a_command_built_alone_parses_and_helps_as_when_built_with_the_rest():
    from typer.testing import CliRunner

    from lossdoc.lean_typer import only_the_invoked_command

    runner = CliRunner()
    for args in (
        ["analyze", "--help"],
        ["golden", "--help"],
        ["analyze", "--no-such-option", "x"],
        ["explain", "plateau"],
    ):
        whole = runner.invoke(app, args)
        with only_the_invoked_command(app, args):
            alone = runner.invoke(app, args)
        assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)
