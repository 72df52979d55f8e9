"""The PID estimator registry: built-in entries, a third-party estimator through a real entry point, and
each peer on discrete inputs whose PID is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.registry import (
    PIDEstimate,
    PIDEstimator,
    available_estimators,
    pid_estimator,
    register_estimator,
)

# (name, label from two bits, exact BROJA atoms, exact Williams-Beer I_min atoms; bits: R, U1, U2, S)
GATES = [
    ("xor", lambda a, b: a ^ b, (0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 1.0)),
    ("copy", lambda a, b: 2 * a + b, (0.0, 1.0, 1.0, 0.0), (1.0, 0.0, 0.0, 1.0)),
    ("and", lambda a, b: a & b, (0.311278, 0.0, 0.0, 0.5), (0.311278, 0.0, 0.0, 0.5)),
    ("redundant", lambda a, b: a, (1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0)),  # x2 = x1 below
]


def _gate_sample(label, n: int, redundant: bool = False, jitter: float = 0.0, seed: int = 0):
    """One-hot features of two uniform bits (the second a copy of the first for `redundant`), with Gaussian
    `jitter` (continuous representations), and the label."""
    rng = np.random.default_rng(seed)
    a = rng.integers(2, size=n)
    b = a.copy() if redundant else rng.integers(2, size=n)
    z1, z2 = (np.eye(2)[bits] + jitter * rng.standard_normal((n, 2)) for bits in (a, b))
    return z1, z2, label(a, b)


@pytest.mark.parametrize(("gate", "label", "broja", "imin"), GATES, ids=[g[0] for g in GATES])
def test_cluster_recipe_recovers_the_gates(gate: str, label, broja, imin) -> None:
    z1, z2, y = _gate_sample(label, 20000, redundant=gate == "redundant")
    result = pid_estimator("cluster_recipe")(z1, z2, y, seed=0)
    assert result.intervals is None  # a plug-in estimate: no interval
    for got, want in zip(result.atoms.values(), broja, strict=True):
        assert got == pytest.approx(want, abs=0.01), (gate, result.atoms)


@pytest.mark.parametrize(("gate", "label", "broja", "imin"), GATES, ids=[g[0] for g in GATES])
def test_knn_imin_recovers_williams_and_beer_on_the_gates(gate: str, label, broja, imin) -> None:
    """On continuous (jittered) gate inputs; its measure is I_min, which differs from BROJA on copy."""
    z1, z2, y = _gate_sample(label, 6000, redundant=gate == "redundant", jitter=0.05)
    result = pid_estimator("knn_imin")(z1, z2, y)
    for got, want in zip(result.atoms.values(), imin, strict=True):
        assert got == pytest.approx(want, abs=0.05), (gate, result.atoms)


@pytest.mark.parametrize(("gate", "label", "broja", "imin"), GATES, ids=[g[0] for g in GATES])
def test_batch_recovers_the_gates(gate: str, label, broja, imin) -> None:
    """On continuous (jittered) gate inputs: the neural estimator finds BROJA's atoms within 0.05 bit."""
    z1, z2, y = _gate_sample(label, 4000, redundant=gate == "redundant", jitter=0.05)
    result = pid_estimator("batch")(z1, z2, y, seed=0)
    assert result.intervals is None
    for got, want in zip(result.atoms.values(), broja, strict=True):
        assert got == pytest.approx(want, abs=0.05), (gate, result.atoms)


def test_batch_is_deterministic_and_checks_its_input() -> None:
    z1, z2, y = _gate_sample(GATES[0][1], 1000, jitter=0.05)
    estimator = pid_estimator("batch")
    assert estimator(z1, z2, y, seed=1) == estimator(z1, z2, y, seed=1)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        estimator.estimate(z1, z2, y, batch_size=1)
    with pytest.raises(ValueError, match="same rows"):
        estimator(z1[:-1], z2, y)


def test_cluster_recipe_is_deterministic_and_checks_its_input() -> None:
    z1, z2, y = _gate_sample(GATES[0][1], 2000)
    estimator = pid_estimator("cluster_recipe")
    assert estimator(z1, z2, y, seed=3) == estimator(z1, z2, y, seed=3)
    with pytest.raises(ValueError, match="same rows"):
        estimator(z1[:-1], z2, y)


def test_our_estimator_is_registered_with_intervals() -> None:
    assert available_estimators()[:4] == ["representation_pid", "batch", "cluster_recipe", "knn_imin"]
    assert [pid_estimator(n).has_intervals for n in available_estimators()[:4]] == [True, False, False, False]
    z1, z2, y = _gate_sample(GATES[0][1], 3000, jitter=0.05)
    result = pid_estimator("representation_pid")(z1, z2, y, seed=0)
    assert result.synergy == pytest.approx(1.0, abs=0.05)
    low, high = result.intervals["synergy"]
    assert low <= result.synergy <= high and high - low < 0.2


def test_registry_refuses_bad_entries() -> None:
    with pytest.raises(ValueError, match="estimator must be one of"):
        pid_estimator("no_such_estimator")
    with pytest.raises(TypeError, match="needs a PIDEstimator"):
        register_estimator(lambda z1, z2, y, seed=0: None)
    with pytest.raises(ValueError, match="already registered"):
        register_estimator(PIDEstimator("cluster_recipe", lambda *a, **k: None, "another", "nowhere"))
    with pytest.raises(ValueError, match="synergy must be a finite number of bits"):
        PIDEstimate(0.0, 0.0, 0.0, float("nan"))
    with pytest.raises(ValueError, match="one \\(low, high\\) per atom"):
        PIDEstimate(0.0, 0.0, 0.0, 1.0, intervals={"synergy": (0.9, 1.1)})
    with pytest.raises(ValueError, match="max_samples must be None or an integer >= 1"):
        PIDEstimator("capped", lambda *a, **k: None, "a test", "nowhere", max_samples=0)
    broken = PIDEstimator("returns_a_dict", lambda z1, z2, y, seed=0: {"synergy": 1.0}, "broken", "a test")
    with pytest.raises(TypeError, match="not a PIDEstimate"):
        broken(*_gate_sample(GATES[0][1], 10))


def test_knn_imin_checks_its_input() -> None:
    z1, z2, y = _gate_sample(GATES[0][1], 20, jitter=0.05)
    with pytest.raises(ValueError, match="more than k = 5 rows"):
        pid_estimator("knn_imin")(z1, z2, np.r_[np.zeros(17, int), np.ones(3, int)])
    with pytest.raises(ValueError, match="same rows"):
        pid_estimator("knn_imin")(z1[:-1], z2, y)
