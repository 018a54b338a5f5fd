"""Text the tool prints about itself: rule documentation and the list of formats."""

from __future__ import annotations

import dataclasses
import inspect

from lossdoc.ingest.readers import FORMATS

FORMATS_INTRO = (
    "Formats are recognised from the content (the file name is only a hint). gzip-compressed files are read "
    "like the plain ones; '-' reads standard input; a folder is searched and every log found in it is a run "
    "named by its relative path. The 'format' of each run is reported."
)
FORMATS_OUTRO = (
    "Everywhere: a column is a loss by its name (loss, logloss, rmse, mse, l2, error ...), never when it is a "
    "higher-is-better metric (accuracy, AUC, mAP, F1 ...); repeated or backwards x values (a resumed run) keep "
    "the last write, and the run's notes say so. Override the choice with --x, --train, --val."
)
FORMAT_DOCS = {name: f.doc for name, f in FORMATS.items()}
"""What each format is and what is handled (the table is :data:`lossdoc.ingest.readers.FORMATS`)."""


def _wrap(text: str, width: int, **kw: str) -> list[str]:
    """Lines of at most ``width``, broken between words only (never inside "no-epoch" or a path)."""
    import textwrap

    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False, **kw)


def _fill(text: str, width: int, **kw: str) -> str:
    return "\n".join(_wrap(text, width, **kw))


def reader_formats() -> list[str]:
    """Every format name a reader can report, read from the readers' own source: each ``fmt=...``
    argument, ``fmt``/``FORMAT`` assignment and ``return`` of a ``*_format`` function that is a string.
    A test holds this equal to :data:`FORMATS`, so a new format cannot be left out of the table."""
    import ast
    import importlib.util

    found: list[str] = []

    def strings(node: ast.AST) -> list[str]:
        return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]

    from lossdoc.ingest.readers import READERS, ROUTED

    # every reader's module, and the frame helpers they hand their columns to
    modules = dict.fromkeys(
        [*(entry.module for entry in READERS), *ROUTED, "lossdoc.ingest.frame", "lossdoc.ingest.histories"]
    )
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            argument = isinstance(node, ast.keyword) and node.arg == "fmt"
            assigned = isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in ("fmt", "FORMAT") for t in node.targets
            )
            if argument or assigned:
                found += strings(node.value)  # type: ignore[attr-defined]
            elif isinstance(node, ast.FunctionDef) and node.name.endswith("_format"):
                found += [v for r in ast.walk(node) if isinstance(r, ast.Return) and r.value for v in strings(r.value)]
    ordered = [f for f in FORMAT_DOCS if f in found]
    return ordered + sorted(set(found) - set(ordered))


def formats_text(width: int = 100) -> str:
    """``lossdoc formats``: every format the readers report, laid out for a terminal ``width`` wide."""
    names = list(FORMATS)
    col = max(len(n) for n in names) + 2
    body = max(30, width - col)
    out = [_fill(FORMATS_INTRO, width), "", f"{'format':<{col}}recognised by / quirks handled"]
    for name in names:
        doc = FORMATS[name].doc
        lines = _wrap(doc, body) or [""]
        out.append(f"{name:<{col}}{lines[0]}")
        out += [" " * col + line for line in lines[1:]]
    out += ["", _fill(FORMATS_OUTRO, width)]
    return "\n".join(out)


def plain_docstring(text: str, width: int = 100) -> str:
    """A docstring as a terminal shows it: paragraphs and ``*`` list items re-flowed to ``width``,
    reStructuredText's ````code```` written as plain ``code``."""
    import re

    text = re.sub(r"``([^`]+)``", r"\1", inspect.cleandoc(text))
    text = re.sub(r"/\n\s*", "/", text)  # "a/\nb" was broken at the slash for the source's width only
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        items = re.split(r"\n(?=\s*[*-] )", para)
        for item in items:
            stripped = item.strip()
            if stripped[:2] in ("* ", "- "):
                out.append(_fill(" ".join(stripped[2:].split()), width, initial_indent="* ", subsequent_indent="  "))
            else:
                out.append(_fill(" ".join(stripped.split()), width))
        out.append("")
    return "\n".join(out).rstrip("\n")


def rule_text(rule: object, width: int = 100) -> str:
    """A rule's docstring followed by its parameters, their defaults and what each means, laid out for
    a terminal ``width`` wide."""
    module = rule.module  # type: ignore[attr-defined]
    lines = [plain_docstring(module.__doc__ or "", width), "", f"default severity: {rule.severity}", ""]  # type: ignore[attr-defined]
    fields = dataclasses.fields(module.Params)
    if not fields:
        lines.append("parameters: none")
        return "\n".join(lines)
    slug = rule.slug  # type: ignore[attr-defined]
    lines.append(
        _fill(
            f"parameters (set them in [tool.lossdoc.rules.{slug}] of pyproject.toml, or --param {slug}.NAME=VALUE):",
            width,
        )
    )
    for f in fields:
        lines.append(f"  {f.name} = {f.default!r}")
        if "doc" in f.metadata:
            doc = " ".join(f.metadata["doc"].split()).replace("``", "")
            lines.append(_fill(doc, width, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)
