"""Folder discovery (issue 15): byte-identical copies are found in linear time, and the run that is
read says which copy was not."""

from __future__ import annotations

import hashlib
import json

from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.ingest import discover, load_paths

runner = CliRunner()


def csv_log(seed: int, rows: int = 10) -> str:
    # same length for every seed: every file has the same size, and different bytes
    return "epoch,loss\n" + "".join(f"{i},{(seed * 7919 + i) % 100000:06d}\n" for i in range(rows))


class CountingDigest(bytes):
    compared = 0

    def __eq__(self, other: object) -> bool:
        CountingDigest.compared += 1
        return bytes.__eq__(self, other)

    __hash__ = bytes.__hash__


def test_same_size_logs_are_not_compared_with_every_earlier_one(tmp_path, monkeypatch):
    n = 2_000
    for i in range(n):
        (tmp_path / f"run{i:05d}.csv").write_text(csv_log(i))
    real = hashlib.sha256

    class Hash:
        def __init__(self, data: bytes = b"") -> None:
            self.inner = real(data)

        def update(self, data: bytes) -> None:
            self.inner.update(data)

        def digest(self) -> bytes:
            return CountingDigest(self.inner.digest())

    monkeypatch.setattr(hashlib, "sha256", Hash)
    CountingDigest.compared = 0
    refs = discover(tmp_path)
    assert len(refs) == n
    assert CountingDigest.compared < n  # a look-up by digest, not n * n / 2 comparisons


def test_a_twin_is_read_once_and_the_kept_run_names_it(tmp_path):
    (tmp_path / "metrics.csv").write_text(csv_log(1))
    (tmp_path / "copy.csv").write_text(csv_log(1))
    (tmp_path / "other.csv").write_text(csv_log(2))
    runs, errors = load_paths([str(tmp_path)])
    assert errors == []
    assert sorted(r.source for r in runs) == [str(tmp_path / "metrics.csv"), str(tmp_path / "other.csv")]
    kept = next(r for r in runs if r.source.endswith("metrics.csv"))
    assert kept.notes == [f"skipped {tmp_path / 'copy.csv'}: a byte-identical copy of this log"]
    res = runner.invoke(app, ["analyze", str(tmp_path), "--format", "json", "-j", "1"])
    notes = {r["source"]: r["notes"] for r in json.loads(res.stdout)["runs"]}
    assert notes[str(tmp_path / "metrics.csv")] == kept.notes
