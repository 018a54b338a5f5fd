"""The Typer options several commands share (``analyze``, ``watch``, ``compare``, ``golden``): one
declaration each of the flag, its short form and its metavar. Where the commands word the help alike,
the whole option is one annotated type; where they word it for their own use, a function takes the help.

Typer reads these annotations at run time, so they use ``Optional``: on Python 3.10 it cannot read
``X | None`` there."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer


def format_option(help: str) -> Any:
    return typer.Option("--format", "-f", metavar="FORMAT", help=help)


def output_option(help: str) -> Any:
    return typer.Option("--output", "-o", metavar="FILE", help=help)


def plot_option(help: str, metavar: str = "PATH") -> Any:
    return typer.Option("--plot", metavar=metavar, help=help)


def rules_option(flag: str, help: str) -> Any:
    return typer.Option(flag, metavar="RULES", help=help)


def column_option(flag: str, help: str) -> Any:
    return typer.Option(flag, metavar="COLUMN", help=help)


X = Annotated[Optional[str], column_option("--x", "Column holding the x axis (step, epoch, ...).")]
Train = Annotated[Optional[str], column_option("--train", "Column holding the training loss.")]
Val = Annotated[Optional[str], column_option("--val", "Column holding the validation loss.")]
"""The columns of ``analyze`` and ``compare``."""

ShortX = Annotated[Optional[str], column_option("--x", "The x column.")]
"""The x column of ``watch`` and ``golden``."""
