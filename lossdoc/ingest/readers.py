"""The readers and the formats they report: one table each, which format detection, ``lossdoc
formats`` and the advice's framework guess all read (so none of them can miss a new one).

A file's reader is the first in :data:`READERS` that recognises its content (the file name is only
a hint): TensorBoard event records (binary; the first record says ``brain.Event:``), then text: JSON
Lines and JSON by their first characters, an MLflow metric file by its lines of ``timestamp value
step``, and everything else as delimited text, whose reader names the framework from the header.

Adding a file type: a module with ``read_x(raw, overrides) -> list[LossHistory]`` (see
:class:`lossdoc.ingest.base.Reader`), a :class:`FileReader` in :data:`READERS` before the one that
would otherwise take its files, and a :class:`Format` in :data:`FORMATS` for each format name it
reports (``fmt=`` of the histories it makes).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from lossdoc.errors import LossdocError
from lossdoc.ingest.base import Reader
from lossdoc.ingest.detect import is_json, is_jsonl, is_mlflow_metric, is_tfevents
from lossdoc.ingest.source import RawInput


class Sniff:
    """A file's head as the recognisers see it: the raw input, and its text decoded once, when a
    recogniser first asks for it (an empty file is refused then)."""

    def __init__(self, raw: RawInput) -> None:
        self.raw = raw

    @cached_property
    def text(self) -> str:
        """The head as text, BOM and leading blanks removed; never empty."""
        stripped = self.raw.head_text().lstrip("\ufeff").lstrip()
        if not stripped:
            raise LossdocError(self.raw.source, "empty file")
        return stripped


@dataclass(frozen=True)
class FileReader:
    """A reader of files: ``recognise`` says from a :class:`Sniff` whether a file is one it reads,
    ``module``/``function`` name the reader (imported only when a file needs it)."""

    name: str
    doc: str
    recognise: Callable[[Sniff], bool]
    module: str
    function: str

    def load(self) -> Reader:
        return getattr(importlib.import_module(self.module), self.function)  # type: ignore[no-any-return]


def _sniffer(module: str, function: str) -> Callable[[str], bool]:
    """A recogniser in a reader's own module, imported only when a file gets that far down the table."""

    def sniff(text: str) -> bool:
        return bool(getattr(importlib.import_module(module), function)(text))

    return sniff


_is_console = _sniffer("lossdoc.ingest.console", "is_console")
_is_text_log = _sniffer("lossdoc.ingest.console", "is_text_log")
_is_long_format = _sniffer("lossdoc.ingest.longformat", "is_long_format")
_is_headerless = _sniffer("lossdoc.ingest.headerless", "is_headerless")

READERS: tuple[FileReader, ...] = (
    FileReader("tensorboard", "TensorBoard event records", lambda s: is_tfevents(s.raw),
               "lossdoc.ingest.tensorboard", "read_tfevents"),
    FileReader("hf_console", "the HuggingFace Trainer's printed dicts (Python reprs, not JSON)",
               lambda s: s.text.startswith("{'") and _is_console(s.text), "lossdoc.ingest.console", "read_console"),
    FileReader("jsonl", "JSON Lines: one object per line", lambda s: is_jsonl(s.text),
               "lossdoc.ingest.jsonlike", "read_jsonl"),
    FileReader("json", "a JSON document", lambda s: is_json(s.text), "lossdoc.ingest.jsonlike", "read_json"),
    FileReader("mlflow", "an MLflow metric file", lambda s: is_mlflow_metric(s.text),
               "lossdoc.ingest.mlflow", "read_mlflow_metric_file"),
    FileReader("long_format", "a long-format metric export (metric, step, value per row)",
               lambda s: _is_long_format(s.text), "lossdoc.ingest.longformat", "read_long_format"),
    FileReader("headerless", "numbers with no header row", lambda s: _is_headerless(s.text),
               "lossdoc.ingest.headerless", "read_headerless"),
    FileReader("console", "a console or text log (its loss lines, or an error saying it has none)",
               lambda s: _is_console(s.text) or _is_text_log(s.text), "lossdoc.ingest.console", "read_console"),
    FileReader("delimited", "delimited text with a header (anything else)", lambda s: bool(s.text),
               "lossdoc.ingest.delimited", "read_delimited"),
)  # fmt: skip
"""File readers in the order they are tried: the first that recognises a file reads it."""


ROUTED: tuple[str, ...] = ("lossdoc.ingest.mlflow_sqlite", "lossdoc.ingest.mlflow_rest")
"""Readers chosen by the input's address, before any file is opened: an MLflow SQLite store and an MLflow
tracking server URL (see :func:`lossdoc.ingest.read_one`). Their formats are in :data:`FORMATS` too."""


def reader_for(raw: RawInput) -> Reader:
    """The reader of ``raw``, from its content. Raises LossdocError for an empty file."""
    sniff = Sniff(raw)
    for entry in READERS:
        if entry.recognise(sniff):
            return entry.load()
    raise LossdocError(raw.source, "no reader recognises this file")  # pragma: no cover - delimited takes all


@dataclass(frozen=True)
class Format:
    """A format name a reader reports (a run's ``format``): what it is and what is handled
    (``lossdoc formats``), and the framework that writes it, when only one does (advice snippets)."""

    name: str
    doc: str
    framework: str | None = None


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("csv", "any delimited text with a header (delimiter sniffed: , ; tab | or spaces), BOM, UTF-16; a "
           "pandas-dumped DataFrame (empty first header cell: that index is the x)"),
    Format("keras_csv", "Keras CSVLogger: first column 'epoch', val_* columns (appended at the end when they first "
           "appear later), NA cells, any separator; also no-epoch Keras-style tables", "keras"),
    Format("lightning_csv", "Lightning CSVLogger metrics.csv: 'epoch' and 'step' columns, sparse rows (each value "
           "on its own row), *_step/*_epoch forks (the step curve when it has >= 4 points per epoch point, else the "
           "epoch one), any column order; lightning_logs/version_N = runs", "lightning"),
    Format("yolo_csv", "Ultralytics results.csv, old (space-padded headers) and new: train/*_loss with metrics/* or "
           "lr/pg*; each loss pair (box, cls, dfl, seg, pose, obj ...) is a run"),
    Format("fastai_csv", "fastai CSVLogger history.csv: epoch,train_loss,valid_loss[,...,time]; header lines "
           "repeated by append=True are skipped"),
    Format("tb_csv", 'TensorBoard "Download CSV": header Wall time,Step,Value; run and tag from the file name '
           "run-<run>-tag-<tag>.csv"),
    Format("wandb_csv", "W&B exports: panel CSV ('Step', '<run> - <key>' with __MIN/__MAX; one run per W&B run) or "
           "run.history() CSV (_step, _runtime, _timestamp)"),
    Format("headerless", 'numbers with no header (np.savetxt output, a first row of numbers): columns named '
           'by position 0, 1, ... (--train col2 or --train 2); column 0 is the loss, or the x '
           'when it counts up in whole steps'),
    Format("hf_console", "HuggingFace Trainer console output: the printed dicts {'loss': ..., 'grad_norm': "
           "..., 'learning_rate': ..., 'epoch': ...} and {'eval_loss': ...} among tqdm bars; x "
           '= the printed epoch', "huggingface"),
    Format("keras_console", "Keras fit() output, verbose=1 (progress bars: the epoch-final values) or 2: 'Epoch "
           "3/20' then '... - loss: 0.45 - val_loss: 0.50'", "keras"),
    Format("lightning_console", "Lightning progress bars (tqdm 'Epoch 3: ...[..., train_loss=0.45, val_loss=0.51]' "
           "or rich 'Epoch 3/9 ... train_loss: 0.45 val_loss: 0.51'): the epoch-final values", "lightning"),
    Format("yolo_console", "Ultralytics console: the 'Epoch GPU_mem box_loss ...' header and its '3/100 0G "
           "1.23 ...' rows"),
    Format("mmengine_console", "mmengine / MMDetection text logs: 'Epoch(train) [1][ 50/500]  lr: ... loss: 1.23' "
           '(x = global iteration) and Epoch(val) / Iter(train) / Iter(val) lines'),
    Format("megatron_console", "Megatron-LM console: 'iteration 100/1000 | ... | lm loss: 3.4E+00 | ... | grad "
           "norm: 1.2 |' and 'validation loss at iteration 100 | lm loss value: ...'"),
    Format("fairseq_console", "fairseq logs: '| train_inner | epoch 001:  100 / 487 loss=4.65, ..., "
           "num_updates=100' and '| valid | epoch 001 | ... | loss 2.00 | ... | num_updates "
           "487'; x = num_updates"),
    Format("llmc_log", "llm.c main.log: 's:100 trl:2.34 lr:0.0006 norm:1.2' (train) and 's:100 tel:2.41' "
           '(val)'),
    Format("nanogpt_log", "build-nanogpt log.txt: '100 train 2.34', '100 val 2.41' ('hella' is an accuracy, "
           'not read)'),
    Format("console", "any text log with a counter and loss values (nanoGPT 'step 100: train loss 2.34, "
           "val loss 2.40', 'iter 100: loss 2.34, time 34ms', 'step 10/100 | train loss 3.21 | "
           "lr 6e-4', 'epoch 3 | train_loss=0.45', 'key: value', 'key=value'); ANSI colours "
           'and progress redraws removed; a counter going back is a resume'),
    Format("mlflow_long_csv", 'MLflow metric histories in long format: metric,step,timestamp,value with run_id / '
           'run_name columns; one series per metric, one run per run id'),
    Format("tb_long_csv", 'TensorBoard scalars in long format: tag,step,value (and a run column): one series '
           'per tag, one run per run'),
    Format("long_csv", 'any long-format export (a metric/key/name column, a step column and a value '
           'column, e.g. a flattened W&B scan_history): pivoted to one series per metric'),
    Format("json_history", "a JSON object of lists, e.g. Keras History.history (x = list position = epoch)", "keras"),
    Format("json_records", "a JSON list of objects (one per logged point)"),
    Format("json_list", "a JSON list of numbers (e.g. scikit-learn loss_curve_)"),
    Format("jsonl", "JSON Lines: one object per line", "pytorch"),
    Format("detectron2_json", "detectron2 metrics.json: JSON Lines with 'iteration' and total_loss/eta_seconds"),
    Format("mmengine_json", "mmengine vis_data/scalars.json: JSON Lines with 'step', 'iter'/'epoch' and 'lr'"),
    Format("llamafactory_jsonl", "LLaMA-Factory trainer_log.jsonl: JSON Lines with 'current_steps' and "
           "'total_steps'"),
    Format("hf_trainer_state", "HuggingFace trainer_state.json: log_history train entries (loss) and eval entries "
           "(eval_loss); the final summary entry (a run-average train_loss) is skipped; in an output folder only "
           "the latest checkpoint-N/ (or the folder's own state) is read", "huggingface"),
    Format("xgboost_json", "XGBoost evals_result / LightGBM record_evaluation: {dataset: {metric: [...]}}; train = "
           "'train'/'training'/'validation_0' (XGBoost's sklearn wrapper, with more sets)"),
    Format("mlflow", "MLflow file store: a run folder with metrics/ and meta.yaml, or one metric file (lines "
           "'timestamp value step')"),
    Format("mlflow_sqlite", "MLflow SQLite tracking store (mlflow.db, or sqlite:///path/mlflow.db; SQLite's "
           'header): every active run, named experiment/run_name, its params kept (JSON '
           "'params'); read-only, mlflow not needed"),
    Format("mlflow_server", 'a running MLflow tracking server, read through its REST API (runs/search, '
           'metrics/get-history, paginated): http://host:5000 (every run), .../#/experiments/1 '
           "(its runs) or the run's page, .../#/experiments/1/runs/ID; named "
           'experiment/run_name, params kept'),
    Format("tensorboard", "TensorBoard event files (events.out.tfevents.*: first record 'brain.Event:'), a file or "
           "a folder of them; every point (no sampling), simple_value and TF2 tensor scalars; Keras's train/ and "
           "validation/ folders are one run. Needs the extra: pip install 'lossdoc[tensorboard]'"),
)}  # fmt: skip
"""Every format a reader reports, in the order ``lossdoc formats`` lists them."""
