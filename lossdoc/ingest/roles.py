"""Column roles from names: which column is the x axis, the training loss, the validation loss, the rate.

Names are split into lower-case tokens (``train/box_loss`` → ``train``, ``box``, ``loss``). A column
is a loss only when a token says so (``loss``, ``logloss``, ``mse``, ``l2``, ``error`` …) — never when
it is a higher-is-better metric (accuracy, AUC, mAP, F1 …). Its split comes from a prefix token
(``val``, ``valid``, ``eval``, ``test`` …); the tokens that are left form its *stem*, which pairs a
training loss with its validation loss (``train/box_loss`` ↔ ``val/box_loss``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
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
        "merror",
        "nloglik",
        "deviance",
        "mphe",
        "logcosh",
        "smape",
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
        "dice_score",
        "ap",
        "ap50",
        "ap75",
        "mrr",
        "kappa",
        "mcc",
        "hit",
        "hits",
        "reward",
    }
)
TRAIN_TOKENS = frozenset({"train", "training", "trn", "tr"})
VAL_TOKENS = frozenset({"val", "valid", "validation", "eval", "evaluation", "dev", "valset"})
TEST_TOKENS = frozenset({"test", "testing"})
LR_NAMES = re.compile(
    r"^(lr|learning_rate|learningrate|lr[-_/].*|.*[-_/]lr\d*|x/lr\d+|lr/pg\d+|learning_rate/.*|.*[-_/]learning_rate)$"
)
GRAD_NAMES = re.compile(r"^(grad_norm|gradient_norm|grad/norm|train/grad_norm|total_norm|grad_norm_.*)$")
LOSS_SCALE_NAMES = re.compile(r"^(.*[-_/])?(loss_scale|lossscale|loss_scaler|grad_scale|amp_scale|amp/scale|scaler)$")
"""A mixed-precision loss scale (DeepSpeed ``loss_scale``, a logged ``GradScaler.get_scale()``): kept
as an ``other`` series for the cause of a blow-up (:mod:`lossdoc.advice.causes`), never a loss."""
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
    eval_set: int | None = None  # XGBoost's sklearn wrapper: N of "validation_N", the eval_set position


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
    eval_set = int(toks[1]) if len(toks) > 2 and toks[0] == XGB_EVAL_SET_PREFIX and toks[1].isdigit() else None
    variant = toks[-1] if len(toks) > 1 and toks[-1] in VARIANT_SUFFIXES else ""
    core = toks[:-1] if variant else toks
    stem_toks = [t for t in core if t not in TRAIN_TOKENS | VAL_TOKENS | TEST_TOKENS and not t.isdigit()]
    return LossColumn(name=name, split=split, stem="_".join(stem_toks) or "loss", variant=variant, eval_set=eval_set)


def is_x_name(name: str) -> bool:
    return name.strip().lower() in X_NAMES


def is_lr_name(name: str) -> bool:
    return bool(LR_NAMES.match(name.strip().lower()))


def is_grad_norm_name(name: str) -> bool:
    return bool(GRAD_NAMES.match(name.strip().lower()))


def is_loss_scale_name(name: str) -> bool:
    return bool(LOSS_SCALE_NAMES.match(name.strip().lower()))


@dataclass(frozen=True)
class RolePlan:
    """Which columns one run uses: x (None = row order), train, val (optional), lr, grad norm."""

    x: str | None
    train: str | None  # None: a validation-only log (an eval-only run, or --val with no training loss)
    val: str | None
    lr: str | None
    grad_norm: str | None


# Lightning forks a metric into name_step / name_epoch. With this many (or more) logged step points per
# epoch point, the step curve shows what the epoch means hide (where a blow-up starts, spikes); with
# fewer it is the same information, noisier and on a different x than the per-epoch validation loss.
STEP_POINTS_PER_EPOCH_POINT = 4
# XGBoost's sklearn wrapper names eval sets by position (validation_0, validation_1, ...); the training
# set is conventionally passed first, so with several of them and no set named "train", the first is.
XGB_EVAL_SET_PREFIX = "validation"


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


def _pick_variant(candidates: list[LossColumn], counts: Mapping[str, int]) -> LossColumn:
    """The column to use among one stem's train losses: the plain name, else the richer Lightning fork.

    Ties go to the column with more points, so a one-point summary value (HuggingFace's run-average
    ``train/train_loss`` in TensorBoard) never beats the curve it summarises.
    """
    plain = [c for c in candidates if c.variant == ""]
    if plain:
        return max(plain, key=lambda c: counts.get(c.name, 0))
    step = next((c for c in candidates if c.variant == "step"), None)
    epoch = next((c for c in candidates if c.variant == "epoch"), None)
    if step is None or epoch is None:
        return step or epoch or candidates[0]
    if not counts:
        return step
    return step if counts.get(step.name, 0) >= STEP_POINTS_PER_EPOCH_POINT * counts.get(epoch.name, 0) else epoch


def _positional_eval_sets(losses: list[LossColumn]) -> list[LossColumn]:
    """``validation_0`` becomes the training loss when every loss is an XGBoost positional eval set."""
    if any(c.split == "train" for c in losses):
        return losses
    indexed = [c for c in losses if c.eval_set is not None]
    sets = sorted({c.eval_set for c in indexed if c.eval_set is not None})
    if len(sets) < 2:
        return losses
    return [dataclasses.replace(c, split="train") if c.eval_set == sets[0] else c for c in losses]


def plan_roles(
    names: Sequence[str],
    *,
    x: str | None = None,
    train: str | None = None,
    val: str | None = None,
    counts: Mapping[str, int] | None = None,
) -> list[RolePlan]:
    """One plan per run found among ``names`` (several when a file holds several train/val loss pairs).

    Explicit ``x``/``train``/``val`` (from the command line) win over inference; a name that is not a
    column is a ``KeyError`` naming it. ``counts`` (points per column, when known) decides between
    Lightning's ``_step`` and ``_epoch`` forks. Returns an empty list when no column looks like a loss.
    """
    for given in (x, train, val):
        if given is not None and given not in names:
            raise KeyError(given)
    counts = counts or {}
    losses = _positional_eval_sets([c for c in map(classify_loss, names) if c is not None])
    lr = next((n for n in names if is_lr_name(n)), None)
    grad = next((n for n in names if is_grad_norm_name(n)), None)

    if train is not None:
        train_col = next((c for c in losses if c.name == train), None) or LossColumn(train, "train", "loss", "")
        val_col = val if val is not None else _match_val(train_col, losses)
        return [RolePlan(x or _pick_x(names, train_col), train, val_col, lr, grad)]

    trains = [c for c in losses if c.split == "train" and c.name != val]  # --val names the validation loss
    if not trains:
        # A file of validation losses only (an eval-only log, or --val alone) is still a run to diagnose,
        # as validation: it is never called a training loss.
        if val is not None:
            only = next((c for c in losses if c.name == val), None) or LossColumn(val, "val", "loss", "")
        else:
            vals = [c for c in losses if c.split in ("val", "test")][:1]
            if not vals:
                return []
            only = vals[0]
        return [RolePlan(x or _pick_x(names, only), None, only.name, lr, grad)]

    by_stem: dict[str, list[LossColumn]] = {}
    for c in trains:
        by_stem.setdefault(c.stem, []).append(c)
    stems = sorted(by_stem, key=_stem_rank)
    generic = [s for s in stems if s in GENERIC_STEMS]
    paired = [s for s in stems if any(v.stem == s and v.split == "val" for v in losses)]
    if generic:
        chosen_stems = generic[:1]
    elif len(paired) > 1:
        chosen_stems = paired  # e.g. YOLO box / cls / dfl: one run per pair
    else:
        chosen_stems = (paired or stems)[:1]

    plans = []
    for stem in chosen_stems:
        best = _pick_variant(by_stem[stem], counts)
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
