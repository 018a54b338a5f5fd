"""Every module imports on its own, first: no import cycle that works only in one order."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import lossdoc

SKIPPED = ("lossdoc.integrations.", "lossdoc.__main__")
"""Modules that import a training framework the tests may not have, and the one that runs the app."""


def test_every_module_imports_first_in_a_fresh_interpreter():
    names = [m.name for m in pkgutil.walk_packages(lossdoc.__path__, "lossdoc.") if not m.name.startswith(SKIPPED)]
    code = (
        "import importlib, sys\n"
        "bad = []\n"
        f"for name in {names!r}:\n"
        "    for m in [m for m in sys.modules if m == 'lossdoc' or m.startswith('lossdoc.')]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as exc:\n"
        "        bad.append(f'{name}: {exc}')\n"
        "print('\\n'.join(bad))\n"
    )
    assert fresh_python(code) == ""


def fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (which must exit cleanly), stripped."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_analysis_types_import_neither_the_reports_nor_the_api():
    """The analysis layer's records know nothing of reports: the API's subclass adds the user's methods."""
    code = (
        "import sys, lossdoc.analysis.types\n"
        "print(' '.join(m for m in sys.modules if m.startswith(('lossdoc.report', 'lossdoc.api', 'lossdoc.diagnosis',"
        " 'lossdoc.plot', 'lossdoc.advice'))))\n"
    )
    assert fresh_python(code) == ""


def test_the_api_hands_out_diagnoses_with_their_methods():
    from lossdoc.analysis import types

    [d] = lossdoc.analyze(train=[2.0 * 0.9**e for e in range(30)])
    monitor = lossdoc.Monitor()
    for step in range(30):
        monitor.update(step, loss=2.0 * 0.9**step)
    for run in (d, monitor.diagnosis()):
        assert isinstance(run, lossdoc.Diagnosis) and isinstance(run, types.Diagnosis)
        for method in ("to_dict", "to_json", "plot", "_repr_html_"):
            assert callable(getattr(run, method))
    assert not hasattr(types.Diagnosis, "to_json")
