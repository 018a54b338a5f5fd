"""Column roles from names: which column is the x axis, the training loss, the validation loss, the rate.

Names are split into lower-case tokens (``train/box_loss`` → ``train``, ``box``, ``loss``). A column
is a loss only when a token says so (``loss``, ``logloss``, ``mse``, ``l2``, ``error`` …) — never when
it is a higher-is-better metric (accuracy, AUC, mAP, F1 …). Its split comes from a prefix token
(``val``, ``valid``, ``eval``, ``test`` …); the tokens that are left form its *stem*, which pairs a
training loss with its validation loss (``train/box_loss`` ↔ ``val/box_loss``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

X_NAMES = (
    "step",
    "global_step",
    "trainer/global_step",
    "_step",
    "steps",
    "current_steps",
    "iteration",
    "iter",
    "iterations",
    "it",
    "n_iter",
    "round",
    "boosting_round",
    "batch",
    "epoch",
    "epochs",
)
LOSS_TOKENS = frozenset(
    {
        "loss",
        "losses",
        "logloss",
        "nll",
        "mse",
        "rmse",
        "mae",
        "l1",
        "l2",
        "xent",
        "ce",
        "huber",
        "perplexity",
        "ppl",
        "error",
        "err",
        "cross_entropy",
        "crossentropy",
        "mlogloss",
        "rmsle",
        "mape",
        "objective",
        "cost",
        "bce",
        "kld",
        "kl",
    }
)
# Higher-is-better metrics: never a loss, even if a loss token appears (e.g. "auc" next to "logloss").
GAIN_TOKENS = frozenset(
    {
        "acc",
        "accuracy",
        "auc",
        "map",
        "map50",
        "precision",
        "recall",
        "f1",
        "score",
        "r2",
        "bleu",
        "rouge",
        "iou",
        "miou",
        "ndcg",
        "top1",
        "top5",
        "fitness",
        "psnr",
        "ssim",
        "wer_gain",
        "dice_score",
    }
)
TRAIN_TOKENS = frozenset({"train", "training", "trn", "tr"})
VAL_TOKENS = frozenset({"val", "valid", "validation", "eval", "evaluation", "dev", "valset"})
TEST_TOKENS = frozenset({"test", "testing"})
LR_NAMES = re.compile(r"^(lr|learning_rate|learningrate|lr[-_/].*|.*[-_/]lr\d*|x/lr\d+|lr/pg\d+|learning_rate/.*)$")
GRAD_NAMES = re.compile(r"^(grad_norm|gradient_norm|grad/norm|train/grad_norm|total_norm|grad_norm_.*)$")
GENERIC_STEMS = ("loss", "total_loss", "mean_loss", "loss_total", "avg_loss", "objective")
VARIANT_SUFFIXES = ("step", "epoch")  # Lightning forks "name" into "name_step" / "name_epoch"


def tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^0-9a-zA-Z]+|(?<=[a-z])(?=[A-Z])", name.strip().lower()) if t]


@dataclass(frozen=True)
class LossColumn:
    """A column that holds a loss, with its split, its stem (for pairing) and its Lightning variant."""

    name: str
    split: str  # "train" | "val" | "test"
    stem: str
    variant: str  # "" | "step" | "epoch"


def classify_loss(name: str) -> LossColumn | None:
    toks = tokens(name)
    if not toks or not (LOSS_TOKENS & set(toks)) or (GAIN_TOKENS & set(toks)):
        return None
    if is_x_name(name) or LR_NAMES.match(name.strip().lower()):
        return None
    split = "train"
    # GBM dataset names ("valid_1", "validation_0") and split prefixes: the first split token decides.
    for i, t in enumerate(toks):
        if t in VAL_TOKENS or (t == "validation" and i == 0):
            split = "val"
            break
        if t in TEST_TOKENS:
            split = "test"
            break
        if t in TRAIN_TOKENS:
            break
    variant = toks[-1] if len(toks) > 1 and toks[-1] in VARIANT_SUFFIXES else ""
    core = toks[:-1] if variant else toks
    stem_toks = [t for t in core if t not in TRAIN_TOKENS | VAL_TOKENS | TEST_TOKENS and not t.isdigit()]
    return LossColumn(name=name, split=split, stem="_".join(stem_toks) or "loss", variant=variant)


def is_x_name(name: str) -> bool:
    return name.strip().lower() in X_NAMES


def is_lr_name(name: str) -> bool:
    return bool(LR_NAMES.match(name.strip().lower()))


def is_grad_norm_name(name: str) -> bool:
    return bool(GRAD_NAMES.match(name.strip().lower()))


@dataclass(frozen=True)
class RolePlan:
    """Which columns one run uses: x (None = row order), train, val (optional), lr, grad norm."""

    x: str | None
    train: str
    val: str | None
    lr: str | None
    grad_norm: str | None


def _stem_rank(stem: str) -> tuple[int, str]:
    return (GENERIC_STEMS.index(stem) if stem in GENERIC_STEMS else len(GENERIC_STEMS), stem)


def _variant_rank(c: LossColumn) -> int:
    return ("", "step", "epoch").index(c.variant)


def _pick_x(names: Sequence[str], train: LossColumn | None) -> str | None:
    present = {n.strip().lower(): n for n in names}
    if train is not None and train.variant == "epoch" and "epoch" in present:
        return present["epoch"]
    for candidate in X_NAMES:
        if candidate in present:
            return present[candidate]
    return None


def plan_roles(
    names: Sequence[str],
    *,
    x: str | None = None,
    train: str | None = None,
    val: str | None = None,
    all_pairs: bool = True,
) -> list[RolePlan]:
    """One plan per run found among ``names`` (several when a file holds several train/val loss pairs).

    Explicit ``x``/``train``/``val`` (from the command line) win over inference; a name that is not a
    column is a ``KeyError`` naming it. Returns an empty list when no column looks like a loss.
    """
    for given in (x, train, val):
        if given is not None and given not in names:
            raise KeyError(given)
    losses = [c for c in map(classify_loss, names) if c is not None]
    lr = next((n for n in names if is_lr_name(n)), None)
    grad = next((n for n in names if is_grad_norm_name(n)), None)

    if train is not None:
        train_col = classify_loss(train) or LossColumn(train, "train", "loss", "")
        val_col = val if val is not None else _match_val(train_col, losses)
        return [RolePlan(x or _pick_x(names, train_col), train, val_col, lr, grad)]

    trains = [c for c in losses if c.split == "train"]
    if not trains:
        if val is not None:
            return []
        # A file of validation losses only (an eval-only log) is still a run to diagnose.
        trains = [c for c in losses if c.split in ("val", "test")][:1]
        if not trains:
            return []
        only = trains[0]
        return [RolePlan(x or _pick_x(names, only), only.name, None, lr, grad)]

    by_stem: dict[str, list[LossColumn]] = {}
    for c in trains:
        by_stem.setdefault(c.stem, []).append(c)
    stems = sorted(by_stem, key=_stem_rank)
    generic = [s for s in stems if s in GENERIC_STEMS]
    paired = [s for s in stems if any(v.stem == s and v.split == "val" for v in losses)]
    if generic:
        chosen_stems = generic[:1]
    elif all_pairs and len(paired) > 1:
        chosen_stems = paired  # e.g. YOLO box / cls / dfl: one run per pair
    else:
        chosen_stems = (paired or stems)[:1]

    plans = []
    for stem in chosen_stems:
        best = min(by_stem[stem], key=_variant_rank)
        val_col = val if val is not None else _match_val(best, losses)
        plans.append(RolePlan(x or _pick_x(names, best), best.name, val_col, lr, grad))
    return plans


def _match_val(train: LossColumn, losses: Iterable[LossColumn]) -> str | None:
    candidates = [c for c in losses if c.split in ("val", "test") and c.name != train.name]
    if not candidates:
        return None

    def rank(c: LossColumn) -> tuple[int, int, int, tuple[int, str]]:
        return (
            0 if c.stem == train.stem else 1,
            0 if c.split == "val" else 1,
            abs(_variant_rank(c) - _variant_rank(train)),
            _stem_rank(c.stem),
        )

    best = min(candidates, key=rank)
    if best.stem != train.stem and best.stem not in GENERIC_STEMS:
        return None
    return best.name
