"""Hugging Face Trainer callback: ``Trainer(..., callbacks=[LossdocCallback(stop_on="error")])``.

Fed every ``on_log`` (``loss``, ``eval_loss``, ``learning_rate``, ``grad_norm``; x: ``state.global_step``).
A stop asks the Trainer to save a checkpoint and end, as its own early stopping does.
"""

from __future__ import annotations

import os
from typing import Any

from transformers import TrainerCallback

from lossdoc.integrations import WatchedCallback, Watcher

SUMMARY_KEYS = ("train_runtime", "train_loss", "total_flos")
"""The Trainer's last log is a summary of the run (an average loss), not a point of the curve."""


class LossdocCallback(WatchedCallback, TrainerCallback):  # type: ignore[misc]
    """Watch the run with lossdoc: report new findings, stop on ``stop_on`` (opt-in), report at the end."""

    def __init__(
        self,
        stop_on: str | None = None,
        report_to: str | os.PathLike[str] | None = None,
        plot: str | os.PathLike[str] | None = None,
        log: Any = None,
        **monitor_options: Any,
    ) -> None:
        self.watcher = Watcher(
            stop_on=stop_on, report_to=report_to, plot=plot, log=log, framework="transformers", **monitor_options
        )

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or any(k in logs for k in SUMMARY_KEYS):
            return
        if not state.is_world_process_zero:
            return
        self.watcher.feed(state.global_step, {k: v for k, v in logs.items() if k != "epoch"})
        if self.watcher.wants_stop():
            control.should_training_stop = True
            control.should_save = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self.watcher.finish()
