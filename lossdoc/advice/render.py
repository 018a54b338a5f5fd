"""The "next run" section as short plain-text lines, for every report format to place.

Reports never compute advice; they call :func:`next_run_lines` on the run's ``advice`` dict (the
JSON-safe dict :func:`lossdoc.advice.advise` returns) and render the lines as they like (a terminal
panel, a markdown list, an html list). Lines carry no markup; a line starting with two spaces is a
continuation (a callback in the replay list, or a line of the copy-paste snippet).
"""

from __future__ import annotations

from typing import Any

from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.words import count, units

SHOWN_PARAMS = 2
"""Parameters shown per replayed callback (the JSON ``params`` hold them all)."""


def next_run_lines(advice: dict[str, Any] | None) -> list[str]:
    """Plain-text lines: the best point, what the callbacks would have done, the setting to use."""
    if not advice:
        return []
    x_name = str(advice.get("x_name") or "x")
    monitor = str(advice.get("monitor") or "the loss")
    lines: list[str] = []

    best = advice.get("best")
    if best:
        lines.append(best_line(best, x_name, monitor))

    replay = advice.get("replay") or []
    if replay:
        checks = advice.get("checks")
        unit = f" ({count(checks, 'check')})" if checks else ""
        lines.append(f"Built-in callbacks with their defaults, replayed on {monitor}{unit}:")
        best_x = best["x"] if best else None
        lines.extend(f"  {replay_line(r, x_name, best_x)}" for r in replay)

    rec = advice.get("recommendation")
    if rec:
        lines.append(recommendation_line(rec, x_name))
        lines.extend(f"  {s}" for s in str(rec.get("snippet") or "").splitlines() if s.strip())

    lines.extend(str(n) for n in advice.get("notes") or [])
    return lines


def best_line(best: dict[str, Any], x_name: str, monitor: str) -> str:
    at = f"{x_name} {fmt_x(best['x'])}"
    head = f"Best point: {at} ({monitor} {fmt_value(best['value'])})"
    frac = best.get("saved_fraction") or 0.0
    if frac <= 0:
        return f"{head}, at the end of the run: nothing to save by stopping earlier."
    tail = f"; the rest of the run after it, {frac * 100:.0f}% of it"
    after = best.get("after")
    if after:
        tail = f"; the {fmt_x(after)} {units(x_name, after)} after it, {frac * 100:.0f}% of the run"
    final = best.get("final_value")
    rise = best.get("rise_pct")
    if final is None:
        return f"{head}{tail}, ended with a non-finite value."
    if rise is not None and rise >= 900:
        return f"{head}{tail}, raised it to {fmt_value(final)} ({fmt_value(1 + rise / 100)}x the best)."
    if rise is not None and rise > 0:
        return f"{head}{tail}, raised it to {fmt_value(final)} (+{rise:.0f}%)."
    if rise is None and final > best["value"]:
        return f"{head}{tail}, raised it to {fmt_value(final)}."
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


def recommendation_line(rec: dict[str, Any], x_name: str) -> str:
    setting = f"patience {rec['patience']}, min_delta {fmt_value(rec['min_delta'])}"
    framework = rec.get("framework") or "generic"
    where = "" if framework == "generic" else f" ({framework})"
    stop = rec.get("stop_x")
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

