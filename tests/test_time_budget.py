"""A time budget for any grid: durations parse or are refused, the plan starts runs seed by seed while they
fit (from measured times), and at the budget's end whatever still runs is stopped, not recorded, and
runs on the next call (in this process and in a pool), from its last checkpoint where it reached one."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import run_cli

from interactions.fingerprint import code_fingerprint
from interactions.grid import _measured_seconds, _plan, grid, parse_duration, partial_dir, run_grid
from interactions.objectives import register_objective
from interactions.objectives.cross import Cross
from interactions.presets import Preset
from interactions.store import ResultsStore, run_id

TINY = Preset("tiny", ("bimodal_1bit",), ("cross",), (0,), 600, 400, 400, 1200, 2, (0, 2),
              n_permutations=3, n_bootstrap=4)  # fmt: skip


class _Slow(Cross):
    """Cross whose every step takes at least half a second: a run trains for 2 s or more."""

    def loss(self, views):
        time.sleep(0.5)
        return super().loss(views)


register_objective("test_slow")(_Slow)


def test_durations_parse_or_are_refused_naming_the_knob() -> None:
    assert [parse_duration(t) for t in ("540", "540s", "9m", "1h30m", "1.5h", " 2m 30s ")] == [
        540, 540, 540, 5400, 5400, 150,
    ]  # fmt: skip
    assert parse_duration(12.5) == 12.5
    for bad in ("9 minutes", "0", "0m", "-3", "", "m"):
        with pytest.raises(ValueError, match="time budget must be"):
            parse_duration(bad)


def _history(store: ResultsStore, specs, seconds: dict[str, float]) -> None:
    """Record, for each spec's kind, a finished run of another seed that took `seconds[arm]`."""
    for spec in specs:
        other = replace(spec, seed=99)
        meta = {"wall_seconds": seconds[spec.arm], "code": code_fingerprint()}
        store.record(run_id(other.config()), other.config(), [], meta=meta)


BOTH = ("bimodal_1bit", "biased_synergy")


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (45, [("comm", g) for g in BOTH] + [("cross_self", g) for g in BOTH] + [("cross", g) for g in BOTH]),
        (40, [("comm", g) for g in BOTH] + [("cross_self", g) for g in BOTH]),
        (19, [("cross_self", g) for g in BOTH]),  # comm does not fit; the shorter runs after it do
    ],
)
def test_the_plan_goes_seed_by_seed_and_starts_what_fits(
    tmp_path: Path, budget: float, expected: list
) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    specs = grid(TINY, list(BOTH), ["comm", "cross_self", "cross"], [0, 1, 2], device="cpu")
    _history(store, specs, {"comm": 20.0, "cross_self": 15.0, "cross": 10.0})
    todo = {run_id(spec.config()): (spec, spec.config()) for spec in specs}
    chosen, estimates = _plan(todo, store, slots=2, budget=budget)
    # Two workers: comm (20 s) on each generator, then cross_self (15 s), then cross (10 s) fill 45 s
    # exactly; at 40 s cross no longer fits; nothing of seed 1 fits after seed 0.
    assert [(todo[k][0].arm, todo[k][0].generator) for k in chosen] == expected
    assert all(todo[k][0].seed == 0 for k in chosen)
    assert sorted({estimates[k] for k in todo}) == [10.0, 15.0, 20.0]


def test_a_kind_without_history_is_planned_from_its_measured_steps() -> None:
    (slow,) = grid(TINY, objectives=["test_slow"], device="cpu")
    (untrained,) = grid(TINY, objectives=["random_fused"], device="cpu")
    # 600 samples in batches of 256: 2 steps an epoch, 2 epochs, at least 0.5 s a step.
    assert 2.0 <= _measured_seconds(slow) < 4.0
    assert _measured_seconds(untrained) == 0.0


@pytest.mark.parametrize("workers", [1, 2])
def test_runs_still_going_at_the_budget_s_end_are_stopped_and_run_next_time(
    tmp_path: Path, workers: int
) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    specs = grid(TINY, objectives=["test_slow", "random_fused"], device="cpu")
    _history(store, specs, {"test_slow": 0.5, "random_fused": 0.5})  # the plan thinks both fit
    start = time.monotonic()
    counts = run_grid(specs, store, log=None, workers=workers, time_budget=1.5)
    assert time.monotonic() - start < 15  # stopped at the deadline, not after the slow run's 2 s of steps
    assert counts["postponed"] >= 1 and counts["failed"] == 0
    keys = {run_id(spec.config()) for spec in specs}
    recorded = set(store.runs()["run_id"]) & keys
    assert run_id(specs[0].config()) not in recorded  # nothing half-done is stored
    counts = run_grid(specs, store, log=None, workers=workers)
    assert counts["trained"] + counts["cached"] == 2 and counts["failed"] == 0
    assert set(store.runs()["run_id"]) >= keys and not list(partial_dir(store).glob("*.pt"))


def test_cli_time_budget_is_checked_before_anything_runs(tmp_path: Path) -> None:
    result = run_cli("grid", "--preset", "smoke", "--time-budget", "0", "--store", str(tmp_path / "r.sqlite"),
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "time budget must be more than 0 seconds" in result.stderr
    assert not (tmp_path / "r.sqlite").exists()
