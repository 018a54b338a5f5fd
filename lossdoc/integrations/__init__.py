"""Training callbacks that feed a :class:`~lossdoc.monitor.Monitor` from a framework's own logs.

``lossdoc.integrations.keras``, ``.lightning`` and ``.transformers`` each hold a ``LossdocCallback``;
each imports its framework only when that module is imported (``import lossdoc`` imports none).
What they share lives here: reporting new findings, the opt-in stop, and the report at the end.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lossdoc.monitor import Alert, Monitor

logger = logging.getLogger("lossdoc")

REPORT_FORMATS = {".md": "markdown", ".json": "json", ".html": "html", ".xml": "junit"}
"""``report_to=`` picks its format from the file's suffix (markdown for any other)."""


class WatchedCallback:
    """What every framework's ``LossdocCallback`` shows of its :class:`Watcher` (put first among its bases)."""

    watcher: Watcher

    @property
    def monitor(self) -> Monitor:
        return self.watcher.monitor

    @property
    def stopped_at(self) -> float | None:
        return self.watcher.stopped_at


class Watcher:
    """The framework-free half of every callback."""

    def __init__(
        self,
        *,
        stop_on: str | None = None,
        report_to: str | os.PathLike[str] | None = None,
        plot: str | os.PathLike[str] | None = None,
        log: Callable[[str], None] | None = None,
        name: str = "run",
        x_name: str = "step",
        rules: list[str] | None = None,
        min_confidence: str = "medium",
        framework: str | None = None,
    ) -> None:
        self.stop_on = stop_on
        self.report_to = Path(report_to) if report_to is not None else None
        self.plot_to = Path(plot) if plot is not None else None
        self.log = log or (lambda text: logger.warning(text))
        self.framework = framework
        self.monitor = Monitor(name=name, source=f"<{framework or 'callback'}>", x_name=x_name, rules=rules)
        self.monitor.min_confidence = min_confidence
        self.stopped_at: float | None = None
        """The step (or epoch) at which the callback asked the framework to stop, if it did."""
        self.diagnosis: Any = None
        """The final diagnosis, once training has ended."""
        if stop_on is not None:
            self.monitor.should_stop(stop_on)  # an unknown rule or severity fails here, not mid-run

    def feed(self, step: float, values: Mapping[str, Any]) -> list[Alert]:
        numbers = {k: v for k, v in ((k, _number(v)) for k, v in values.items()) if v is not None}
        if not numbers:
            return []
        alerts = self.monitor.update(step, **numbers)
        for alert in alerts:
            self.log(f"lossdoc: {alert.text(self.monitor.x_name)}")
        return alerts

    def wants_stop(self) -> bool:
        """Whether to stop now (only with ``stop_on``); notes and logs the step the first time."""
        if self.stop_on is None or not self.monitor.should_stop(self.stop_on):
            return False
        if self.stopped_at is None:
            self.stopped_at = self.monitor.last_step
            where = f"{self.monitor.x_name} {_plain(self.stopped_at)}"
            self.log(f"lossdoc: stopping training at {where} (stop_on={self.stop_on!r})")
        return True

    def finish(self) -> None:
        """At the end of training: look at the whole run once more, then write the report and the plot."""
        self.monitor.check()
        if self.report_to is None and self.plot_to is None:
            return
        self.diagnosis = self.monitor.diagnosis(framework=_advice_framework(self.framework))
        if self.diagnosis is None:
            return
        if self.report_to is not None:
            import importlib

            from lossdoc.report import Report

            fmt = REPORT_FORMATS.get(self.report_to.suffix.lower(), "markdown")
            report = Report(diagnoses=[self.diagnosis], errors=[], exit_code=0)
            text = importlib.import_module(f"lossdoc.report.{fmt}").render(report)
            self.report_to.write_text(text, encoding="utf-8")
        if self.plot_to is not None:
            self.diagnosis.plot(self.plot_to)


def _advice_framework(framework: str | None) -> str | None:
    return {"transformers": "huggingface"}.get(framework or "", framework)


def _number(value: Any) -> float | None:
    """A logged value as a float: Python and numpy numbers, 0-d tensors; anything else is skipped."""
    if isinstance(value, bool):
        return None
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numel") and value.numel() != 1:
        return None
    if hasattr(value, "item"):
        try:
            value = value.item()
        except (TypeError, ValueError, RuntimeError):
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _plain(v: float) -> str:
    return str(int(v)) if math.isfinite(v) and float(v).is_integer() else f"{v:g}"
