"""Regenerate the real training logs in ``sample_logs/``.

Every file in this folder was written by the framework's own logger during a
small, real, CPU-only training run made by this script (fixed seeds).

How to run (from the repository root)::

    python3 -m venv /work/fwenv
    /work/fwenv/bin/pip install torch==2.13.0          # CPU wheel
    /work/fwenv/bin/pip install keras lightning transformers accelerate \
        scikit-learn pandas numpy
    /work/fwenv/bin/python sample_logs/make_samples.py            # all samples
    /work/fwenv/bin/python sample_logs/make_samples.py keras_healthy hf_trainer

Keras runs use the PyTorch backend (the script sets ``KERAS_BACKEND=torch``
itself).  Total runtime is about 1-2 minutes on 2 CPU cores.

Versions used to produce the committed files (Python 3.11.7, Linux, CPU):

    torch 2.13.0+cpu, keras 3.15.1, lightning 2.6.6, transformers 5.24.0,
    accelerate 1.15.0, scikit-learn 1.9.1, numpy 2.4.6, pandas 3.1.1

Outputs (all data is local: scikit-learn's bundled digits / diabetes sets, or
synthetic text):

    keras_healthy.csv        keras.callbacks.CSVLogger; digits MLP with L2 +
                             dropout, Adam + cosine LR decay, 50 epochs;
                             converges, val loss flat at the end.
                             (validation_data = 25% held-out split)
    keras_overfitting.csv    keras.callbacks.CSVLogger; 2x512 MLP on 150 digits
                             (20% of their labels randomised), 120 epochs;
                             val_loss bottoms out early then climbs steadily
                             while train loss keeps falling.
    torch_diverging.jsonl    plain PyTorch loop on diabetes regression (MSE),
                             json.dumps per step ({"step","train_loss","lr"},
                             plus "val_loss" every 10 steps); SGD with an
                             exponential learning-rate ramp; loss falls, then
                             explodes to Infinity/NaN.
    lightning_metrics/       lightning.pytorch.loggers.CSVLogger; learning
                             rate far too low -> plateau (loss barely moves).
    hf_trainer/              transformers.Trainer output dir of a tiny GPT-2
                             (built from a config, char-level tokenizer) on
                             synthetic text; checkpoint-{100,200,300}/ and
                             the final trainer_state.json (plus the small
                             config.json files); weights, optimizer/scheduler
                             and RNG state deleted; loss still falling at the
                             end.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
warnings.filterwarnings("ignore")

# One intra-op thread: these models are tiny, and on a shared 2-core machine
# extra OpenMP threads only spin.  Also keeps the runs reproducible.
import torch  # noqa: E402

torch.set_num_threads(1)


def _digits(scale: float = 16.0):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / scale).astype("float32"), y.astype("int64")


# ---------------------------------------------------------------- keras
def keras_healthy() -> None:
    import keras
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(0)
    X, y = _digits()
    Xtr, Xva, ytr, yva = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(
                64, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3)
            ),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    # cosine decay of the learning rate over the run: converges and flattens
    lr = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=50 * 43, alpha=0.05)
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    path = os.path.join(HERE, "keras_healthy.csv")
    model.fit(
        Xtr,
        ytr,
        validation_data=(Xva, yva),
        epochs=50,
        batch_size=32,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(path)],
    )


def keras_overfitting() -> None:
    import keras
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    X, y = _digits()
    Xtr, Xva, ytr, yva = train_test_split(
        X, y, train_size=150, test_size=500, random_state=0, stratify=y
    )
    # Tiny, slightly noisy training set (20% of labels randomised) + a big
    # model: it memorises the training set and validation loss climbs.
    ytr = ytr.copy()
    flip = rng.random(len(ytr)) < 0.2
    ytr[flip] = rng.integers(0, 10, int(flip.sum()))
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    path = os.path.join(HERE, "keras_overfitting.csv")
    model.fit(
        Xtr,
        ytr,
        validation_data=(Xva, yva),
        epochs=120,
        batch_size=16,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(path)],
    )


# ---------------------------------------------------------------- torch
def torch_diverging() -> None:
    import torch
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    torch.manual_seed(0)
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0)
    Xtr, Xva = (torch.tensor(a, dtype=torch.float32) for a in (Xtr, Xva))
    ytr, yva = (torch.tensor(a, dtype=torch.float32).view(-1, 1) for a in (ytr, yva))
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1)
    )
    # SGD with a learning rate that ramps up exponentially (an LR range test
    # left running too long): loss first falls, then diverges to inf/NaN.
    lr0, growth = 5e-4, 1.02
    opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=0.9)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=growth)
    lossf = torch.nn.MSELoss()
    g = torch.Generator().manual_seed(0)
    path = os.path.join(HERE, "torch_diverging.jsonl")
    bad_steps = 0
    with open(path, "w") as fh:
        for step in range(1, 1001):
            idx = torch.randint(0, len(Xtr), (32,), generator=g)
            model.train()
            loss = lossf(model(Xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec = {
                "step": step,
                "train_loss": float(loss.item()),
                "lr": opt.param_groups[0]["lr"],
            }
            if step % 10 == 0:
                model.eval()
                with torch.no_grad():
                    rec["val_loss"] = float(lossf(model(Xva), yva).item())
            fh.write(json.dumps(rec) + "\n")  # NaN/inf written as NaN/Infinity
            sched.step()
            if not math.isfinite(rec["train_loss"]):
                bad_steps += 1
                if bad_steps >= 10:  # keep a few non-finite steps, then stop
                    break


# ---------------------------------------------------------------- lightning
def lightning_metrics() -> None:
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.loggers import CSVLogger
    from sklearn.model_selection import train_test_split
    from torch.utils.data import DataLoader, TensorDataset

    pl.seed_everything(0, verbose=False)
    X, y = _digits()
    Xtr, Xva, ytr, yva = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    tr = DataLoader(
        TensorDataset(torch.tensor(Xtr), torch.tensor(ytr)),
        batch_size=32,
        shuffle=True,
    )
    va = DataLoader(TensorDataset(torch.tensor(Xva), torch.tensor(yva)), batch_size=256)

    class LitMLP(pl.LightningModule):
        def __init__(self, lr: float = 1e-5, hidden: int = 64):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
            )

        def training_step(self, batch, _):
            x, t = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), t)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            x, t = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), t)
            self.log("val_loss", loss, on_epoch=True)

        def configure_optimizers(self):
            # far too small a learning rate for plain SGD: a plateau
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    out = os.path.join(HERE, "lightning_metrics")
    shutil.rmtree(out, ignore_errors=True)
    trainer = pl.Trainer(
        max_epochs=15,
        logger=CSVLogger(save_dir=HERE, name="lightning_metrics"),
        log_every_n_steps=5,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(LitMLP(), tr, va)


# ---------------------------------------------------------------- transformers
def _synthetic_text(n_sentences: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    subj = ["the cat", "a dog", "my friend", "the robot", "our teacher", "the bird"]
    verb = ["sees", "likes", "finds", "paints", "follows", "carries"]
    obj = ["a red ball", "the old map", "two green apples", "the small box",
           "a paper boat", "the blue kite"]
    tail = ["today", "in the park", "after lunch", "at night", "again", "slowly"]
    return " ".join(
        f"{rng.choice(subj)} {rng.choice(verb)} {rng.choice(obj)} {rng.choice(tail)}."
        for _ in range(n_sentences)
    )


class _CharTokenizer:
    """A minimal character-level tokenizer (no hub download needed)."""

    def __init__(self, text: str):
        self.itos = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def encode(self, s: str) -> list[int]:
        return [self.stoi[c] for c in s]


class _BlockDataset:
    def __init__(self, ids: list[int], block: int):
        import torch

        n = (len(ids) - 1) // block
        self.x = torch.tensor(ids[: n * block], dtype=torch.long).view(n, block)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.x[i]}


def hf_trainer() -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(0)
    train_text = _synthetic_text(3000, seed=0)
    eval_text = _synthetic_text(300, seed=1)
    tok = _CharTokenizer(train_text + eval_text)
    block = 64
    train_ds = _BlockDataset(tok.encode(train_text), block)
    eval_ds = _BlockDataset(tok.encode(eval_text), block)
    config = GPT2Config(
        vocab_size=len(tok.itos),
        n_positions=block,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2LMHeadModel(config)
    out = os.path.join(HERE, "hf_trainer")
    shutil.rmtree(out, ignore_errors=True)
    args = TrainingArguments(
        output_dir=out,
        max_steps=300,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=64,
        learning_rate=1e-3,
        lr_scheduler_type="constant",
        warmup_steps=0,
        eval_strategy="steps",
        eval_steps=25,
        logging_steps=5,
        save_strategy="steps",
        save_steps=100,
        report_to="none",
        use_cpu=True,
        seed=0,
        data_seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds)
    trainer.train()
    trainer.save_state()  # writes the final <output_dir>/trainer_state.json
    _strip_hf_output(out)


def _strip_hf_output(out: str) -> None:
    """Delete weights/optimizer/RNG state; keep small JSON files only."""
    for pattern in ("*.safetensors", "*.bin", "*.pt", "*.pth"):
        for p in glob.glob(os.path.join(out, "**", pattern), recursive=True):
            os.remove(p)
    for p in glob.glob(os.path.join(out, "runs")):
        shutil.rmtree(p)


SAMPLES = {
    "keras_healthy": keras_healthy,
    "keras_overfitting": keras_overfitting,
    "torch_diverging": torch_diverging,
    "lightning_metrics": lightning_metrics,
    "hf_trainer": hf_trainer,
}


def main(argv: list[str]) -> int:
    names = argv or list(SAMPLES)
    for name in names:
        if name not in SAMPLES:
            print(f"unknown sample {name!r}; choose from {', '.join(SAMPLES)}")
            return 2
    for name in names:
        print(f"[make_samples] {name} ...", flush=True)
        SAMPLES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
