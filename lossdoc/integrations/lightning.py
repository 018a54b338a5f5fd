"""PyTorch Lightning callback: ``Trainer(callbacks=[LossdocCallback(stop_on="error")])``.

Fed the training loss of every batch (x: the optimizer step that batch made, counted from 0) and, after
each validation, the validation metrics in ``trainer.callback_metrics`` whose names look like a validation loss.
"""

from __future__ import annotations

import os
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError:  # the older package name
    import pytorch_lightning as pl  # type: ignore[no-redef]

from lossdoc.integrations import WatchedCallback, Watcher


class LossdocCallback(WatchedCallback, pl.Callback):  # type: ignore[misc]
    """Watch the run with lossdoc: report new findings, stop on ``stop_on`` (opt-in), report at the end."""

    def __init__(
        self,
        stop_on: str | None = None,
        report_to: str | os.PathLike[str] | None = None,
        plot: str | os.PathLike[str] | None = None,
        log: Any = None,
        **monitor_options: Any,
    ) -> None:
        super().__init__()
        self.watcher = Watcher(
            stop_on=stop_on, report_to=report_to, plot=plot, log=log or print, framework="lightning", **monitor_options
        )

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None or trainer.sanity_checking:
            return
        # called after the optimizer step: the batch's loss belongs to the step before it
        self.watcher.feed(trainer.global_step - 1, {"train_loss": loss})
        self._maybe_stop(trainer)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        from lossdoc.ingest.roles import classify_loss

        found = {}
        for name, value in trainer.callback_metrics.items():
            column = classify_loss(name)
            if column is not None and column.split == "val":
                found[name] = value
        self.watcher.feed(trainer.global_step, found)
        self._maybe_stop(trainer)

    def _maybe_stop(self, trainer: Any) -> None:
        if self.watcher.wants_stop():
            trainer.should_stop = True

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.is_global_zero:
            self.watcher.finish()
