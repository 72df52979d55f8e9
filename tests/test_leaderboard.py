"""The estimator leaderboard (`interactions.leaderboard`, `interactions estimators`) on a small board: every
case computed once and cached, settings with the same data sharing their calls, stale rows found and
recomputed, an estimator's sample cap respected, and the report's tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import interactions.leaderboard as lb
from estimators.peers.cluster_recipe import cluster_recipe_pid
from estimators.registry import PIDEstimate, PIDEstimator, register_estimator
from interactions.cli import main
from interactions.estimator_validation import SETTINGS

CALLS: list[int] = []


def _with_intervals(z1: np.ndarray, z2: np.ndarray, labels: np.ndarray, seed: int = 0) -> PIDEstimate:
    """The clustering recipe with a +-0.05 bit interval around each atom (a test estimator with intervals)."""
    CALLS.append(len(labels))
    atoms = cluster_recipe_pid(z1, z2, labels, seed=seed).atoms
    return PIDEstimate(**atoms, intervals={a: (v - 0.05, v + 0.05) for a, v in atoms.items()})


WITH_INTERVALS = register_estimator(
    PIDEstimator("test_with_intervals", _with_intervals, "a test", "tests", has_intervals=True)
)
CAPPED = register_estimator(PIDEstimator("test_capped", _with_intervals, "a test", "tests", max_samples=1000))


@pytest.fixture
def small_board(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two board settings and two sweeps at N <= 1,500, one error seed and two coverage seeds."""
    monkeypatch.setattr(lb, "VALIDATION_SETTINGS", {s: SETTINGS[s] for s in ("bimodal_1bit", "pure_synergy")})
    monkeypatch.setattr(lb, "SWEEPS", {"samples": ("N", (1000, 1500)), "noise": ("noise", (0.3, 1.0))})
    monkeypatch.setattr(lb, "REFERENCE_SIZE", 1500)
    monkeypatch.setattr(lb, "ERROR_SEEDS", (0,))
    monkeypatch.setattr(lb, "COVERAGE_SEEDS", (0, 1))
    CALLS.clear()


def test_every_case_is_computed_once_and_cached(small_board, tmp_path: Path) -> None:
    cache = tmp_path / "board.json"
    table = lb.run_board([WITH_INTERVALS.name, "cluster_recipe"], cache)
    # Distinct data: bimodal_1bit (= samples=1500 = noise=0.3), pure_synergy, samples=1000, noise=1.0.
    # Seeds 0-1 for the estimator with intervals at N >= 1,500 (three data), seed 0 at N = 1,000; seed 0
    # for the recipe everywhere.
    assert table.attrs["calls"] == len(CALLS) + 4 == (3 * 2 + 1) + 4
    assert not table.attrs["missing"] and not table.attrs["stale"] and not table.attrs["failed"]
    assert sorted(table["setting"].unique()) == sorted(s.name for s in lb.board_settings())
    shared = table[table["setting"].isin(["bimodal_1bit", "noise=0.3", "samples=1500"])]
    by_setting = [
        part.drop(columns=["setting", "sweep", "value"]).reset_index(drop=True)
        for _, part in shared.groupby("setting")
    ]
    assert len(by_setting) == 3 and all(by_setting[0].equals(other) for other in by_setting[1:])
    again = lb.run_board([WITH_INTERVALS.name, "cluster_recipe"], cache)
    assert len(CALLS) == 7 and again.equals(table)


def test_stale_rows_are_reported_and_recomputed(small_board, tmp_path: Path) -> None:
    cache = tmp_path / "board.json"
    lb.run_board(["cluster_recipe"], cache)
    rows = json.loads(cache.read_text())
    cache.write_text(json.dumps([{**r, "code": "older code"} for r in rows]))
    kept = lb.run_board(["cluster_recipe"], cache)
    assert kept.attrs["stale"] == ["cluster_recipe"]
    assert "--stale recompute" in lb.leaderboard_markdown(kept)
    redone = lb.run_board(["cluster_recipe"], cache, stale="recompute")
    assert not redone.attrs["stale"] and len(redone) == len(kept)
    assert {r["code"] for r in json.loads(cache.read_text())} == {lb.estimator_fingerprint("cluster_recipe")}


def test_missing_cases_are_listed_without_computing(small_board, tmp_path: Path) -> None:
    table = lb.run_board([WITH_INTERVALS.name], tmp_path / "board.json", compute=False)
    assert len(table.attrs["missing"]) == table.attrs["calls"] and not CALLS and table.empty
    assert "**Missing:** 7 calls" in lb.leaderboard_markdown(table)


def test_an_estimators_sample_cap_is_respected(small_board) -> None:
    cases = lb.board_cases([CAPPED.name])
    assert cases and all(case.n_samples <= 1000 for case in cases)


def test_the_report_has_every_estimator_setting_and_sweep(small_board, tmp_path: Path) -> None:
    table = lb.run_board([WITH_INTERVALS.name, "cluster_recipe"], tmp_path / "board.json")
    text = lb.leaderboard_markdown(table)
    summary = lb.summary_rows(table)
    assert list(summary.index) == sorted(summary.index, key=lambda n: summary.loc[n, "mean"])
    assert np.isnan(summary.loc["cluster_recipe", "coverage"])
    assert 0 <= summary.loc[WITH_INTERVALS.name, "coverage"] <= 1
    for name in (WITH_INTERVALS.name, "cluster_recipe"):
        assert f"| `{name}` |" in text
    for heading in (
        "## The board: 2 settings at N = 1,500",
        "### N",
        "### noise",
        "## Where `test_with_intervals`",
    ):
        assert heading in text
    held = lb.holds(table, WITH_INTERVALS.name)
    assert set(held.index) == {"bimodal_1bit", "pure_synergy", "noise=1.0"}  # distinct data at N >= 1,500
    assert held.loc["bimodal_1bit", "same_data"] == ["samples=1500", "noise=0.3"]
    assert (held["seeds"] == 2).all() and "(= samples=1500, noise=0.3)" in text
    lb.plot_sweeps(table, tmp_path / "sweeps.png")
    assert (tmp_path / "sweeps.png").stat().st_size > 10_000


def test_the_command_refuses_an_unknown_estimator(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["estimators", "--estimators", "no_such_estimator", "--workers", "1"])
    assert exit_.value.code == 2
    assert "estimator must be one of" in capsys.readouterr().err
