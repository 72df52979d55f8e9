"""PID estimators against exact truth, written to reports/estimators.md: the side-by-side leaderboard of every
registered estimator (computed by `interactions estimators`, committed in reports/estimators/leaderboard.json,
checked complete and redrawn here), then the validation of the PID of representations (every setting of
`interactions.estimator_validation` at N = 2,000 / 6,000 / 20,000) and of the usable-information PID against
its closed-form truth (cached in reports/estimators.json and reports/estimators_usable.json under the
estimator code's fingerprint, computed here when missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from generators import available_generators
from interactions.estimator_validation import (
    COVERAGE_SEEDS,
    COVERAGE_SETTINGS,
    COVERAGE_SIZE,
    SETTINGS,
    USABLE_FEATURE_SETTINGS,
    USABLE_SETTINGS,
    USABLE_TRAIN_SIZES,
    run_validation,
    usable_validation_cases,
    validate_usable_case,
    validation_cases,
)
from interactions.executor import make_executor
from interactions.leaderboard import holds, run_board, write_estimator_reports

REPORTS = Path(__file__).resolve().parent.parent / "reports"


@pytest.fixture(scope="module")
def tables(request: pytest.FixtureRequest):
    executor = make_executor("local", request.config.getoption("--workers"))
    presence = run_validation(validation_cases(), REPORTS / "estimators.json", executor)
    usable = run_validation(
        usable_validation_cases(), REPORTS / "estimators_usable.json", executor, validate_usable_case
    )
    board = run_board(cache=REPORTS / "estimators" / "leaderboard.json", compute=False)
    write_estimator_reports(board, presence, usable, REPORTS)
    return presence, usable, board


@pytest.fixture(scope="module")
def validation(tables):
    return tables[0]


@pytest.fixture(scope="module")
def usable(tables):
    return tables[1]


@pytest.fixture(scope="module")
def board(tables):
    return tables[2]


def test_the_leaderboard_is_complete(board) -> None:
    """Every registered estimator's every call is in the committed cache (`interactions estimators` computes
    what is missing: about an hour on two cores from an empty cache)."""
    assert not board.attrs["missing"], (
        f"{len(board.attrs['missing'])} leaderboard calls missing; run `interactions estimators`"
    )
    assert {"representation_pid", "batch", "cluster_recipe", "knn_imin"} <= set(board["estimator"])


def test_every_case_is_estimated(validation) -> None:
    assert not validation.attrs["failed"]
    assert len(validation) == len(validation_cases()) * 4
    assert validation[["estimate", "low", "high"]].notna().all().all()


@pytest.mark.parametrize("setting", COVERAGE_SETTINGS)
def test_every_atom_is_within_a_tenth_of_a_bit(validation, setting: str) -> None:
    """Raw observations of the acceptance settings at the quick preset's N: every atom within 0.1 bit of its
    exact value, at every seed."""
    rows = validation[(validation["setting"] == setting) & (validation["n_samples"] == COVERAGE_SIZE)]
    assert rows["seed"].nunique() == len(COVERAGE_SEEDS)
    assert rows["error"].abs().max() <= 0.1, rows.loc[rows["error"].abs().idxmax()]


@pytest.mark.parametrize("setting", COVERAGE_SETTINGS)
def test_intervals_contain_the_truth_in_nine_seeds_of_ten(validation, setting: str) -> None:
    """Each atom's 95% interval contains its exact value at 90% of the seeds (at least 18 of 20)."""
    rows = validation[(validation["setting"] == setting) & (validation["n_samples"] == COVERAGE_SIZE)]
    coverage = rows.groupby("atom")["covered"].mean()
    assert (coverage >= 0.9).all(), coverage


def test_every_vector_preset_is_within_a_tenth_of_a_bit(validation) -> None:
    """Raw observations of every vector generator preset the grid scores, at the quick preset's N (seed 0):
    every atom within 0.1 bit of its exact value, so that no PID table in `reports/summary.md` stands on an
    estimator that misses the truth on its own generator (`narrow_nuisance`'s synergy did, by 0.89 bit)."""
    presets = [setting for setting in SETTINGS if setting in available_generators()]
    rows = validation[validation["setting"].isin(presets) & (validation["n_samples"] == COVERAGE_SIZE)]
    rows = rows[rows["seed"] == 0]
    assert set(rows["setting"]) == set(presets) and len(presets) >= 5
    assert rows["error"].abs().max() <= 0.1, rows.loc[rows["error"].abs().idxmax()]


def test_zero_atoms_stay_near_zero(validation) -> None:
    """Atoms whose exact value is 0 (uniqueness of pure redundancy or pure synergy, their absent atoms) are
    estimated within 0.05 bit of 0 at N = 6,000."""
    rows = validation[(validation["truth"].abs() < 1e-9) & (validation["n_samples"] == 6000)]
    assert len(rows) >= 5
    assert rows["estimate"].abs().max() <= 0.05, rows[["setting", "atom", "estimate"]]


def test_every_usable_case_is_estimated(usable) -> None:
    assert not usable.attrs["failed"]
    assert len(usable) == len(usable_validation_cases()) * 4


@pytest.mark.parametrize("n_train", USABLE_TRAIN_SIZES)
def test_linear_usable_atoms_are_within_a_tenth_of_a_bit(usable, n_train: int) -> None:
    """Linear readouts of raw observations of every linear-mixing setting, fitted on 2,000 rows (the quick
    grid's) or 6,000 and scored on 6,000: every atom within 0.1 bit of its closed form, the synergy label's
    bits included (none is linearly usable)."""
    rows = usable[
        (usable["readout"] == "linear") & ~usable["synergy_feature"] & (usable["n_train"] == n_train)
    ]
    assert set(rows["setting"]) == set(USABLE_SETTINGS)
    assert rows["error"].abs().max() <= 0.1, rows.loc[rows["error"].abs().idxmax()]


def test_a_linearised_synergy_becomes_usable(usable) -> None:
    """With the synergy label one-hot in the joint representation, the usable synergy reaches its entropy."""
    rows = usable[usable["synergy_feature"]]
    assert set(rows["setting"]) == set(USABLE_FEATURE_SETTINGS)
    synergy = rows[rows["atom"] == "synergy"]
    assert (synergy["truth"] >= 1.0).all()
    assert rows["error"].abs().max() <= 0.1, rows.loc[rows["error"].abs().idxmax()]


def test_an_mlp_readout_uses_the_xor(usable) -> None:
    """The MLP family learns the XOR's Bayes posterior at N = 6,000: its usable atoms are the Bayes
    readouts' (the synergy label's bit as synergy) within 0.1 bit."""
    rows = usable[(usable["readout"] == "mlp") & (usable["setting"] == "bimodal_1bit")]
    assert len(rows) == 4
    assert rows["error"].abs().max() <= 0.1, rows.loc[rows["error"].abs().idxmax()]


# Where our estimator misses a bar of the leaderboard at N >= 6,000 (docs/estimators.md says why): its
# error exceeds 0.1 bit at some seed, or its intervals cover an atom at fewer than 18 of 20 seeds.
MISSES_THE_ERROR_BAR = {"large_noise", "noise=1.0", "mlp_depth=3"}  # noise 0.6 / 1.0; a 3-layer MLP mixing
MISSES_COVERAGE_ONLY = {"pure_synergy", "absent_unique2"}  # a residual +0.04 bit of synergy, tight intervals


def test_our_estimator_holds_everywhere_else_on_the_leaderboard(board) -> None:
    """Every atom within 0.1 bit at every one of 20 seeds, and 95% intervals covering each atom at >= 90% of
    them, on every distinct data of the board and its sweeps at N >= 6,000 (depth 0-2, dimension 32-512,
    noise 0.1-0.3, N up to 50,000), except where listed; the exceptions miss as listed, no more."""
    held = holds(board)
    assert (held["seeds"] == 20).all() and len(held) >= 20
    assert set(held.index[held["worst"] > 0.1]) == MISSES_THE_ERROR_BAR, held["worst"]
    assert set(held.index[~held["holds"]]) == MISSES_THE_ERROR_BAR | MISSES_COVERAGE_ONLY, held["coverage"]
