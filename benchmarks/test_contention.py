"""Thread hygiene under load: with one other busy process on the machine, the BROJA solver on a 32x32x10
table and one CoMM training step (run as a grid worker runs it, on one thread) each stay within 2x of their
quiet-machine time. Each test times the quiet and the loaded case side by side; pytest-benchmark records the
loaded one, extra_info the quiet median and the ratio."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import torch

from estimators import broja_pid
from estimators.threads import one_thread
from generators import bimodal, dirichlet_table
from interactions.augment import VectorAugment, augment_view
from interactions.objectives import Views, build_objective


@pytest.fixture
def busy_process() -> Iterator[Callable[[], subprocess.Popen]]:
    """Start (on demand) a process that keeps one core busy; stopped after the test."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        started.append(process)
        time.sleep(0.5)  # let it take its core
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def _median_seconds(function: Callable[[], object], rounds: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _comm_step() -> Callable[[], None]:
    sample = bimodal().sample(256, seed=0)
    clean = [torch.as_tensor(x) for x in sample.modalities]
    generator = torch.Generator().manual_seed(0)
    augment = (VectorAugment(),) * 2
    views = Views(clean, augment_view(clean, augment, generator), augment_view(clean, augment, generator), {})
    objective = build_objective("comm", [32, 32])
    optimizer = torch.optim.AdamW(objective.parameters(), lr=1e-3)

    def step() -> None:
        with one_thread():  # as every grid run trains
            loss = objective.loss(views)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return step


@pytest.mark.parametrize("workload", ["broja_32x32x10", "comm_training_step"])
def test_within_2x_of_quiet_time_beside_a_busy_process(benchmark, busy_process, workload: str) -> None:
    if workload == "broja_32x32x10":
        table = dirichlet_table((32, 32, 10), seed=0)
        function, rounds = (lambda: broja_pid(table)), 3
    else:
        function, rounds = _comm_step(), 10
    quiet = _median_seconds(function, rounds)
    busy_process()
    benchmark.pedantic(function, rounds=rounds, iterations=1, warmup_rounds=1)
    loaded = benchmark.stats.stats.median
    benchmark.extra_info.update(quiet_median_s=quiet, loaded_over_quiet=loaded / quiet)
    assert loaded <= 2 * quiet, f"{workload}: {loaded:.3f} s beside a busy process, {quiet:.3f} s quiet"
