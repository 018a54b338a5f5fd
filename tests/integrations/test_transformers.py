"""Hugging Face Trainer (with accelerate) on CPU: a tiny model from a config overfits a few examples; the
callback says so near the best evaluation, and with stop_on it stops there."""

from __future__ import annotations

from pathlib import Path

from integrations.conftest import need


def _trainer(tmp_path: Path, callback: object, steps: int) -> object:
    torch = need("torch")
    transformers = need("transformers")
    need("accelerate")
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    tokens = (x / 4).astype("int64")  # pixel intensities 0..4 as tokens: each image a 64-token sequence

    class Digits(torch.utils.data.Dataset):
        def __init__(self, rows: slice) -> None:
            self.x, self.y = torch.tensor(tokens[rows]), torch.tensor(y[rows])

        def __len__(self) -> int:
            return len(self.y)

        def __getitem__(self, i: int) -> dict[str, object]:
            return {"input_ids": self.x[i], "labels": self.y[i]}

    transformers.set_seed(0)
    config = transformers.BertConfig(
        vocab_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=10,
    )
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=steps,
        per_device_train_batch_size=40,
        learning_rate=3e-3,
        eval_strategy="steps",
        eval_steps=5,
        logging_steps=5,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    return transformers.Trainer(
        model=model,
        args=args,
        train_dataset=Digits(slice(0, 40)),
        eval_dataset=Digits(slice(1500, 1700)),
        callbacks=[callback],
    )


def test_an_overfitting_run_is_reported_near_its_best_evaluation_and_stopped_when_asked(tmp_path: Path) -> None:
    need("transformers")
    from lossdoc.integrations.transformers import LossdocCallback

    callback = LossdocCallback(stop_on="overfitting", log=lambda _: None, plot=tmp_path / "curves.png")
    trainer = _trainer(tmp_path, callback, steps=300)
    trainer.train()
    evals = [(e["step"], e["eval_loss"]) for e in trainer.state.log_history if "eval_loss" in e]
    best = min(evals, key=lambda e: e[1])[0]
    [alert] = [a for a in callback.monitor.alerts if a.kind == "new" and a.finding.rule == "overfitting"]
    assert abs(alert.finding.start - best) <= 20
    assert callback.stopped_at == alert.detected_at
    assert trainer.state.global_step == callback.stopped_at < 300
    assert (tmp_path / "curves.png").stat().st_size > 1000
