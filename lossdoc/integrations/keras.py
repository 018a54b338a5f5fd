"""Keras 3 callback: ``model.fit(..., callbacks=[LossdocCallback(stop_on="error")])``.

Fed once per epoch with the epoch's logs (``loss``, ``val_loss``, ...): Keras's per-batch ``loss`` is a
running mean over the epoch so far, which hides where within it a blow-up began. ``every="batch"``
feeds it per batch anyway (x: the batch count over the run), for long epochs.
"""

from __future__ import annotations

import os
from typing import Any

import keras

from lossdoc.integrations import WatchedCallback, Watcher


class LossdocCallback(WatchedCallback, keras.callbacks.Callback):  # type: ignore[misc]
    """Watch the run with lossdoc: report new findings, stop on ``stop_on`` (opt-in), report at the end."""

    def __init__(
        self,
        stop_on: str | None = None,
        report_to: str | os.PathLike[str] | None = None,
        plot: str | os.PathLike[str] | None = None,
        every: str = "epoch",
        log: Any = None,
        **monitor_options: Any,
    ) -> None:
        super().__init__()
        if every not in ("epoch", "batch"):
            raise ValueError("every= is 'epoch' or 'batch'")
        self.every = every
        self.watcher = Watcher(
            stop_on=stop_on,
            report_to=report_to,
            plot=plot,
            log=log or print,
            x_name=every,
            framework="keras",
            **monitor_options,
        )
        self._batches = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if self.every == "batch" and logs:
            self.watcher.feed(self._batches, {"loss": logs.get("loss")})
            if self.watcher.wants_stop():
                self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.every == "epoch":
            self.watcher.feed(epoch, logs)
        else:
            self.watcher.feed(self._batches, {k: v for k, v in logs.items() if k.startswith("val_")})
        if self.watcher.wants_stop():
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.watcher.finish()
