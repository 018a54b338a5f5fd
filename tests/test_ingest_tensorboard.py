"""TensorBoard event files: every point, both scalar encodings, restarts, and the missing-extra message.

Event files are written here with TensorBoard's own writer (``EventFileWriter``), with classic
``simple_value`` scalars (what PyTorch's SummaryWriter writes) and with TF2 tensor scalars (what
``tf.summary.scalar`` / the Keras callback write).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from lossdoc.errors import LossdocError
from lossdoc.ingest import load_paths, read_one


def simple(tag: str, value: float) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(tag=tag, simple_value=value)


def tensor(tag: str, value: float) -> summary_pb2.Summary.Value:
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=tensor_shape_pb2.TensorShapeProto())
    proto.float_val.append(value)
    return summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=proto)


def write_events(folder, points, make=simple):
    """points: (step, tag, value) in write order."""
    writer = EventFileWriter(str(folder))
    for step, tag, value in points:
        summary = summary_pb2.Summary(value=[make(tag, value)])
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
    writer.close()
    return folder


def test_every_point_is_read_not_a_sample(tmp_path):
    n = 12_000  # TensorBoard's default size guidance keeps a 10,000-point reservoir sample
    write_events(tmp_path, [(s, "train/loss", 1.0 / (s + 1)) for s in range(n)])
    run = read_one(str(tmp_path))[0]
    assert len(run.train) == n
    assert run.train.x[-1] == n - 1


def test_tf2_tensor_scalars_are_read_like_simple_values(tmp_path):
    write_events(tmp_path / "a", [(s, "loss", 2.0 - s / 10) for s in range(5)], make=tensor)
    write_events(tmp_path / "b", [(s, "loss", 2.0 - s / 10) for s in range(5)], make=simple)
    a, b = read_one(str(tmp_path / "a"))[0], read_one(str(tmp_path / "b"))[0]
    np.testing.assert_allclose(a.train.y, b.train.y, rtol=1e-6)
    assert a.train.name == "loss"


def test_keras_train_and_validation_folders_are_one_run(tmp_path):
    logs = tmp_path / "logs"
    train = [(e, t, v) for e in range(4) for t, v in (("epoch_loss", 1 / (e + 1)), ("epoch_accuracy", e / 4))]
    write_events(logs / "train", train, make=tensor)
    write_events(logs / "validation", [(e, "epoch_loss", 1.5 / (e + 1)) for e in range(4)], make=tensor)
    runs, errors = load_paths([str(tmp_path)])
    assert errors == [] and len(runs) == 1
    run = runs[0]
    assert (run.name, run.source) == ("logs", str(logs))
    assert (run.train.name, run.val.name) == ("epoch_loss", "epoch_loss")
    np.testing.assert_allclose(run.val.y, [1.5, 0.75, 0.5, 0.375])


def test_restarted_run_keeps_the_later_write_and_says_so(tmp_path):
    first = [(s, "train/loss", 1.0) for s in range(10)]
    resumed = [(s, "train/loss", 0.5) for s in range(5, 15)]
    write_events(tmp_path, first + resumed)
    run = read_one(str(tmp_path))[0]
    assert run.train.x.tolist() == list(range(15))
    assert run.train.y.tolist() == [1.0] * 5 + [0.5] * 10
    assert any("repeats or goes backwards" in n for n in run.notes)


def test_accuracy_only_events_name_the_tags_and_train(tmp_path):
    write_events(tmp_path, [(s, "val/accuracy", 0.5) for s in range(3)])
    with pytest.raises(LossdocError) as info:
        read_one(str(tmp_path))
    assert "val/accuracy" in info.value.message and "--train" in info.value.message


def test_without_the_extra_the_message_says_how_to_install_it(tmp_path, monkeypatch):
    write_events(tmp_path, [(0, "loss", 1.0)])
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the extra were not installed
    event_file = next(tmp_path.glob("events.out.tfevents.*"))
    runs, errors = load_paths([str(event_file)])
    assert runs == []
    assert [(e.source, e.message) for e in errors] == [
        (str(event_file), "TensorBoard event file; install the extra: pip install 'lossdoc[tensorboard]'")
    ]
