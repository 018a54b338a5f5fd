"""Keras 3 (torch backend) on CPU: a run that diverges is stopped where it does; one that overfits is told so."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from integrations.conftest import need


def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    return x.astype("float32"), ((y - y.mean()) / y.std()).astype("float32")


def test_a_diverging_run_is_reported_and_stopped_at_that_epoch() -> None:
    keras = need("keras")
    from lossdoc.integrations.keras import LossdocCallback

    keras.utils.set_random_seed(0)
    x, y = _diabetes()
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    lines: list[str] = []
    callback = LossdocCallback(stop_on="error", log=lines.append)
    # A well-behaved start, then the learning rate jumps from epoch 10: the loss blows up.
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 if epoch < 10 else 0.4)
    history = model.fit(x, y, epochs=40, batch_size=len(x), verbose=0, callbacks=[schedule, callback])
    [alert] = [a for a in callback.monitor.alerts if a.kind == "new" and a.finding.severity == "error"]
    assert alert.finding.rule in ("divergence", "non-finite")
    assert 10 <= alert.finding.start <= 13
    assert callback.stopped_at == alert.detected_at
    assert len(history.epoch) == callback.stopped_at + 1 < 40
    assert any("new " + alert.finding.rule in line for line in lines)


def test_an_overfitting_run_is_reported_near_its_best_epoch_and_writes_its_report(tmp_path: Path) -> None:
    keras = need("keras")
    from sklearn.datasets import load_digits

    from lossdoc.integrations.keras import LossdocCallback

    keras.utils.set_random_seed(0)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    callback = LossdocCallback(log=lambda _: None, report_to=tmp_path / "report.md", plot=tmp_path / "curves.png")
    # 100 training images for a 256-unit layer: it learns them by heart within a few dozen epochs.
    history = model.fit(
        x[:100],
        y[:100],
        validation_data=(x[1500:], y[1500:]),
        epochs=40,
        batch_size=100,
        verbose=0,
        callbacks=[callback],
    )
    assert len(history.epoch) == 40  # no stop unless asked
    [alert] = [a for a in callback.monitor.alerts if a.kind == "new" and a.finding.rule == "overfitting"]
    best = int(np.argmin(history.history["val_loss"]))
    assert abs(alert.finding.start - best) <= 3
    assert alert.detected_at <= best + 10  # told while training, a few epochs after the best one
    assert "overfitting" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "curves.png").stat().st_size > 1000
