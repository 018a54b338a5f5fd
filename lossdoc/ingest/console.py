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

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lossdoc.history import LossHistory
from lossdoc.ingest.base import NotALog
from lossdoc.ingest.roles import classify_loss
from lossdoc.ingest.source import RawInput

# Every format this reader reports (``lossdoc formats`` lists them from here).
FORMAT = STYLE_FORMATS = (
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
NUM = r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf(?:inity)?)"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]")
REDRAW = re.compile(r"[\r\b]+")
SNIFF_LINES = 400

# Printed names of the learning rate and gradient norm, as the role table spells them.
ALIASES = {
    "learning rate": "learning_rate",
    "grad norm": "grad_norm",
    "gnorm": "grad_norm",
    "norm": "grad_norm",
    "trl": "train loss",
    "tel": "val loss",
}
# Printed numbers that are not metrics of the run, though their names hold a loss word.
IGNORED = re.compile(r"loss[ _]?scale|number of .*|.*\b(?:time|samples|tokens?|memory|mem)\b.*|v_num|eta")

HF_DICT = re.compile(r"\{[^{}]*'(?:eval_|train_)?loss'[^{}]*\}")
HF_PAIR = re.compile(rf"'([^']+)':\s*(?:np\.float64\()?'?({NUM})'?\)?(?=\s*[,}}])", re.IGNORECASE)
KERAS_EPOCH = re.compile(r"^\s*Epoch (\d+)/(\d+)\s*$")
KERAS_PAIR = re.compile(rf"(?:^|\s-\s)(\w+):\s*({NUM})(?=\s|$)", re.IGNORECASE)
LIGHTNING_BAR = re.compile(r"^\s*Epoch (\d+):.*\[([^\[\]]*=[^\[\]]*)\]\s*$")
LIGHTNING_PAIR = re.compile(rf"([A-Za-z_][\w/.\-]*)=({NUM})(?=[,\s\]]|$)", re.IGNORECASE)
LIGHTNING_RICH = re.compile(r"^\s*Epoch (\d+)/\d+\s.*?(?:it/s|s/it)\s+(.*)$")
RICH_MORE = re.compile(rf"^\s*(?:[A-Za-z_][\w/.\-]*:\s+{NUM}\s*)+$", re.IGNORECASE)
YOLO_HEADER = re.compile(r"^\s*Epoch\s+GPU_mem\s+(.*?)\s*$")
YOLO_ROW = re.compile(r"^\s*(\d+)/(\d+)\s+\S+\s+(.*)$")
MM_LINE = re.compile(r"(Epoch|Iter)\((train|val|test)\)\s*\[\s*(\d+)\s*\](?:\s*\[\s*(\d+)\s*/\s*(\d+)\s*\])?(.*)$")
MM_PAIR = re.compile(rf"([A-Za-z_][\w/.\-]*):\s+({NUM})(?=\s|$)", re.IGNORECASE)
MEGATRON_TRAIN = re.compile(r"\biteration\s+(\d+)\s*/\s*\d+\s*\|(.*)$")
MEGATRON_VAL = re.compile(r"\bvalidation loss at iteration\s+(\d+)\s*\|(.*)$")
MEGATRON_PAIR = re.compile(rf"^\s*([A-Za-z][\w .\-/]*?)\s*:\s*({NUM})\s*$", re.IGNORECASE)
FAIRSEQ_LINE = re.compile(r"\|\s*(train_inner|train|valid)\s*\|\s*epoch\s+\d+(.*)$")
FAIRSEQ_SPACE_PAIR = re.compile(rf"^\s*([A-Za-z_]\w*)\s+({NUM})\s*$", re.IGNORECASE)
LLMC_LINE = re.compile(rf"^s:(\d+)((?:\s+[a-z]+:{NUM})+)\s*$", re.IGNORECASE)
LLMC_PAIR = re.compile(rf"([a-z]+):({NUM})", re.IGNORECASE)
NANOGPT_LOG = re.compile(rf"^(\d+) ([A-Za-z_]\w*) ({NUM})$", re.IGNORECASE)
COUNTER = re.compile(r"\b(step|iter|iteration|epoch|it)\b\s*[:=#]?\s*(\d+)(?:\s*/\s*\d+)?", re.IGNORECASE)
EQ_PAIR = re.compile(rf"([A-Za-z_][\w/.\-]*(?: [A-Za-z_][\w/.\-]*)?)\s*[:=]\s*({NUM})(?![\w.])", re.IGNORECASE)
SPACE_PAIR = re.compile(rf"^([A-Za-z][A-Za-z_/ ]*?)\s+({NUM})(?![\w.])", re.IGNORECASE)
CHUNKS = re.compile(r"\s*[|,;]\s*|\s{2,}")
# A quick first look (substrings of the lower-cased segment): a segment without any of these cannot hold a
# point of any style. Plain substring tests, as most segments of a console log are progress-bar redraws.
MAYBE = ("loss", "epoch", "{'", "s:", " train ", " val ", "mse", "err", "nll", "ppl", "perplexity", "mae")


@dataclass
class Points:
    """Every value read, per series, in the order printed."""

    xs: dict[str, list[float]] = field(default_factory=dict)
    ys: dict[str, list[float]] = field(default_factory=dict)
    x_names: dict[str, str] = field(default_factory=dict)
    styles: Counter[str] = field(default_factory=Counter)

    names: dict[str, str | None] = field(default_factory=dict)
    """A printed key -> its series name, or None for a number that is not a metric (looked up once)."""

    def name(self, key: str) -> str | None:
        if key not in self.names:
            name = ALIASES.get(key.strip().lower(), key.strip())
            self.names[key] = None if not name or IGNORED.fullmatch(name.lower()) else name
        return self.names[key]

    def add(self, style: str, x_name: str, x: float, pairs: list[tuple[str, str]]) -> bool:
        added = False
        for key, text in pairs:
            name = self.name(key)
            if name is None:
                continue
            try:
                y = float(text)
            except ValueError:
                continue
            xs, ys = self.xs.setdefault(name, []), self.ys.setdefault(name, [])
            self.x_names.setdefault(name, x_name)
            if xs and xs[-1] == x:
                ys[-1] = y  # the same x printed again: a progress bar redrawn, the later value wins
            else:
                xs.append(x)
                ys.append(y)
            added = True
        if added:
            self.styles[style] += 1
        return added


@dataclass
class State:
    """What earlier lines said that later lines need (the Keras epoch, YOLO's header, the last counter)."""

    points: Points = field(default_factory=Points)
    keras_epoch: int | None = None
    yolo_columns: list[str] = field(default_factory=list)
    mm_total: int = 0
    mm_iter: float = 0.0
    counter: tuple[str, float] | None = None
    records: int = 0
    rich_epoch: int | None = None


def _hf(seg: str, st: State) -> bool:
    m = HF_DICT.search(seg)
    if m is None:
        return False
    pairs = HF_PAIR.findall(m.group(0))
    keys = {k for k, _ in pairs}
    if "train_runtime" in keys:
        return True  # the run summary: a run-average train_loss, not a point of the curve
    values = dict(pairs)
    x_name = "step" if "step" in values else "epoch"
    if x_name not in values:
        st.records += 1
        x_name, x = "log", float(st.records)
    else:
        x = float(values[x_name])
    return st.points.add("hf_console", x_name, x, [(k, v) for k, v in pairs if k not in ("epoch", "step")])


def _keras(seg: str, st: State) -> bool:
    m = KERAS_EPOCH.match(seg)
    if m:
        st.keras_epoch = int(m.group(1))
        return True
    if st.keras_epoch is None or " - " not in seg or "loss" not in seg:
        return False
    pairs = KERAS_PAIR.findall(seg)
    return bool(pairs) and st.points.add("keras_console", "epoch", float(st.keras_epoch), pairs)


def _lightning(seg: str, st: State) -> bool:
    m = LIGHTNING_BAR.match(seg)
    if m is not None:
        pairs = LIGHTNING_PAIR.findall(m.group(2))
        return st.points.add("lightning_console", "epoch", float(m.group(1)), pairs)
    # rich's bar: "Epoch 3/9 ━━━ 10/10 0:00:00 • 0:00:00 24.05it/s train_loss: 0.347", the metrics that do
    # not fit on further lines ("            val_loss: 0.502")
    m = LIGHTNING_RICH.match(seg)
    if m is not None:
        st.rich_epoch = int(m.group(1))
        return st.points.add("lightning_console", "epoch", float(st.rich_epoch), MM_PAIR.findall(m.group(2)))
    if st.rich_epoch is not None and RICH_MORE.match(seg):
        return st.points.add("lightning_console", "epoch", float(st.rich_epoch), MM_PAIR.findall(seg))
    return False


def _yolo(seg: str, st: State) -> bool:
    m = YOLO_HEADER.match(seg)
    if m:
        st.yolo_columns = m.group(1).split()
        return True
    if not st.yolo_columns:
        return False
    m = YOLO_ROW.match(seg)
    if m is None:
        return False
    values = m.group(3).split()
    pairs = [(c, v) for c, v in zip(st.yolo_columns, values, strict=False) if c.endswith("_loss")]
    return bool(pairs) and st.points.add("yolo_console", "epoch", float(m.group(1)), pairs)


def _mmengine(seg: str, st: State) -> bool:
    m = MM_LINE.search(seg)
    if m is None:
        return False
    unit, split, first, i, total, rest = m.groups()
    if unit == "Epoch" and i is not None:
        if split == "train":
            st.mm_total = int(total)
            x = (int(first) - 1) * int(total) + int(i)
            st.mm_iter = x
        else:
            x = st.mm_iter or int(first) * st.mm_total
    else:
        x = int(first) if split == "train" else st.mm_iter
        if split == "train":
            st.mm_iter = x
    pairs = MM_PAIR.findall(rest)
    if split != "train":
        pairs = [(k if k.startswith(("val", "test")) else f"{split}/{k}", v) for k, v in pairs]
    return st.points.add("mmengine_console", "iter", float(x), pairs)


def _megatron(seg: str, st: State) -> bool:
    m = MEGATRON_VAL.search(seg)
    if m:
        pairs = [p.groups() for c in m.group(2).split("|") if (p := MEGATRON_PAIR.match(c))]
        named = [(f"val {k.removesuffix(' value').strip()}", v) for k, v in pairs]
        return st.points.add("megatron_console", "iteration", float(m.group(1)), named)
    m = MEGATRON_TRAIN.search(seg)
    if m is None:
        return False
    pairs = [p.groups() for c in m.group(2).split("|") if (p := MEGATRON_PAIR.match(c))]
    return st.points.add("megatron_console", "iteration", float(m.group(1)), pairs)


def _fairseq(seg: str, st: State) -> bool:
    """fairseq's ``| train_inner | epoch 001:    100 / 487 loss=4.655, ..., num_updates=100, ...`` and
    ``| valid | epoch 001 | valid on 'valid' subset | loss 2.001 | ... | num_updates 487``; x = num_updates.
    The ``| train |`` epoch summary repeats the inner points' average and is skipped."""
    m = FAIRSEQ_LINE.search(seg)
    if m is None:
        return False
    tag, rest = m.groups()
    if tag == "train":
        return True
    if tag == "train_inner":
        pairs = LIGHTNING_PAIR.findall(rest)
    else:
        pairs = [p.groups() for c in rest.split("|") if (p := FAIRSEQ_SPACE_PAIR.match(c))]
    values = dict(pairs)
    if "num_updates" not in values:
        return False
    x = float(values.pop("num_updates"))
    named = [(k if tag == "train_inner" else f"valid_{k}", v) for k, v in values.items()]
    return st.points.add("fairseq_console", "num_updates", x, named)


def _llmc(seg: str, st: State) -> bool:
    m = LLMC_LINE.match(seg)
    if m is None:
        return False
    pairs = [(k, v) for k, v in LLMC_PAIR.findall(m.group(2)) if k.lower() != "eval"]  # eval = HellaSwag
    return st.points.add("llmc_log", "step", float(m.group(1)), pairs)


def _nanogpt_log(seg: str, st: State) -> bool:
    m = NANOGPT_LOG.match(seg.strip())
    if m is None:
        return False
    return st.points.add("nanogpt_log", "step", float(m.group(1)), [(m.group(2), m.group(3))])


def _generic(seg: str, st: State) -> bool:
    counter = COUNTER.search(seg)
    rest = seg
    if counter is not None:
        x_name = counter.group(1).lower()
        x_name = "iter" if x_name == "it" else x_name
        st.counter = (x_name, float(counter.group(2)))
        rest = seg[: counter.start()] + " | " + seg[counter.end() :]
    pairs: list[tuple[str, str]] = []
    for chunk in CHUNKS.split(rest):
        chunk = chunk.strip(" :-()[]")
        if not chunk:
            continue
        found = EQ_PAIR.findall(chunk)
        if not found and (m := SPACE_PAIR.match(chunk)):
            found = [m.groups()]
        pairs += [(k.strip(), v) for k, v in found]
    if not any(classify_loss(k) for k, _ in pairs):
        return False
    if st.counter is None:
        st.records += 1
        x_name, x = "record", float(st.records)
    else:
        x_name, x = st.counter
    return st.points.add("console", x_name, x, pairs)


STYLES: tuple[Callable[[str, State], bool], ...] = (
    _hf,
    _llmc,
    _nanogpt_log,
    _megatron,
    _fairseq,
    _mmengine,
    _yolo,
    _keras,
    _lightning,
    _generic,
)


def segments(text: str) -> list[str]:
    """The text's printed segments: ANSI codes removed, each line cut at carriage returns and backspaces."""
    if "\x1b" in text:
        text = ANSI.sub("", text)
    out: list[str] = []
    for line in text.split("\n"):
        if "\r" in line or "\b" in line:
            out += [s for s in REDRAW.split(line) if s.strip()]
        elif line.strip():
            out.append(line)
    return out


def parse(text: str) -> State:
    st = State()
    for seg in segments(text):
        lower = seg.lower()
        if not any(word in lower for word in MAYBE) and not (st.yolo_columns and YOLO_ROW.match(seg)):
            continue
        for style in STYLES:
            if style(seg, st):
                break
    return st


def is_console(head: str) -> bool:
    """Whether the first lines of a text hold a loss line of any style above (on the sniff window only)."""
    lines = head.splitlines()[:SNIFF_LINES]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]
    st = parse("\n".join(lines))
    return bool(st.points.styles)


def read_console(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    """The runs of a console log (see the module docstring); a text with no loss line is NotALog."""
    from lossdoc.ingest.frame import histories_from_points

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
    from lossdoc.ingest.roles import plan_roles

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
    from lossdoc.ingest.delimited import sniff_delimiter

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
    from lossdoc.ingest.frame import run_name

    return run_name(raw.source)
