"""The PID estimator registry: built-in entries, a third-party estimator through a real entry point, and
each peer on discrete inputs whose PID is known in closed form."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from estimators.registry import (
    PIDEstimate,
    PIDEstimator,
    available_estimators,
    pid_estimator,
    register_estimator,
)

# (name, label from two bits, exact atoms in bits: R, U1, U2, S)
GATES = [
    ("xor", lambda a, b: a ^ b, (0.0, 0.0, 0.0, 1.0)),
    ("copy", lambda a, b: 2 * a + b, (0.0, 1.0, 1.0, 0.0)),
    ("and", lambda a, b: a & b, (0.311278, 0.0, 0.0, 0.5)),
    ("redundant", lambda a, b: a, None),  # x2 = x1 below: 1 bit of redundancy
]


def _gate_sample(label, n: int, redundant: bool = False, seed: int = 0):
    """One-hot features of two uniform bits (the second a copy of the first for `redundant`) and the label."""
    rng = np.random.default_rng(seed)
    a = rng.integers(2, size=n)
    b = a.copy() if redundant else rng.integers(2, size=n)
    return np.eye(2)[a], np.eye(2)[b], label(a, b)


@pytest.mark.parametrize(("gate", "label", "atoms"), GATES, ids=[g[0] for g in GATES])
def test_cluster_recipe_recovers_the_gates(gate: str, label, atoms) -> None:
    z1, z2, y = _gate_sample(label, 20000, redundant=gate == "redundant")
    result = pid_estimator("cluster_recipe")(z1, z2, y, seed=0)
    expected = atoms if atoms is not None else (1.0, 0.0, 0.0, 0.0)
    assert result.intervals is None  # a plug-in estimate: no interval
    for got, want in zip(result.atoms.values(), expected, strict=True):
        assert got == pytest.approx(want, abs=0.01), (gate, result.atoms)


def test_cluster_recipe_is_deterministic_and_checks_its_input() -> None:
    z1, z2, y = _gate_sample(GATES[0][1], 2000)
    estimator = pid_estimator("cluster_recipe")
    assert estimator(z1, z2, y, seed=3) == estimator(z1, z2, y, seed=3)
    with pytest.raises(ValueError, match="same rows"):
        estimator(z1[:-1], z2, y)


def test_our_estimator_is_registered_with_intervals() -> None:
    assert available_estimators()[:2] == ["representation_pid", "cluster_recipe"]
    z1, z2, y = _gate_sample(GATES[0][1], 3000)
    noise = np.random.default_rng(1).normal(0.0, 0.05, size=(2, *z1.shape))  # continuous representations
    result = pid_estimator("representation_pid")(z1 + noise[0], z2 + noise[1], y, seed=0)
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
    broken = PIDEstimator("returns_a_dict", lambda z1, z2, y, seed=0: {"synergy": 1.0}, "broken", "a test")
    with pytest.raises(TypeError, match="not a PIDEstimate"):
        broken(*_gate_sample(GATES[0][1], 10))


PLUGIN = """
import numpy as np
from estimators.information import plugin_mutual_information_bits
from estimators.registry import PIDEstimate, PIDEstimator, register_estimator


def mmi_of_argmax(z1, z2, labels, seed=0):
    # minimum-mutual-information PID of each modality's strongest feature (a toy third-party estimator)
    c1, c2 = np.argmax(z1, axis=1), np.argmax(z2, axis=1)
    i1 = plugin_mutual_information_bits(c1, labels)
    i2 = plugin_mutual_information_bits(c2, labels)
    i12 = plugin_mutual_information_bits(c1 * (c2.max() + 1) + c2, labels)
    r = min(i1, i2)
    return PIDEstimate(r, i1 - r, i2 - r, i12 - i1 - i2 + r)


register_estimator(PIDEstimator("mmi_argmax", mmi_of_argmax, "MMI PID of argmax codes", "a test plug-in"))
"""


def test_a_third_party_estimator_is_discovered_through_entry_points(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "plugin_estimator.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "plugin_estimator-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-estimator\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[interactions.estimators]\nmmi_argmax = plugin_estimator\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert "mmi_argmax" in available_estimators()
        result = pid_estimator("mmi_argmax")(*_gate_sample(GATES[1][1], 20000))  # copy: MMI says 1/0/0/1
        assert result.redundancy == pytest.approx(1.0, abs=0.01) and result.synergy == pytest.approx(
            1.0, abs=0.01
        )
    finally:
        sys.modules.pop("plugin_estimator", None)
