"""Every number a finding's message quotes agrees, in sign and size, with the evidence that decided it.

Runs every rule over a family of generated runs (the shapes of the synthetic benchmark: overfitting
early and late, fine-tunes, divergence, spikes, stalls, step schedules, still improving, noisy and
sparse validation, negative losses) and reads each percentage, ratio and share back out of the
message text.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from curves import decay, history, u_shape

from lossdoc.analysis import analyze
from lossdoc.analysis.types import Finding

PCT = r"([+-]?\d+(?:\.\d+)?)%"


def runs():
    rng = np.random.default_rng
    out = []
    for scale in (1e-4, 1.0, 1e4):
        for seed in range(3):
            n = 60 + 40 * seed
            out.append(
                history(
                    decay(n, rate=4, noise=0.02, seed=seed, scale=scale),
                    u_shape(n, best=n // 3 + seed, rise=0.2 + 0.3 * seed, noise=0.02, seed=seed, scale=scale),
                )
            )
            out.append(
                history(
                    decay(n, rate=1, floor=0.0, noise=0.01, seed=seed, scale=scale),
                    decay(n, start=2.2, floor=0.1, rate=1, noise=0.01, seed=seed + 7, scale=scale),
                )
            )
            x, y = decay(n, noise=0.02, seed=seed, scale=scale)
            y[n // 2 :] = y[n // 2 - 1] * np.exp(np.linspace(0, 3 + seed, n - n // 2))
            out.append(history((x, y)))
            x, y = decay(n, noise=0.02, seed=seed, scale=scale)
            y[n // 2] *= 4 + seed
            out.append(history((x, y)))
            x = np.arange(n, dtype=float)
            level = np.select([x < n / 3, x < 2 * n / 3], [1.0, 0.5], 0.3)
            out.append(history((x, scale * level * np.exp(rng(seed).normal(0, 0.005, n)))))
            # a fine-tune: five evaluations, the first is the best
            xv = np.arange(1.0, 6.0) * 100
            yv = scale * 0.5 * (1 + (0.05 + 0.02 * seed) * np.arange(5))
            out.append(history((np.arange(10.0, 501, 10), scale * np.linspace(1, 0.2, 50)), (xv, yv), x_name="step"))
        # a loss that goes negative (an ELBO): no percentages, numbers in the loss's own units
        x = np.arange(80.0)
        out.append(history((x, 1.0 - 0.05 * x + rng(1).normal(0, 0.01, 80)), (x, np.abs(x - 30) * 0.02 - 0.5)))
    return out


def close(quoted: float, value: float, decimals: int) -> bool:
    return abs(quoted - value) <= 0.5 * 10.0**-decimals + 1e-9


def decimals_of(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def check_overfitting(f: Finding) -> None:
    ev = f.evidence
    m = re.search(r"rose ([+-]\d+(?:\.\d+)?)%", f.message)
    if m:
        assert close(float(m.group(1)), ev["val_rise_pct"], decimals_of(m.group(1)))
        assert float(m.group(1)) > 0
    share = re.search(r"over the (\d+(?:\.\d+)?)% of the run", f.message)
    assert share and close(float(share.group(1)), 100 * ev["after_best_fraction"], 0)
    assert f"saves {share.group(1)}%" in f.advice or ev["from_first_evaluation"]
    t = re.search(r"training loss (fell|rose only) (\d+(?:\.\d+)?)(%|x)", f.message)
    if t and t.group(3) == "%":
        sign = -1 if t.group(1) == "fell" else 1
        assert sign * ev["train_change_pct"] > 0 and close(float(t.group(2)), abs(ev["train_change_pct"]), 0)
    elif t:  # a fall of more than 90% is quoted as a ratio: start / end
        assert (t.group(1) == "fell" and close(float(t.group(2)), 1 / (1 + ev["train_change_pct"] / 100), 0)) or (
            abs(float(t.group(2)) * (1 + ev["train_change_pct"] / 100) - 1) < 0.02
        )


def check_still_improving(f: Finding) -> None:
    ev = f.evidence
    m = re.search(r"still falling when the run ended: " + PCT + " lower over the last " + PCT, f.message)
    if m:
        assert close(float(m.group(1)), ev["tail_drop_pct"], 1) and float(m.group(1)) > 0
        assert close(float(m.group(2)), 100 * ev["tail_fraction"], 0)
    t = re.search(r"training loss ended " + PCT + " lower", f.message)
    if t:
        assert close(float(t.group(1)), ev["train_tail_drop_pct"], 1)


def check_plateau(f: Finding) -> None:
    ev = f.evidence
    m = re.search(r"\((\d+(?:\.\d+)?)% of the run\)|the last (\d+(?:\.\d+)?)% of the run", f.message)
    assert m and close(float(m.group(1) or m.group(2)), 100 * ev["fraction"], 0)
    tol = re.search(r"by less than (\d+(?:\.\d+)?)%", f.message)
    if tol:
        assert close(float(tol.group(1)), 100 * ev["tolerance"], 0)
    later = re.search(r"then improved (\d+(?:\.\d+)?)% further", f.message)
    if later:
        assert close(float(later.group(1)), 100 * ev["improvement_after"], 0) and ev["improvement_after"] > 0


def check_divergence(f: Finding) -> None:
    ev = f.evidence
    m = re.search(r"\((\d+(?:\.\d+)?(?:e[+-]\d+)?)x its minimum\)", f.message)
    if m:
        quoted = float(m.group(1))
        assert abs(quoted / ev["peak_ratio_to_min"] - 1) < 0.06 and quoted > 1
        assert abs(ev["peak_loss"] / ev["min_loss"] / ev["peak_ratio_to_min"] - 1) < 1e-3


def check_loss_spike(f: Finding) -> None:
    m = re.search(r"the largest is (\d+(?:\.\d+)?(?:e[+-]\d+)?)x", f.message)
    assert m and abs(float(m.group(1)) / f.evidence["max_ratio"] - 1) < 0.06 and float(m.group(1)) > 1
    assert re.match(rf"{f.evidence['count']} loss spikes? ", f.message)


CHECKS = {
    "overfitting": check_overfitting,
    "still-improving": check_still_improving,
    "plateau": check_plateau,
    "divergence": check_divergence,
    "loss-spike": check_loss_spike,
}


def test_every_quoted_number_agrees_with_the_evidence():
    seen: dict[str, int] = {}
    for h in runs():
        for f in analyze(h).findings:
            if f.rule in CHECKS:
                CHECKS[f.rule](f)
                seen[f.rule] = seen.get(f.rule, 0) + 1
    # the family of runs exercises every rule that quotes numbers
    assert set(seen) == set(CHECKS), seen


@pytest.mark.parametrize("rule", sorted(CHECKS))
def test_a_wrong_number_is_caught(rule):
    """The checks themselves can fail: a message whose number was changed does not pass."""
    for h in runs():
        for f in analyze(h).findings:
            if f.rule != rule:
                continue
            nums = list(re.finditer(r"\d+(?:\.\d+)?(?=%|x)", f.message))
            for m in nums:
                bumped = str(float(m.group(0)) * 3 + 7)
                bad = Finding(
                    f.rule,
                    f.severity,
                    f.series,
                    f.start,
                    f.end,
                    f.message[: m.start()] + bumped + f.message[m.end() :],
                    f.advice,
                    f.evidence,
                )
                with pytest.raises(AssertionError):
                    CHECKS[rule](bad)
            if nums:
                return
    pytest.fail(f"no {rule} finding quoted a number")
