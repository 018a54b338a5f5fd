"""A running MLflow tracking server, read through its REST API (no mlflow package needed).

Entry points: :func:`is_mlflow_url` and :func:`read_mlflow_server`. The argument is the server's
address as the browser shows it:

* ``http://host:5000/#/experiments/1/runs/<run id>``: that run;
* ``http://host:5000/#/experiments/1``: every active run of experiment 1;
* ``http://host:5000``: every active run of every active experiment (``--experiment NAME``: of that one).

Runs come from ``runs/search`` (or ``runs/get``) and each metric's points from
``metrics/get-history``, both followed page by page. A run is named ``experiment/run_name``; its
params are kept on it. MLflow returns ±Inf as ±the largest float: read back as ±Inf.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any
from urllib.parse import urlencode

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest.base import NotALog

FORMAT = "mlflow_server"
API = "/api/2.0/mlflow/"
PAGE = 1000
HISTORY_PAGE = 25000
TIMEOUT_SECONDS = 30
FRAGMENT = re.compile(r"experiments/(?P<experiment>\d+)(?:/runs/(?P<run>[0-9a-fA-F]+))?")


def is_mlflow_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


class _Server:
    def __init__(self, base: str, source: str) -> None:
        self.base = base.rstrip("/")
        self.source = source

    def call(self, endpoint: str, query: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> Any:
        # start-up time: only for an MLflow server
        import urllib.error
        import urllib.request

        url = self.base + API + endpoint + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return json.loads(response.read().decode("utf-8"))  # MLflow writes NaN as a bare NaN
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode("utf-8", errors="replace")
            raise LossdocError(self.source, f"MLflow server answered HTTP {exc.code} to {endpoint}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LossdocError(self.source, f"cannot reach the MLflow server at {self.base} ({reason})") from None
        except ValueError:
            raise LossdocError(self.source, f"{self.base} is not an MLflow server (its answer is not JSON)") from None

    def pages(self, endpoint: str, key: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            answer = self.call(endpoint, body={**body, **({"page_token": token} if token else {})})
            items += answer.get(key, [])
            token = answer.get("next_page_token")
            if not token:
                return items

    def history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        token = None
        while True:
            query = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
            answer = self.call("metrics/get-history", query={**query, **({"page_token": token} if token else {})})
            points += answer.get("metrics", [])
            token = answer.get("next_page_token")
            if not token:
                return points


def read_mlflow_server(spec: str, overrides: dict[str, str | None]) -> list[LossHistory]:
    """The runs a server address names (see the module docstring), each with its metrics and params."""
    from lossdoc.ingest.histories import histories_from_points

    base, _, fragment = spec.partition("#")
    server = _Server(base, spec)
    m = FRAGMENT.search(fragment)
    if m and m.group("run"):
        runs = [server.call("runs/get", query={"run_id": m.group("run")})["run"]]
    else:
        if m:
            experiment_ids = [m.group("experiment")]
        elif overrides.get("experiment"):
            name = overrides["experiment"]
            found = server.call("experiments/get-by-name", query={"experiment_name": name})
            experiment_ids = [found["experiment"]["experiment_id"]]
        else:
            found = server.pages("experiments/search", "experiments", {"max_results": PAGE})
            experiment_ids = [e["experiment_id"] for e in found if e.get("lifecycle_stage", "active") == "active"]
        runs = server.pages("runs/search", "runs", {"experiment_ids": experiment_ids, "max_results": PAGE})
        runs.sort(key=lambda r: (int(r["info"]["experiment_id"]), int(r["info"].get("start_time", 0))))
    names: dict[str, str] = {}
    out: list[LossHistory] = []
    for run in runs:
        info, data = run["info"], run.get("data", {})
        experiment_id = info["experiment_id"]
        if experiment_id not in names:
            names[experiment_id] = server.call("experiments/get", query={"experiment_id": experiment_id})["experiment"][
                "name"
            ]
        points = {}
        for metric in data.get("metrics", []):
            history = server.history(info["run_id"], metric["key"])
            x = np.array([float(p.get("step", 0)) for p in history])
            y = np.array([float(p["value"]) for p in history])
            y[np.abs(y) >= sys.float_info.max] *= np.inf  # MLflow's ±Inf
            points[metric["key"]] = (x, y)
        if not points:
            continue
        label = f"{names[experiment_id]}/{info.get('run_name') or info['run_id']}"
        try:
            histories = histories_from_points(
                points, source=spec, fmt=FORMAT, name=label, overrides=overrides, x_name="step"
            )
        except NotALog:
            continue
        params = {p["key"]: p["value"] for p in data.get("params", [])}
        for h in histories:
            h.params = params
        out += histories
    if not out:
        raise NotALog(spec, f"no MLflow run here logged a loss ({len(runs)} run(s))")
    return out
