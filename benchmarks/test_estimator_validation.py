"""Validation of the PID of representations against exact truth: every setting of
`interactions.estimator_validation` at N = 2,000 / 6,000 / 20,000, written to reports/estimators.md and
reports/estimators.png (cached in reports/estimators.json under the estimator code's fingerprint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from interactions.estimator_validation import (
    SETTINGS,
    SIZES,
    ValidationCase,
    plot_validation,
    run_validation,
    validation_markdown,
)
from interactions.executor import make_executor
from interactions.report import atomic_write

REPORTS = Path(__file__).resolve().parent.parent / "reports"


@pytest.fixture(scope="module")
def validation(request: pytest.FixtureRequest):
    cases = [ValidationCase(setting, n) for setting in SETTINGS for n in SIZES]
    executor = make_executor("local", request.config.getoption("--workers"))
    table = run_validation(cases, REPORTS / "estimators.json", executor)
    atomic_write(REPORTS / "estimators.md", lambda p: p.write_text(validation_markdown(table)))
    atomic_write(REPORTS / "estimators.png", lambda p: plot_validation(table, p))
    return table


def test_every_case_is_estimated(validation) -> None:
    assert not validation.attrs["failed"]
    assert len(validation) == len(SETTINGS) * len(SIZES) * 4
    assert validation[["estimate", "low", "high"]].notna().all().all()


def test_reference_setting_is_recovered(validation) -> None:
    """On `bimodal_1bit` at the quick preset's N every atom is within 0.1 bit of its exact value."""
    rows = validation[(validation["setting"] == "bimodal_1bit") & (validation["n_samples"] == 6000)]
    assert rows["error"].abs().max() <= 0.1, rows[["atom", "truth", "estimate"]]


def test_zero_atoms_stay_near_zero(validation) -> None:
    """Atoms whose exact value is 0 (uniqueness of pure redundancy or pure synergy, their absent atoms) are
    estimated within 0.05 bit of 0 at N = 6,000."""
    rows = validation[(validation["truth"].abs() < 1e-9) & (validation["n_samples"] == 6000)]
    assert len(rows) >= 5
    assert rows["estimate"].abs().max() <= 0.05, rows[["setting", "atom", "estimate"]]
