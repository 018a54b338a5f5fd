"""lossdoc: a command-line doctor for training-loss histories, and its Python API.

``lossdoc.analyze(obj)`` diagnoses a log, a DataFrame, a dict of lists or arrays; ``lossdoc.Monitor``
watches a run as it trains. Names are imported on first use: ``import lossdoc`` loads neither numpy,
pandas nor matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Alert", "Diagnosis", "Finding", "LossHistory", "LossdocError", "Monitor", "__version__", "analyze"]

_LAZY = {
    "analyze": "lossdoc.api",
    "Monitor": "lossdoc.monitor",
    "Alert": "lossdoc.monitor",
    "Diagnosis": "lossdoc.diagnosis",
    "Finding": "lossdoc.analysis.types",
    "LossHistory": "lossdoc.history",
    "LossdocError": "lossdoc.errors",
}

if TYPE_CHECKING:
    from lossdoc.analysis.types import Finding
    from lossdoc.api import analyze
    from lossdoc.diagnosis import Diagnosis
    from lossdoc.errors import LossdocError
    from lossdoc.history import LossHistory
    from lossdoc.monitor import Alert, Monitor


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lossdoc' has no attribute '{name}'")
    import importlib  # start-up time: `import lossdoc` imports none of these names' modules until used

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
