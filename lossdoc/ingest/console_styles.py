"""The console line styles: each style is a function that takes one printed segment if it is that
style's loss line, and adds its points to the parse :class:`State` (the styles are listed in
:mod:`lossdoc.ingest.console`). :func:`parse` reads a whole text; :func:`feed` one segment, as
``lossdoc watch`` does for a stream."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from lossdoc.ingest.roles import classify_loss

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
# point of any style. Plain substrings, as most segments of a console log are progress-bar redraws.
MAYBE = ("loss", "epoch", "{'", "s:", " train ", " val ", "mse", "err", "nll", "ppl", "perplexity", "mae")
MAYBE_RE = re.compile("|".join(map(re.escape, MAYBE)))
"""Any of MAYBE in a segment, in one pass of the pattern (a CSV sniffed as a console log has 400 lines)."""


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


def feed(seg: str, st: State) -> None:
    """Offer one segment to the styles; the first that takes it wins."""
    if not MAYBE_RE.search(seg.lower()) and not (st.yolo_columns and YOLO_ROW.match(seg)):
        return
    for style in STYLES:
        if style(seg, st):
            break


def parse(text: str) -> State:
    st = State()
    for seg in segments(text):
        feed(seg, st)
    return st
