"""Thread hygiene under load: with one more busy process on the machine, the BROJA solver on a 32x32x10
table and one CoMM training step (run as a grid worker runs it, on one thread) slow down no more than twice
as much as a single-threaded reference workload timed in the same moments. A workload that spreads over
threads falls far behind the reference beside a busy process (oversubscription: 8-47x for the solver before
it was pinned to one thread); one that keeps to one thread slows down with it. Because each round times the
reference right before the workload, load that was already on the machine (another job, a second test
session) slows both alike and does not fail the check: only a change in the code does. pytest-benchmark
records the loaded workload; extra_info the quiet and loaded ratios to the reference."""

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


def _reference() -> None:
    """Pure-Python arithmetic on one thread: it slows down exactly as much as one core is shared."""
    total = 0
    for i in range(300_000):
        total += i * i


def _timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _matched_reference(function: Callable[[], object]) -> Callable[[], None]:
    """The reference repeated to last about as long as `function` (after a warm-up call), so that both are
    timed over windows of the same length: a short window can fall between the scheduler's turns."""
    function()
    repeats = max(1, round(_timed(function) / _timed(_reference)))

    def reference() -> None:
        for _ in range(repeats):
            _reference()

    return reference


def _ratios_to_reference(function: Callable[[], object], reference: Callable[[], None], rounds: int) -> list:
    """Per round, the workload's time over the reference's timed just before it."""
    return [(lambda ref: _timed(function) / ref)(_timed(reference)) for _ in range(rounds)]


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
def test_slows_down_beside_a_busy_process_no_more_than_twice_a_one_thread_reference(
    benchmark, busy_process, workload: str
) -> None:
    if workload == "broja_32x32x10":
        table = dirichlet_table((32, 32, 10), seed=0)
        function, rounds = (lambda: broja_pid(table)), 3  # 0.4 s a call: the median of 3 rounds
    else:
        function, rounds = _comm_step(), 15
    reference = _matched_reference(function)
    quiet = statistics.median(_ratios_to_reference(function, reference, rounds))
    busy_process()
    references: list[float] = []
    benchmark.pedantic(
        function,
        setup=lambda: references.append(_timed(reference)),
        rounds=rounds,
        iterations=1,
        warmup_rounds=1,
    )
    timings = benchmark.stats.stats.data
    loaded = statistics.median(t / ref for t, ref in zip(timings, references[-len(timings) :], strict=True))
    benchmark.extra_info.update(
        quiet_ratio_to_reference=quiet,
        loaded_ratio_to_reference=loaded,
        loaded_over_quiet=loaded / quiet,
    )
    assert loaded <= 2 * quiet, (
        f"{workload}: {loaded:.2f}x the one-thread reference beside a busy process, {quiet:.2f}x without it"
    )
