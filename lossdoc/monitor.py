"""Monitor: the incremental engine behind ``lossdoc watch`` and the training callbacks.

Points arrive one at a time (``update(step, loss=..., val_loss=...)``); the rules are the ones
``lossdoc analyze`` runs, re-run on a schedule that keeps the work per new point bounded however long
the run grows:

- the whole history is re-analysed each time it has grown by a fixed fraction (``FULL_GROWTH``), so
  the total cost of a run of n points is a constant times one analysis of n points;
- in between, every ``LOCAL_EVERY`` points, the rules that must stop a run early (non-finite values,
  divergence) look at the last ``LOCAL_WINDOW`` points only: a constant cost per point, and an alert a
  few points after a blow-up starts rather than a fraction of the run later;
- a non-finite value is checked at once.

A finding is reported once, as an :class:`Alert` of kind ``new``, when it first reaches
``min_confidence``; ``revised`` when it grows (a plateau half as long again, a worse severity);
``cleared`` when a later look at the whole run no longer finds it (a blow-up that came back down).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossdoc.analysis.types import Finding, confidence_rank, severity_rank
from lossdoc.diagnosis import Diagnosis
from lossdoc.history import LossHistory, Series, resolve_repeats

FULL_GROWTH = 1 / 16
"""The whole run is re-analysed each time it has grown by this fraction (every point while it is short)."""
LOCAL_EVERY = 8
"""Between whole-run analyses, the early-stop rules look at the recent window every this many points."""
LOCAL_WINDOW = 256
"""How many recent points the early-stop rules look at between whole-run analyses."""
LOCAL_RULES = ("non-finite", "divergence")
"""The rules worth an alert within a few points: each means the run should stop."""
NOISE_POINTS = 64
"""A live blow-up is measured against the scatter of this many training losses up to its best point before it
(with 16, a noisier reference, the real per-step blow-up of ``benchmarks/live_runs.py``'s family a was alerted
on 63 steps after its onset instead of 21)."""
NOISE_SIGMAS = 3.0
"""How many standard errors the losses since a live blow-up's onset must sit above those before it: about one
chance in 700 per look for a normal scatter. The divergence rule's own 4 delayed the same blow-up to 63 steps
and removed no false alert (docs/watch.md)."""
LIVE_IGNORED = ("still-improving",)
"""Rules that only mean something once a run has ended: not watched live (they still run in the final report)."""
CONFIRMATIONS = 3
"""A finding below error severity is reported once this many whole-run analyses in a row have found it: on a
short prefix of a run, noise makes stretches look flat that the next few points show are not."""
WARM_UP_POINTS = 20
"""Findings below error severity are not reported before this many points: a handful of points makes any start
look flat ("never learned" at step 6)."""
MISSES_TO_CLEAR = 2
"""A reported finding is cleared once this many whole-run analyses in a row have not found it."""
GROWTH_TO_REVISE = 1.5
"""A finding is reported again (``revised``) when its stretch has grown by this factor since last reported."""


@dataclass(frozen=True)
class Alert:
    """A change in what the monitor finds: a ``new`` finding, a ``revised`` one, or a ``cleared`` one."""

    kind: str
    finding: Finding
    detected_at: float
    """The step (x) of the last point seen when the change was found."""
    points: int
    """How many points the monitor had seen then."""

    @property
    def delay(self) -> float | None:
        """Steps from where the finding starts to where it was detected."""
        return None if self.finding.start is None else self.detected_at - self.finding.start

    def as_dict(self) -> dict[str, Any]:
        delay = self.delay
        return {
            "event": self.kind,
            "detected_at": _plain(self.detected_at),
            "delay": None if delay is None else _plain(delay),
            "points": self.points,
            **self.finding.as_dict(),
        }

    def text(self, x_name: str = "step") -> str:
        f = self.finding
        where = f"{x_name} {_plain(self.detected_at)}"
        if self.kind == "cleared":
            return f"{where}: cleared {f.rule} (from {x_name} {_plain(f.start)}): no longer found"
        started = "" if f.start is None else f", started at {x_name} {_plain(f.start)} ({_plain(self.delay)} earlier)"
        label = "revised" if self.kind == "revised" else "new"
        return f"{where}: {label} {f.rule} ({f.severity}, {f.confidence} confidence){started}: {f.message}"


def _plain(v: float | None) -> float | int | None:
    if v is None or not math.isfinite(v):
        return v
    return int(v) if float(v).is_integer() else round(float(v), 6)


class _Points:
    """One key's points in arrays that double when full: an append costs O(1) amortised."""

    __slots__ = ("in_order", "n", "x", "y")

    def __init__(self) -> None:
        self.x = np.empty(64)
        self.y = np.empty(64)
        self.n = 0
        self.in_order = True
        """x never went backwards (the usual case): a window is found by bisection, not a scan."""

    def append(self, x: float, y: float) -> None:
        if self.n == self.x.size:
            self.x = np.concatenate([self.x, np.empty(self.x.size)])
            self.y = np.concatenate([self.y, np.empty(self.y.size)])
        if self.n and x < self.x[self.n - 1]:
            self.in_order = False
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1


@dataclass
class _Tracked:
    finding: Finding
    reported: Finding | None = None
    """What was last reported (None: not confirmed yet)."""
    seen: int = 1
    missed: int = 0


@dataclass
class Monitor:
    """Feed it points as a run trains; read :attr:`findings`, :attr:`alerts`, or ask :meth:`should_stop`.

    >>> m = Monitor()
    >>> for step, loss in enumerate(losses):
    ...     for alert in m.update(step, loss=loss):
    ...         print(alert.text())
    ...     if m.should_stop("error"):
    ...         break
    """

    name: str = "run"
    source: str = "<monitor>"
    x_name: str = "step"
    train: str | None = None
    """The key holding the training loss (default: inferred from the keys' names, as for a log's columns)."""
    val: str | None = None
    rules: Iterable[str] | None = None
    """Rules to watch (default: all but those meaningful only at the end of a run)."""
    rule_params: Mapping[str, Mapping[str, Any]] | None = None
    min_confidence: str = "medium"
    min_severity: str = "warning"
    alerts: list[Alert] = field(default_factory=list)
    _points: dict[str, _Points] = field(default_factory=dict, repr=False)
    _seen: int = 0
    _last_x: float = 0.0
    _full_at: int = 0
    _local_at: int = 0
    _tracked: list[_Tracked] = field(default_factory=list, repr=False)
    _plan: Any = None
    _plan_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from lossdoc.analysis import RULES

        chosen = list(self.rules) if self.rules is not None else [r for r in RULES if r not in LIVE_IGNORED]
        unknown = [r for r in chosen if r not in RULES]
        if unknown:
            raise ValueError(f"unknown rule(s) {', '.join(unknown)}; rules are: {', '.join(RULES)}")
        self.rules = chosen

    # --- feeding ----------------------------------------------------------------------------------

    def update(self, step: float, **values: float | None) -> list[Alert]:
        """Add one point (any keys: ``loss=``, ``val_loss=``, ``lr=``, ``grad_norm=``, ...; None is skipped)
        and return the alerts it caused (usually none)."""
        x = float(step)
        urgent = False
        added = False
        for key, value in values.items():
            if value is None:
                continue
            y = float(value)
            self._points.setdefault(key, _Points()).append(x, y)
            added = True
            urgent = urgent or not math.isfinite(y)
        if not added:
            return []
        self._seen += 1
        self._last_x = x
        n = self._seen
        if n - self._full_at >= max(1, math.floor(n * FULL_GROWTH)) or (urgent and n <= LOCAL_WINDOW):
            return self._analyse(full=True)
        if n - max(self._local_at, self._full_at) >= LOCAL_EVERY or urgent:
            return self._analyse(full=False)
        return []

    def check(self) -> list[Alert]:
        """Analyse the whole run now (at the end of an epoch, or of the stream)."""
        return self._analyse(full=True) if self._seen else []

    # --- reading ----------------------------------------------------------------------------------

    @property
    def points(self) -> int:
        return self._seen

    @property
    def last_step(self) -> float:
        return self._last_x

    @property
    def findings(self) -> list[Finding]:
        """What is found now (at least ``min_confidence`` and ``min_severity``), most severe first."""
        found = self._tracked_findings()
        return sorted(found, key=lambda f: (-severity_rank(f.severity), f.start if f.start is not None else 0.0))

    def should_stop(self, until: str = "error") -> bool:
        """Whether a current finding meets ``until``: a severity (``error``, ``warning``, ``info``) or rule
        slugs (``"divergence,non-finite"``), as ``--fail-on`` reads it."""
        from lossdoc.analysis import RULES
        from lossdoc.policy import FailPolicy

        policy = FailPolicy.parse(until, RULES, self.min_confidence)
        return any(policy.fails(f) for f in self._tracked_findings())

    def history(self) -> LossHistory | None:
        """The run so far as a LossHistory (None until a key looks like a loss)."""
        return self._history(None)

    def diagnosis(self, rules: Iterable[str] | None = None, framework: str | None = None) -> Diagnosis | None:
        """The full post-hoc diagnosis of the run so far, with advice: what ``lossdoc analyze`` would say."""
        from lossdoc.advice import advise
        from lossdoc.analysis import analyze

        h = self.history()
        if h is None:
            return None
        d = analyze(h, rules, self.rule_params)
        d.advice = advise(d, framework)
        return Diagnosis.of(d)

    def _tracked_findings(self) -> list[Finding]:
        return [t.finding for t in self._tracked if t.reported is not None]

    # --- analysis ---------------------------------------------------------------------------------

    def _role_plan(self) -> Any:
        keys = tuple(self._points)
        if keys != self._plan_keys:
            from lossdoc.ingest.roles import plan_roles

            counts = {k: p.n for k, p in self._points.items()}
            try:
                plans = plan_roles(list(keys), train=self.train, val=self.val, counts=counts)
            except KeyError:  # the named train/val key has not arrived yet
                plans = []
            self._plan, self._plan_keys = (plans[0] if plans else None), keys
        return self._plan

    def _history(self, window: int | None) -> LossHistory | None:
        plan = self._role_plan()
        if plan is None:
            return None
        main = self._points[plan.train if plan.train is not None else plan.val]
        since = -math.inf if window is None or main.n <= window else float(main.x[main.n - window])
        series = []
        for role, key in (("train", plan.train), ("val", plan.val), ("lr", plan.lr), ("grad_norm", plan.grad_norm)):
            if key is None or key not in self._points:
                continue
            p = self._points[key]
            x, y = p.x[: p.n], p.y[: p.n]
            if since > -math.inf:
                first = int(np.searchsorted(x, since)) if p.in_order else 0
                x, y = x[first:], y[first:]
            x, y, _ = resolve_repeats(x.copy(), y.copy())
            series.append(Series(name=key, role=role, x=x, y=y))  # type: ignore[arg-type]
        return LossHistory(source=self.source, format="monitor", name=self.name, x_name=self.x_name, series=series)

    def _analyse(self, full: bool) -> list[Alert]:
        from lossdoc.analysis import analyze

        rules = list(self.rules or []) if full else [r for r in LOCAL_RULES if r in (self.rules or [])]
        if full:
            self._full_at = self._seen
        else:
            self._local_at = self._seen
        h = self._history(None if full else LOCAL_WINDOW)
        if h is None or not rules:
            return []
        found = [f for f in analyze(h, rules, self.rule_params).findings if self._counts(f) and not _over(f)]
        found = [f for f in found if f.rule != "divergence" or self._stands_out(f)]
        return self._merge(found, rules if full else [])

    def _stands_out(self, f: Finding) -> bool:
        """Whether a live divergence stands out from the scatter before it: the training losses since its
        onset sit above the :data:`NOISE_POINTS` up to its best point before it (``min_x``) by at least
        :data:`NOISE_SIGMAS` standard errors of the difference of their medians, the noise taken from
        those points' own step-to-step scatter.

        A prefix of a run is judged as if it were the whole run, and a window of it without the rest:
        a few points of a per-step loss can look sustained. A nearly fitted model's minibatch losses span
        decades, and a few high ones in a row were alerted on (and would have stopped the run) at step 37
        of a real run that never diverged (docs/watch.md). An epoch-level stream, whose scatter is small,
        is alerted on as soon as before.
        """
        from lossdoc.analysis.kernels import median
        from lossdoc.analysis.smoothing import MEDIAN_SE, diff_noise

        plan = self._role_plan()
        main = self._points.get(plan.train) if plan is not None and plan.train is not None else None
        best = f.evidence.get("min_x")
        if main is None or f.start is None or best is None:
            return True
        x, y = main.x[: main.n], main.y[: main.n]
        if main.in_order:  # the usual case: slices found by bisection, a cost bounded by what they hold
            upto, since = int(np.searchsorted(x, best, "right")), y[int(np.searchsorted(x, f.start)) :]
            before = y[max(0, upto - 4 * NOISE_POINTS) : upto]
        else:
            before, since = y[x <= best], y[x >= f.start]
        before, since = before[np.isfinite(before)][-NOISE_POINTS:], since[np.isfinite(since)]
        if before.size < 4 or since.size < 1:
            return True
        if before.min() > 0 and since.min() > 0:
            before, since = np.log(before), np.log(since)
        se = MEDIAN_SE * diff_noise(before) * math.sqrt(1 / before.size + 1 / since.size)
        return bool(median(since) - median(before) >= NOISE_SIGMAS * se)

    def _counts(self, f: Finding) -> bool:
        return confidence_rank(f.confidence) >= confidence_rank(self.min_confidence) and severity_rank(
            f.severity
        ) >= severity_rank(self.min_severity)

    def _merge(self, found: list[Finding], full_rules: list[str]) -> list[Alert]:
        out: list[Alert] = []
        matched: set[int] = set()
        for f in found:
            i = next((i for i, t in enumerate(self._tracked) if i not in matched and _same(t.finding, f)), None)
            if i is None:
                self._tracked.append(_Tracked(f))
                i = len(self._tracked) - 1
            elif full_rules:
                self._tracked[i].seen += 1
            matched.add(i)
            t = self._tracked[i]
            t.finding, t.missed = f, 0
            if t.reported is None:
                if f.severity == "error" or (t.seen >= CONFIRMATIONS and self._seen >= WARM_UP_POINTS):
                    t.reported = f
                    out.append(Alert("new", f, self._last_x, self._seen))
            elif _grown(t.reported, f):
                t.reported = f
                out.append(Alert("revised", f, self._last_x, self._seen))
        kept = []
        for i, t in enumerate(self._tracked):
            if i not in matched and t.finding.rule in full_rules:
                t.missed += 1
                if t.reported is None or t.missed >= MISSES_TO_CLEAR:
                    if t.reported is not None:
                        out.append(Alert("cleared", t.finding, self._last_x, self._seen))
                    continue
            kept.append(t)
        self._tracked = kept
        self.alerts.extend(out)
        return out


def _over(f: Finding) -> bool:
    """A stall that has already ended (a plateau that goes on to the last point is "converged" or "never
    learned"): the loss improved after it ("stalled from step 43 to step 78, then improved 40% further")
    or blew up. Nothing to act on while the run goes on, and on a per-step loss such stretches of a prefix
    come and go: over the 64 real runs of ``benchmarks/live_runs.py``, 214 warnings were told and 156
    cleared again; without these, 112 and 54 (docs/watch.md). The final report still has them."""
    return f.rule == "plateau" and f.evidence.get("kind") == "stalled"


def _same(a: Finding, b: Finding) -> bool:
    """The same finding seen again: same rule and series, and overlapping stretches (when they have one)."""
    if a.rule != b.rule or a.series != b.series:
        return False
    if None in (a.start, a.end, b.start, b.end):
        return True
    return bool(b.start <= a.end and b.end >= a.start)  # type: ignore[operator]


def _grown(old: Finding, new: Finding) -> bool:
    if severity_rank(new.severity) > severity_rank(old.severity):
        return True
    if None in (old.start, old.end, new.start, new.end):
        return False
    before = old.end - old.start  # type: ignore[operator]
    after = new.end - new.start  # type: ignore[operator]
    return before > 0 and after >= GROWTH_TO_REVISE * before
