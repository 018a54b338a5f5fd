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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
