"""The "next run" section as short plain-text lines, for every report format to place.

Reports never compute advice; they call :func:`next_run_lines` on the run's ``advice`` (the
:class:`~lossdoc.advice.model.Advice` :func:`lossdoc.advice.advise` returns) and render the lines as
they like (a terminal panel, a markdown list, an html list). Lines carry no markup; a line starting with two spaces is a
continuation (a callback in the replay list, or a line of the copy-paste snippet).
"""

from __future__ import annotations

from typing import Any

from lossdoc.advice.model import Advice, BestPoint, Recommendation
from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.words import count, units

SHOWN_PARAMS = 2
"""Parameters shown per replayed callback (the JSON ``params`` hold them all)."""


def next_run_lines(advice: Advice | None) -> list[str]:
    """Plain-text lines: the best point, what the callbacks would have done, the setting to use."""
    if advice is None:
        return []
    x_name = str(advice.x_name or "x")
    monitor = str(advice.monitor or "the loss")
    lines: list[str] = []

    best = advice.best
    if best:
        lines.append(best_line(best, x_name, monitor))

    if advice.replay:
        checks = advice.checks
        unit = f" ({count(checks, 'check')})" if checks else ""
        lines.append(f"Built-in callbacks with their defaults, replayed on {monitor}{unit}:")
        best_x = best.x if best else None
        lines.extend(f"  {replay_line(r, x_name, best_x)}" for r in advice.replay)

    rec = advice.recommendation
    if rec:
        lines.append(recommendation_line(rec, x_name))
        lines.extend(f"  {s}" for s in str(rec.snippet or "").splitlines() if s.strip())

    lines.extend(str(n) for n in advice.notes)
    lines.extend(cause_lines(advice.causes, x_name))
    lines.extend(recovery_lines(advice.recovery, x_name))
    return lines


def recovery_lines(recovery: dict[str, Any] | None, x_name: str) -> list[str]:
    """The way back: the checkpoints on disk, where to resume from after each event and how, the best
    checkpoint on disk and the ones after it that could be deleted."""
    if not recovery:
        return []
    ckpts = recovery.get("checkpoints") or []
    names = [_short(c["path"]) for c in ckpts]
    shown = ", ".join(names[:8]) + (f" … ({count(len(names), 'checkpoint')})" if len(names) > 8 else "")
    lines = [f"Checkpoints on disk in {recovery.get('folder')}: {shown}."]
    for e in recovery.get("events") or []:
        lines.extend(event_recovery_lines(e, x_name))
    best = recovery.get("best")
    if best and best.get("checkpoint"):
        if best.get("exact"):
            text = f"Best point {x_name} {fmt_x(best['x'])}: saved as {_short(best['checkpoint'])}"
        else:
            text = (
                f"Best point {x_name} {fmt_x(best['x'])}; nearest saved checkpoint: {_short(best['checkpoint'])} "
                f"({x_name} {fmt_x(best['checkpoint_x'])})"
            )
        recorded = best.get("best_model_checkpoint")
        if recorded:
            where = "on disk" if best.get("on_disk") else "no longer on disk"
            text += f"; trainer_state.json names {_short(recorded)} as the best ({where})"
        lines.append(text + ".")
    deletable = recovery.get("deletable") or []
    if deletable:
        listed = ", ".join(_short(p) for p in deletable[:8]) + (" …" if len(deletable) > 8 else "")
        lines.append(f"Could be deleted to free disk (saved after the best point): {listed}; {recovery.get('note')}.")
    return lines


def event_recovery_lines(e: dict[str, Any], x_name: str) -> list[str]:
    """One event's way back: where to resume from and the call, the batches to skip, the rate."""
    at = f"the {_EVENT.get(str(e.get('rule')), 'event')} at {x_name} {fmt_x(e['x'])}"
    if e.get("resume_from"):
        last = f"resume from {_short(e['resume_from'])}, the last checkpoint saved before it"
        lines = [f"After {at}: {last}: {e['resume']}"]
    else:
        lines = [f"After {at}: no checkpoint on disk was saved before it; restart from scratch."]
    skip = e.get("skip")
    if skip:
        lines.append(f"Skipping the batch on resume: {skip['how']}.")
    if e.get("lr_change"):
        lines.append(f"Learning rate on resume: {e['lr_change']}.")
    return lines


def finding_lines(advice: Advice | None, rule: str, series: str | None) -> list[str]:
    """The causes and the way back for one finding's events, for formats that speak per finding (GitHub
    annotations, JUnit test cases) and have no run-level "next run" section."""
    if advice is None:
        return []
    x_name = str(advice.x_name or "x")
    mine = [c for c in advice.causes if c.get("rule") == rule and c.get("series") == series]
    lines = cause_lines(mine, x_name)
    xs = {c["x"] for c in mine}
    for e in (advice.recovery or {}).get("events") or []:
        if e.get("rule") == rule and e.get("x") in xs:
            lines.extend(event_recovery_lines(e, x_name))
    return lines


_EVENT = {"loss-spike": "spike", "divergence": "divergence", "non-finite": "non-finite loss"}


def _short(path: str) -> str:
    """A checkpoint by its own name (and its folder's, for Lightning's ``checkpoints/epoch=…``)."""
    parts = str(path).replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] == "checkpoints" else parts[-1]


def cause_lines(causes: list[dict[str, Any]], x_name: str) -> list[str]:
    """One line per cause, ending in its fix; later events with the same cause are named on the
    first one's line instead of repeating it (the JSON ``advice.causes`` holds each one's numbers)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in causes:
        groups.setdefault(str(c.get("cause")), []).append(c)
    lines: list[str] = []
    for same in groups.values():
        head = str(same[0].get("message"))
        if len(same) > 1:
            also = ", ".join(fmt_x(c["x"]) for c in same[1:])
            head += f" The same at {units(x_name, len(same))} {also}."
        lines.append(f"{head} → {same[0].get('fix')}")
    return lines


def best_line(best: BestPoint, x_name: str, monitor: str) -> str:
    at = f"{x_name} {fmt_x(best.x)}"
    head = f"Best point: {at} ({monitor} {fmt_value(best.value)})"
    frac = best.saved_fraction or 0.0
    if frac <= 0:
        return f"{head}, at the end of the run: nothing to save by stopping earlier."
    tail = f"; the rest of the run after it, {frac * 100:.0f}% of it"
    after = best.after
    if after:
        tail = f"; the {fmt_x(after)} {units(x_name, after)} after it, {frac * 100:.0f}% of the run"
    final = best.final_value
    rise = best.rise_pct
    if final is None:
        return f"{head}{tail}, ended with a non-finite value."
    if rise is not None and rise >= 900:
        return f"{head}{tail}, raised it to {fmt_value(final)} ({fmt_value(1 + rise / 100)}x the best)."
    if rise is not None and rise > 0:
        return f"{head}{tail}, raised it to {fmt_value(final)} (+{rise:.0f}%)."
    if rise is None and final > best.value:
        return f"{head}{tail}, raised it to {fmt_value(final)}."
    if final < best.value and fmt_value(final) != fmt_value(best.value):
        # the best point stands where the smoothed loss is lowest: a last check below it is a dip, not a new level
        dip = "lower, but the smoothed loss never fell below its level there"
        return f"{head}{tail}, ended at {fmt_value(final)}: {dip}."
    return f"{head}{tail}, ended at {fmt_value(final)} without improving on it."


def replay_line(r: dict[str, Any], x_name: str, best_x: float | None = None) -> str:
    shown = list((r.get("params") or {}).items())[:SHOWN_PARAMS]
    params = ", ".join(f"{k}={fmt_param(v)}" for k, v in shown)
    head = f"{r['callback']}({params})"
    if "lr_cut_x" in r:
        cuts = r.get("lr_cut_x") or []
        if not cuts:
            return f"{head}: would not have cut the learning rate"
        shown = ", ".join(fmt_x(c) for c in cuts[:6]) + (f" … ({count(len(cuts), 'cut')})" if len(cuts) > 6 else "")
        return f"{head}: would have cut the learning rate at {x_name} {shown}"
    stop = r.get("stop_x")
    if stop is None:
        return f"{head}: would not have stopped"
    why = f" ({r['reason']})" if r.get("reason") else ""
    early = f", before the best at {x_name} {fmt_x(best_x)}" if best_x is not None and stop < best_x else ""
    return f"{head}: would have stopped at {x_name} {fmt_x(stop)}{why}{early}"


def recommendation_line(rec: Recommendation, x_name: str) -> str:
    setting = f"patience {rec.patience}, min_delta {fmt_value(rec.min_delta)}"
    framework = rec.framework or "generic"
    where = "" if framework == "generic" else f" ({framework})"
    stop = rec.stop_x
    if stop is None:
        effect = "this run ended before it would have stopped"
    else:
        effect = f"on this log it stops at {x_name} {fmt_x(stop)}"
    return f"Next run{where}: early stopping with {setting}; {effect}:"


def fmt_value(v: float | int | None) -> str:
    """A value as :func:`~lossdoc.analysis.context.fmt_loss` writes it, or ``n/a`` for none."""
    return "n/a" if v is None else fmt_loss(float(v))


def fmt_param(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float):
        return fmt_value(v)
    return str(v)
