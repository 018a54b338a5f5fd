"""``lossdoc compare --plot FILE``: the runs overlaid, one panel per loss series (training,
validation), the baseline grey, each candidate in colour with the x where it leaves the baseline's
noise band marked, and the band itself shaded."""

from __future__ import annotations

import numpy as np

from lossdoc.compare.report import CompareReport
from lossdoc.errors import one_line

ROLES = (("train", "training loss"), ("val", "validation loss"))


def write_plot(r: CompareReport, path: str) -> None:
    # start-up time: matplotlib only when plotting
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lossdoc.compare.align import curve

    assert r.baseline is not None
    base = r.baseline.history
    roles = [(role, words) for role, words in ROLES if base.get(role) is not None]  # type: ignore[arg-type]
    fig, axes = plt.subplots(1, max(1, len(roles)), figsize=(6.5 * max(1, len(roles)), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (role, words) in zip(axes[0], roles, strict=False):
        b = curve(base.get(role))  # type: ignore[arg-type]
        if b is None:
            continue
        ax.plot(b.x, b.y, color="0.75", lw=0.8)
        ax.plot(b.trend_x, b.to_loss(b.trend), color="0.35", lw=1.8, label=f"baseline: {one_line(base.name)}")
        ax.fill_between(
            b.trend_x, b.to_loss(b.trend - b.band), b.to_loss(b.trend + b.band), color="0.6", alpha=0.2, lw=0
        )
        for i, c in enumerate(r.comparisons):
            cc = curve(c.candidate.history.get(role), log_space=b.log_space, scale=b.scale)  # type: ignore[arg-type]
            if cc is None:
                continue
            colour = colours[i % len(colours)]
            ax.plot(cc.x, cc.y, color=colour, lw=0.6, alpha=0.4)
            ax.plot(cc.trend_x, cc.to_loss(cc.trend), color=colour, lw=1.6, label=one_line(c.candidate.history.name))
            dep = c.departures.get(role)
            if dep is not None:
                ax.axvline(dep.x, color=colour, ls="--", lw=1)
                y = float(np.interp(dep.x, cc.trend_x, np.asarray(cc.to_loss(cc.trend))))
                ax.plot([dep.x], [y], "o", color=colour, ms=6)
                ax.annotate(
                    f"leaves band ({dep.direction})",
                    (dep.x, y),
                    textcoords="offset points",
                    xytext=(6, 6),
                    fontsize=8,
                    color=colour,
                )
        if b.log_space:
            ax.set_yscale("log")
        ax.set_title(words)
        ax.set_xlabel(one_line(base.x_name))
        ax.legend(fontsize=8)
    fig.suptitle(f"lossdoc compare: {r.verdict.upper()}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
