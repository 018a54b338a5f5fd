"""A real MLflow tracking server (SQLite backend, a free local port), started and stopped here; runs logged
through mlflow itself, read back by lossdoc through the REST API. Needs the test extra: pip install
'lossdoc[integrations]' (lossdoc itself never imports mlflow)."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from lossdoc.ingest import read_one

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install 'lossdoc[integrations]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--default-artifact-root",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start: {(folder / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url, _log_runs(url)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()


def _log_runs(url: str) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    ids = {}
    for experiment, runs in (("sweep", ("small-lr", "big-lr")), ("other", ("blowup",))):
        experiment_id = client.create_experiment(experiment)
        for name in runs:
            run = client.create_run(experiment_id, run_name=name)
            client.log_param(run.info.run_id, "lr", "0.1" if name == "big-lr" else "0.001")
            for step in range(25):
                loss = 2.0 * math.exp(-step / 6) + 0.1
                if name == "blowup" and step >= 23:
                    loss = float("nan") if step == 23 else float("inf")
                client.log_metric(run.info.run_id, "train_loss", loss, step=step)
                if step % 5 == 4 and name != "blowup":
                    client.log_metric(run.info.run_id, "val_loss", loss + 0.05, step=step)
            client.set_terminated(run.info.run_id)
            ids[name] = (experiment_id, run.info.run_id)
    return ids


def test_every_run_of_the_server_named_experiment_slash_run_with_params(server):
    url, _ = server
    runs = read_one(url)
    assert [(r.name, r.format, r.x_name) for r in runs] == [
        ("sweep/small-lr", "mlflow_server", "step"),
        ("sweep/big-lr", "mlflow_server", "step"),
        ("other/blowup", "mlflow_server", "step"),
    ]
    small = runs[0]
    assert small.params == {"lr": "0.001"}
    np.testing.assert_array_equal(small.train.x, np.arange(25))
    np.testing.assert_allclose(small.train.y, 2.0 * np.exp(-np.arange(25) / 6) + 0.1)
    assert (small.val.name, small.val.x.tolist()) == ("val_loss", [4, 9, 14, 19, 24])
    np.testing.assert_array_equal(runs[2].train.y[-3:], [runs[2].train.y[-3], np.nan, np.inf])


def test_a_run_address_as_the_browser_shows_it(server):
    url, ids = server
    experiment_id, run_id = ids["big-lr"]
    (run,) = read_one(f"{url}/#/experiments/{experiment_id}/runs/{run_id}")
    assert (run.name, run.params) == ("sweep/big-lr", {"lr": "0.1"})
    runs = read_one(f"{url}/#/experiments/{experiment_id}")
    assert [r.name for r in runs] == ["sweep/small-lr", "sweep/big-lr"]


def test_experiment_by_name(server):
    url, _ = server
    assert [r.name for r in read_one(url, {"experiment": "other"})] == ["other/blowup"]


def test_history_is_read_page_by_page(server, monkeypatch):
    from lossdoc.ingest import mlflow_rest

    monkeypatch.setattr(mlflow_rest, "HISTORY_PAGE", 7)
    monkeypatch.setattr(mlflow_rest, "PAGE", 1)
    url, _ = server
    runs = read_one(url)
    assert [len(r.train) for r in runs] == [25, 25, 25]
