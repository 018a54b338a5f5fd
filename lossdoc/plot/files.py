"""Plot files: where each figure goes (safe names, targets that are refused), and atomic writes."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from lossdoc.analysis.types import Diagnosis
from lossdoc.atomic import replacing
from lossdoc.errors import InputError, LossdocError, first_line
from lossdoc.plot.draw import Sketch, figure, figure_of
from lossdoc.plot.prepare import Drawing, figure_name, groups, prepare

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
PLOT_MAGIC = {".png": (b"\x89PNG",), ".svg": (b"<?xml", b"<svg"), ".pdf": (b"%PDF",)}
"""How each kind of plot file starts: an existing file is only overwritten when it is one."""


def draw(diags: Diagnosis | list[Diagnosis], path: Path, smoothing: float | None = None) -> Path:
    """Write the figure for one run (or one panel per run) to ``path``; format from its suffix."""
    fig = figure(diags if isinstance(diags, list) else [diags], smoothing)
    return save_atomic(fig, path)


def render_bytes(diags: list[Diagnosis], smoothing: float | None = None, fmt: str = "png") -> bytes:
    """The figure as bytes (for embedding in an HTML report)."""
    import io

    buf = io.BytesIO()
    figure(diags, smoothing).savefig(buf, format=fmt, metadata=_metadata(fmt))
    return buf.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    """No timestamps or versions in the files: the same run gives the same bytes."""
    if fmt == "png":
        return {"Software": None}
    if fmt in ("svg", "pdf"):
        return {"Date": None, "Creator": None} if fmt == "svg" else {"CreationDate": None, "Creator": None}
    return {}


def save_atomic(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` atomically (see :mod:`lossdoc.atomic`): never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower() if path.suffix.lower() in PLOT_SUFFIXES else ".png"
    fmt = suffix.lstrip(".")
    with replacing(path, suffix) as tmp:
        fig.savefig(tmp, format=fmt, metadata=_metadata(fmt))
    return path


def check_target(target: Path, inputs: set[str] | None = None) -> None:
    """Refuse a ``--plot`` target lossdoc cannot write plots to, before any log is read: a suffix
    that is not a plot type (``x.jpg`` would otherwise become a folder), or an existing file that is
    not a plot of its suffix's type (a log, a README, a CSV renamed .png). Raises LossdocError."""
    kinds = ", ".join(PLOT_SUFFIXES)
    suffix = target.suffix.lower()
    if target.is_dir():
        return
    if suffix and suffix not in PLOT_SUFFIXES:
        raise LossdocError("--plot", f"'{target}': {suffix} is not a plot type; use {kinds}, or a folder")
    if not target.exists() or target.resolve() in {Path(p).resolve() for p in inputs or () if p != "-"}:
        return  # an input given as the target: write_plots refuses it with the other plot errors
    if not suffix:
        raise LossdocError("--plot", f"'{target}' is a file, not a folder; name a {kinds} file or a folder")
    try:
        with open(target, "rb") as fh:
            head = fh.read(64).lstrip()
    except OSError as exc:
        raise LossdocError("--plot", f"'{target}': cannot read it ({exc.strerror or exc})") from None
    if head and not head.startswith(PLOT_MAGIC[suffix]):
        raise LossdocError(
            "--plot", f"'{target}' exists and is not a {suffix[1:].upper()} plot; refusing to overwrite it"
        )


def safe_name(name: str) -> str:
    """A file name from a run name: no separators, no '..', nothing hidden, never empty."""
    keep = "".join(c if c.isalnum() or c in "-_.[]" else "_" for c in name)
    while ".." in keep:
        keep = keep.replace("..", "_")
    keep = keep.strip("._") or "run"
    # A file name is at most 255 *bytes*: 120 characters of CJK or emoji would be refused by the file
    # system; leave room for a suffix, a de-duplicating "_2" and a prefix.
    while len(keep.encode("utf-8", "surrogateescape")) > 120:
        keep = keep[:-1]
    return keep


def plan_outputs(diagnoses: list[Diagnosis], target: Path) -> list[tuple[list[int], Path]]:
    """Where each figure goes: ``target`` itself for a single figure named like a plot file, else
    ``target/<run>.png`` (or ``<stem>_<run><suffix>`` beside a file target). Names come from run names
    made safe and de-duplicated, so nothing is written outside the target folder."""
    figs = groups(diagnoses)
    single_file = target.suffix.lower() in PLOT_SUFFIXES
    if single_file and len(figs) == 1:
        return [(figs[0], target)]
    folder = target.parent if single_file else target
    prefix = f"{target.stem}_" if single_file else ""
    suffix = target.suffix.lower() if single_file else ".png"
    used: set[str] = set()
    out = []
    for idx in figs:
        base = prefix + safe_name(figure_name([diagnoses[i] for i in idx]))
        name, k = base, 1
        while name.lower() in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name.lower())
        out.append((idx, folder / f"{name}{suffix}"))
    return out


def _drawing(d: Diagnosis, prepared: Drawing | None, smoothing: float | None) -> Drawing:
    return prepared if prepared is not None else prepare(d, smoothing)


def protected_paths(report: Any, inputs: set[str]) -> set[Path]:
    """Every file the command line named or matched, read or not (one that failed to parse is still
    somebody's file), and every log the runs came from: no plot may replace any of them."""
    import glob

    from lossdoc.ingest import glob_paths

    named: set[str] = set()
    for spec in inputs:
        if spec in ("-", ""):
            continue
        named.add(spec)
        if glob.has_magic(spec):
            with contextlib.suppress(OSError, ValueError):
                named.update(glob_paths(spec))
    named |= {d.history.source for d in report.diagnoses if not d.history.source.startswith("<")}
    named |= {e.source for e in report.errors if not e.source.startswith(("<", "-"))}
    out: set[Path] = set()
    for p in named:
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            out.add(Path(p).resolve())
    return out


def write_plots(
    report: Any,
    target: Path,
    smoothing: float | None,
    inputs: set[str],
    drawings: list[Drawing | None] | None = None,
    sketches: dict[tuple[int, ...], Sketch] | None = None,
) -> None:
    """Draw every figure of ``report`` under ``target``; refuse to overwrite any input file.

    ``drawings`` are the runs already prepared (see :func:`prepare`; None for a run to prepare here),
    for a process that is sent them instead of the runs' points, and ``sketches`` figures it began
    (by the keys of their runs). Problems become report errors (exit code 2), never exceptions: the
    other plots are still written.
    """
    protected = protected_paths(report, inputs)
    for idx, out in plan_outputs(report.diagnoses, target):
        if out.resolve() in protected:
            report.errors.append(InputError(str(out), "refusing to overwrite an input file with a plot"))
            report.exit_code = 2
            continue
        if out.is_dir():
            report.errors.append(InputError(str(out), "cannot write plot (a folder has that name)"))
            report.exit_code = 2
            continue
        try:
            runs = [_drawing(report.diagnoses[i], drawings[i] if drawings else None, smoothing) for i in idx]
            sketched = sketches.pop(tuple(dr.key for dr in runs), None) if sketches else None
            if sketched is not None and sketched.names != tuple(dr.run.history.name for dr in runs):
                sketched = None  # the run was renamed after it was sketched (see ingest.names.distinct_names)
            save_atomic(figure_of(runs, sketched), out)
        except OSError as exc:
            report.errors.append(InputError(str(out), f"cannot write plot ({exc.strerror or exc})"))
            report.exit_code = 2
            continue
        except Exception as exc:  # matplotlib gives up on some extreme values: one plot lost, not the call
            first = first_line(exc)
            report.errors.append(InputError(str(out), f"cannot draw plot ({first})"))
            report.exit_code = 2
            continue
        for i in idx:
            report.plots[i] = str(out)
