"""Tiny real training runs on CPU with each framework. Skipped (with the reason) only when a framework is
not installed; CI installs them (``.[integrations]``) and sets LOSSDOC_REQUIRE_INTEGRATIONS=1, which turns
a missing framework into a failure."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def need(module: str) -> ModuleType:
    """The framework's module, or a skip naming it (a failure when LOSSDOC_REQUIRE_INTEGRATIONS is set)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"{module} is not installed (pip install '.[integrations]'): {exc}"
        if os.environ.get("LOSSDOC_REQUIRE_INTEGRATIONS"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch = importlib.util.find_spec("torch")
    if torch is not None:
        import torch as t

        t.set_num_threads(2)
        t.manual_seed(0)
