"""The output formats ``--format`` accepts: one table, which ``config.FORMATS``, the CLI's help and
``emit`` all read.

Adding an output format: a module in ``lossdoc/report/`` with ``render(report: Report) -> str`` (see
:class:`Renderer`; it reads only the report's Diagnosis and Finding records), and one
:class:`OutputFormat` line in :data:`FORMATTERS`. This module imports nothing heavy: ``lossdoc
--help`` reads it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lossdoc.report import Report


class Renderer(Protocol):
    """An output format's module: the whole report as one text."""

    def render(self, report: Report) -> str: ...


@dataclass(frozen=True)
class OutputFormat:
    name: str
    module: str
    """The module that writes it (imported only when the format is used)."""
    description: str

    def renderer(self) -> Renderer:
        return importlib.import_module(self.module)  # type: ignore[return-value]


DEFAULT = "table"
"""The format of the terminal: printed to a rich Console by :func:`lossdoc.report.terminal.print_report`
(its module has no ``render``: the console's width and colours decide the text)."""

FORMATTERS: dict[str, OutputFormat] = {f.name: f for f in (
    OutputFormat("table", "lossdoc.report.terminal", "a summary table, each run's findings and advice (terminal)"),
    OutputFormat("json", "lossdoc.report.json", "one JSON document: every run, finding and error"),
    OutputFormat("markdown", "lossdoc.report.markdown", "Markdown for a pull request or a notebook"),
    OutputFormat("html", "lossdoc.report.html", "one self-contained HTML page, plots embedded"),
    OutputFormat("github", "lossdoc.report.github", "GitHub Actions annotations (and the job's step summary)"),
    OutputFormat("junit", "lossdoc.report.junit", "JUnit XML, one test case per run and rule"),
)}  # fmt: skip
"""Every output format, in the order the help lists them."""


def formats_help() -> str:
    """The ``--format`` help: ``table (default), json, ...``."""
    return ", ".join(f"{name} (default)" if name == DEFAULT else name for name in FORMATTERS) + "."
