"""Canonical discrete distributions, random tables and sampling from tables."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dit_broja

from estimators import joint_table
from generators import CANONICAL, dirichlet_table, sample_table

PID_MD_VALUES = {  # bits, R/U1/U2/S, as tabulated in the PID research digest (BROJA, all solvers agree)
    "xor": (0, 0, 0, 1),
    "and": (0.311, 0, 0, 0.5),
    "unq": (0, 0, 1, 0),
    "copy": (0, 1, 1, 0),
    "rdn": (1, 0, 0, 0),
    "rdn_xor": (1, 0, 0, 1),
}


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_canonical_tables_reproduce_the_known_broja_values(name: str) -> None:
    canon = CANONICAL[name]()
    declared = (canon.redundancy, canon.unique1, canon.unique2, canon.synergy)
    assert declared == pytest.approx(PID_MD_VALUES[name], abs=1e-3)
    assert canon.table.sum() == pytest.approx(1.0) and (canon.table >= 0).all()
    reference = dit_broja(canon.table)
    assert (reference["redundancy"], reference["unique1"], reference["unique2"], reference["synergy"]) == (
        pytest.approx(declared, abs=1e-6)
    )


def test_dirichlet_tables_are_seeded_and_normalised() -> None:
    p = dirichlet_table((3, 4, 2), alpha=0.5, seed=4)
    assert p.shape == (3, 4, 2) and p.sum() == pytest.approx(1.0) and (p > 0).all()
    assert np.array_equal(p, dirichlet_table((3, 4, 2), alpha=0.5, seed=4))
    assert not np.array_equal(p, dirichlet_table((3, 4, 2), alpha=0.5, seed=5))
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_table((2, 2, 2), alpha=0.0)
    with pytest.raises(ValueError, match=r"\|Y\|"):
        dirichlet_table((2, 2, 0))


def test_sampling_a_table_recovers_it() -> None:
    p = CANONICAL["and"]().table
    x1, x2, y = sample_table(p, 200_000, seed=1)
    assert x1.dtype == np.int64
    assert np.array_equal(y, x1 & x2)
    empirical = joint_table(x1, x2, y)
    assert empirical.shape == p.shape
    assert np.abs(empirical - p).max() < 5e-3
    again = sample_table(p, 200_000, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((x1, x2, y), again, strict=True))
    with pytest.raises(ValueError, match="sums to 1"):
        sample_table(p * 2, 10)
