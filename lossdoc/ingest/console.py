"""Console and text logs (``slurm-1234.out``, ``nohup.out``, ``train.log``), recognised by their lines.

Entry points: :func:`is_console` (a look at the first 64 KiB) and :func:`read_console`. ANSI colour
codes are removed and each line is cut at its carriage returns and backspaces, so every redraw of a
progress bar is one *segment*; each segment is offered to the line styles below, the first that
takes it wins. A value printed again for the same x (a progress bar redrawn) replaces the earlier
one, so a Keras or Lightning epoch keeps its epoch-final values; a counter going back is a resumed
run (the run's notes say so, and the last write of each x is kept).

Styles (the run's format is the one that gave most points):

* ``hf_console``: the HuggingFace Trainer's printed dicts ``{'loss': 0.51, 'grad_norm': 1.2,
  'learning_rate': 4e-05, 'epoch': 0.3}`` and ``{'eval_loss': ...}``; x = the printed epoch (the
  run summary with ``train_runtime`` is skipped).
* ``keras_console``: ``Epoch 3/20`` then ``... - loss: 0.4512 - val_loss: 0.5021`` (verbose 1 or 2).
* ``lightning_console``: the progress bar ``Epoch 3: 100%|...| [..., loss=0.45, v_num=0, val_loss=0.51]``.
* ``yolo_console``: Ultralytics' ``Epoch GPU_mem box_loss ...`` header and its ``3/100 0G 1.23 ...`` rows.
* ``mmengine_console``: ``Epoch(train) [1][ 50/500]  lr: ... loss: 1.23`` and ``Epoch(val)`` / ``Iter(...)``.
* ``megatron_console``: ``iteration 100/1000 | ... | lm loss: 3.41E+00 | ... | grad norm: 1.23 |`` and
  ``validation loss at iteration 100 | lm loss value: ...``.
* ``fairseq_console``: ``| train_inner | epoch 001:  100 / 487 loss=4.655, ..., num_updates=100`` and
  ``| valid | epoch 001 | valid on 'valid' subset | loss 2.001 | ... | num_updates 487``.
* ``llmc_log``: llm.c's main.log, ``s:100 trl:2.34 lr:0.0006 norm:1.2`` and ``s:100 tel:2.41``.
* ``nanogpt_log``: build-nanogpt's log.txt, ``100 train 2.34`` / ``100 val 2.41`` / ``100 hella 0.25``.
* ``console``: any line with a counter (``step``, ``iter``, ``iteration``, ``epoch``) and loss values,
  ``key: value``, ``key=value`` or ``key value`` (nanoGPT ``step 100: train loss 2.34, val loss 2.40``,
  ``iter 100: loss 2.34, time 34.12ms``, ``step 10/100 | train loss 3.21 | lr 6e-4``); a loss line with
  no counter of its own (llm.c's ``val loss 2.41``) belongs to the last counter printed.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from lossdoc.history import LossHistory
from lossdoc.ingest.base import NotALog
from lossdoc.ingest.delimited import sniff_delimiter
from lossdoc.ingest.headerless import NUMBER, split_fields
from lossdoc.ingest.histories import histories_from_points
from lossdoc.ingest.names import run_name
from lossdoc.ingest.roles import classify_loss, plan_roles
from lossdoc.ingest.source import RawInput

if TYPE_CHECKING:
    from lossdoc.ingest.console_styles import Points

# Every format this reader reports (``lossdoc formats`` lists them from here).
FORMAT = (
    "hf_console",
    "keras_console",
    "lightning_console",
    "yolo_console",
    "mmengine_console",
    "megatron_console",
    "fairseq_console",
    "llmc_log",
    "nanogpt_log",
    "console",
)


TABLE_LINES = 20
"""How many lines after the header :func:`is_table` looks at: a CSV's first rows show it is one."""


def is_table(head: str) -> bool:
    """Whether a text is plainly a table, never console output: a header line, then rows that the same
    delimiter (not white space) splits into as many fields, every one a number or empty. Every CSV a
    logger writes is one; console output always has words between its numbers. Lets a CSV skip the
    console styles, whose patterns cost a small CSV's start-up measurably (see benchmarks/README.md)."""
    delimiter = sniff_delimiter(head)
    if delimiter == r"\s+":
        return False
    lines = [ln for ln in head.splitlines()[: TABLE_LINES + 2] if ln.strip()]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sniff window may cut the last line
    fields = lines[0].count(delimiter) if lines else 0
    if len(lines) < 2 or not fields:
        return False
    return all(
        ln.count(delimiter) == fields and all(not c or NUMBER.fullmatch(c) for c in split_fields(ln, delimiter))
        for ln in lines[1 : TABLE_LINES + 1]
    )


def is_console(head: str) -> bool:
    """Whether the first lines of a text hold a loss line of any style (on the sniff window only)."""
    if is_table(head):
        return False
    # start-up time: the styles' patterns only for a text that may be console output
    from lossdoc.ingest.console_styles import SNIFF_LINES, parse

    lines = head.splitlines()[:SNIFF_LINES]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]
    st = parse("\n".join(lines))
    return bool(st.points.styles)


def read_console(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    """The runs of a console log (see the module docstring); a text with no loss line is NotALog."""
    from lossdoc.ingest.console_styles import parse  # start-up time: see is_console

    text = raw.text()
    st = parse(text)
    pts = st.points
    if not pts.styles:
        lines = text.count("\n") + 1
        raise NotALog(
            raw.source,
            f"a text log of {lines:,} line(s) with no loss line lossdoc knows (console output of HF Trainer, "
            "Keras, Lightning, nanoGPT, llm.c, Megatron, mmengine, YOLO, or 'step N ... loss: X' lines)",
        )
    fmt = pts.styles.most_common(1)[0][0]
    ov = dict(overrides)
    if fmt == "nanogpt_log" and ov.get("train") is None and ov.get("val") is None and "train" in pts.xs:
        ov["train"] = "train"  # build-nanogpt's log.txt names its series train / val / hella
        if "val" in pts.xs:
            ov["val"] = "val"
    x_name = _x_name(pts, ov)
    points = {
        k: (np.asarray(pts.xs[k], dtype=np.float64), np.asarray(pts.ys[k], dtype=np.float64))
        for k in pts.xs
        if k != x_name  # a counter also printed as a value ("step 10 | epoch: 1 | ..."): it is the x
    }
    return histories_from_points(
        points, source=raw.source, fmt=fmt, name=raw.run_name or _default_name(raw), overrides=ov, x_name=x_name
    )


def _x_name(pts: Points, ov: dict[str, str | None]) -> str:
    """The x axis's name: the counter printed with the training loss the run will use (nanoGPT prints
    its loss per ``iter`` and its estimates per ``step``: the same counter, named twice)."""
    counts = {k: len(v) for k, v in pts.xs.items()}
    try:
        plans = plan_roles(list(pts.xs), train=ov.get("train"), val=ov.get("val"), counts=counts)
    except KeyError:
        plans = []
    used = [k for p in plans[:1] for k in (p.train, p.val) if k is not None]
    names = used or [k for k in pts.xs if classify_loss(k)] or list(pts.xs)
    return Counter(pts.x_names[k] for k in names).most_common(1)[0][0]


def is_text_log(head: str) -> bool:
    """Whether a text that no style recognised is prose rather than a table: its lines split on white
    space into counts of fields that mostly differ from the first line's (a table's rows match its header)."""
    if sniff_delimiter(head) != r"\s+":
        return False
    lines = [ln for ln in head.splitlines()[:21] if ln.strip()]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sniff window may cut the last line
    if len(lines) < 2:
        return False
    counts = [len(ln.split()) for ln in lines]
    return sum(c == counts[0] for c in counts[1:]) * 2 < len(counts) - 1


def _default_name(raw: RawInput) -> str:
    return run_name(raw.source)
