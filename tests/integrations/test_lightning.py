"""PyTorch Lightning on CPU: a run that blows up is stopped at the step where it does."""

from __future__ import annotations

from pathlib import Path

from integrations.conftest import need


def _data(torch: object) -> tuple[object, object]:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y[:, None], dtype=torch.float32)  # type: ignore[attr-defined]


def test_a_run_that_blows_up_is_reported_and_stopped_at_that_step(tmp_path: Path) -> None:
    torch = need("torch")
    need("lightning")
    import lightning.pytorch as pl

    from lossdoc.integrations.lightning import LossdocCallback

    x, y = _data(torch)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=len(x))

    class Regression(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(10, 1)

        def training_step(self, batch: tuple, batch_idx: int) -> object:
            # the learning rate jumps at step 30, far past what this problem can take
            for group in self.optimizers().optimizer.param_groups:
                group["lr"] = 0.01 if self.global_step < 30 else 0.4
            return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

        def configure_optimizers(self) -> object:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    callback = LossdocCallback(stop_on="error", log=lambda _: None, report_to=tmp_path / "report.json")
    trainer = pl.Trainer(
        max_epochs=120,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
    )
    trainer.fit(Regression(), loader)
    [alert] = [a for a in callback.monitor.alerts if a.kind == "new" and a.finding.severity == "error"]
    assert 29 <= alert.finding.start <= 35  # the first steps at the new rate still go down
    assert callback.stopped_at == alert.detected_at < 60
    assert trainer.global_step == callback.stopped_at + 1
    assert '"divergence"' in (tmp_path / "report.json").read_text()
