"""Executors behind the grid: the real local process pool and a real local Ray instance give the same stored
scores as a serial run; a worker that dies or raises is recorded as failed and the grid goes on; Ctrl-C
stops a grid cleanly. (kill -9 of the driver: tests/test_grid.py.)"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import child_pids, is_alive

from interactions.executor import LocalPoolExecutor, SerialExecutor, WorkerLost, make_executor
from interactions.grid import grid, run_grid
from interactions.objectives import register_objective
from interactions.objectives.cross import Cross
from interactions.presets import Preset
from interactions.store import ResultsStore, run_id

TINY = Preset("tiny", ("bimodal_1bit",), ("cross",), (0,), 600, 400, 400, 1200, 2, (0, 2),
              n_permutations=3, n_bootstrap=4)  # fmt: skip
ARMS = ["cross", "random_encoders", "comm_fused"]


class _KillsItsWorker(Cross):
    """Cross whose training kills its own process, when it runs in a pool worker."""

    def loss(self, views):
        if multiprocessing.parent_process() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().loss(views)


class _Raises(Cross):
    def loss(self, views):
        raise KeyError("a bug in a plug-in")


# Plug-ins registered here, outside any installed package: pool workers import this module to find them.
register_objective("test_kills_its_worker")(_KillsItsWorker)
register_objective("test_raises")(_Raises)


def _scores(store: ResultsStore) -> pd.DataFrame:
    keys = ["objective", "generator", "seed", "task", "probe", "metric", "epoch"]
    return store.scores().sort_values(keys).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial_scores(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    store = ResultsStore(tmp_path_factory.mktemp("serial") / "r.sqlite")
    counts = run_grid(grid(TINY, objectives=ARMS, device="cpu"), store, log=None, workers=1)
    assert counts == {"trained": 3, "cached": 0, "failed": 0, "stale": 0, "retried": 0}
    assert set(store.runs()["meta"].map(lambda m: json.loads(m)["backend"])) == {"serial"}
    scores = _scores(store)
    assert len(scores) > 300 and scores["value"].notna().all()
    return scores


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_pool_and_ray_store_the_same_scores_as_a_serial_run(
    backend: str, serial_scores: pd.DataFrame, tmp_path: Path
) -> None:
    if backend == "ray":
        pytest.importorskip("ray", reason='the ray extra is not installed (pip install -e ".[ray]")')
    store = ResultsStore(tmp_path / "r.sqlite")
    counts = run_grid(grid(TINY, objectives=ARMS, device="cpu"), store, log=None, workers=2, backend=backend)
    assert counts == {"trained": 3, "cached": 0, "failed": 0, "stale": 0, "retried": 0}
    pd.testing.assert_frame_equal(_scores(store), serial_scores, check_exact=True)
    meta = [json.loads(m) for m in store.runs()["meta"]]
    assert {m["backend"] for m in meta} == {backend}
    assert all(m["threads"]["torch"] == 1 and m["threads"]["blas"] <= 1 for m in meta)


def test_a_dead_or_raising_worker_is_recorded_as_failed_and_the_grid_goes_on(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    specs = grid(TINY, objectives=["test_kills_its_worker", "cross", "test_raises", "random_fused"])
    counts = run_grid(specs, store, log=None, workers=2)
    assert counts == {"trained": 2, "cached": 0, "failed": 2, "stale": 0, "retried": 0}
    runs = store.runs().set_index("objective")
    assert "worker process died" in runs.loc["test_kills_its_worker", "reason"]
    assert runs.loc["test_raises", "reason"].startswith("KeyError: 'a bug in a plug-in'")
    assert (runs.loc[["cross", "random_fused"], "status"] == "done").all()


def test_the_pool_retries_the_bystanders_of_a_dead_worker() -> None:
    """Items in flight when a worker died are retried alone: only the culprit is reported lost."""
    results = dict(LocalPoolExecutor(2).map_unordered(_die_on_three, list(range(6))))
    assert isinstance(results.pop(3), WorkerLost)
    assert results == {i: i * i for i in (0, 1, 2, 4, 5)}


def _die_on_three(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return x * x


def test_executor_choice_and_bad_knobs() -> None:
    assert isinstance(make_executor("local", 1), SerialExecutor)
    assert isinstance(make_executor("local", 2), LocalPoolExecutor)
    with pytest.raises(ValueError, match="backend must be one of 'local', 'ray'"):
        make_executor("dask")
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        make_executor("local", 0)


def test_ctrl_c_stops_a_pooled_grid_cleanly(tmp_path: Path) -> None:
    store = tmp_path / "r.sqlite"
    command = [
        sys.executable, "-m", "interactions.cli", "grid", "--preset", "smoke", "--generators", "bimodal_1bit",
        "--objectives", "random_encoders,random_fused,cross,cross_self,comm", "--device", "cpu",
        "--workers", "2", "--store", str(store), "--reports", str(tmp_path / "reports"),
    ]  # fmt: skip
    # Ctrl-C as on a terminal: a shell starts background jobs (`cmd &`, e.g. CI run that way) with SIGINT
    # ignored, and the driver would inherit that; the test is about the CLI's handling, not the shell's.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    workers: set[int] = set()
    while time.time() < deadline and process.poll() is None:
        workers |= child_pids(process.pid)
        done = ResultsStore(store).runs() if store.exists() else pd.DataFrame()
        if len(done) >= 1 and len(workers) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    time.sleep(1)
    assert not [p for p in workers if is_alive(p)], "pool workers outlived the driver"
    finished = ResultsStore(store).runs()
    assert 1 <= len(finished) < 5 and (finished["status"] == "done").all()
    specs = grid("smoke", ["bimodal_1bit"], ["random_encoders"], device="cpu")
    assert run_id(specs[0].config()) in set(finished["run_id"])
