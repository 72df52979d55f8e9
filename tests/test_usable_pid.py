"""The usable-information PID: bad input, its reduction to the exact BROJA PID where the readout family is a
lookup table, what a linear readout cannot use (XOR), and its closed-form truth on raw observations."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.pid import broja_pid
from estimators.probes import LinearProbe
from estimators.usable_pid import Representations, usable_pid
from generators import bimodal, generator_preset


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[codes]


def _gate(n: int, seed: int, gate) -> tuple[Representations, np.ndarray]:
    """Two uniform bits and y = gate(x1, x2), each source one-hot; the joint representation is the one-hot
    of the pair, on which a linear readout is a lookup table."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.integers(2, size=n), rng.integers(2, size=n)
    y = gate(x1, x2)
    reps = Representations(_one_hot(x1, 2), _one_hot(x2, 2), y, joint=_one_hot(2 * x1 + x2, 4))
    return reps, y


@pytest.mark.parametrize(
    ("gate", "synergy"),
    [
        (np.bitwise_xor, 1.0),
        (np.bitwise_and, 0.0),  # BROJA's 0.5 bit of synergy, but a late fusion of x1 and x2 reads AND
        (lambda a, b: a, 0.0),
    ],
)
def test_lookup_table_readouts_give_the_exact_broja_atoms(gate, synergy: float) -> None:
    """One-hot sources: linear readouts hold the Bayes posteriors, so R, U1 and U2 are the exact BROJA
    atoms; the synergy is what the pair's one-hot gives beyond a late fusion of the two sources."""
    train, _ = _gate(3000, 0, gate)
    test, _ = _gate(4000, 1, gate)
    table = np.zeros((2, 2, 2))
    for a in range(2):
        for b in range(2):
            table[a, b, gate(a, b)] = 0.25
    exact = broja_pid(table)
    result = usable_pid(train, test, seed=0)
    for atom in ("redundancy", "unique1", "unique2"):
        assert result.atoms[atom].corrected == pytest.approx(getattr(exact, atom), abs=0.03), atom
    assert result.synergy.corrected == pytest.approx(synergy, abs=0.03)


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.2])
def test_a_linear_readout_of_concatenated_sources_uses_no_xor(noise: float) -> None:
    """Without the pair's one-hot, the joint linear readout sees x1 and x2 side by side: no XOR synergy.
    Well-separated inputs are the hard case: a table over codes of the readout's flat posterior would
    index them (0.87 bit at noise 0.2 when S was taken from such codes)."""

    def noisy(reps: Representations, seed: int) -> Representations:
        rng = np.random.default_rng(seed)
        z1, z2 = (z + noise * rng.standard_normal(z.shape) for z in (reps.z1, reps.z2))
        return Representations(z1, z2, reps.labels)

    train, _ = _gate(3000, 0, np.bitwise_xor)
    test, _ = _gate(4000, 1, np.bitwise_xor)
    result = usable_pid(noisy(train, 2), noisy(test, 3))
    assert abs(result.synergy.corrected) < 0.02
    assert max(abs(result.atoms[a].corrected) for a in ("redundancy", "unique1", "unique2")) < 0.02


def _raw(generator, n: int, split: str) -> Representations:
    sample = generator.sample(n, seed=0, split=split)
    return Representations(sample.modalities[0], sample.modalities[1], sample.labels["all"])


def test_linear_readouts_of_raw_observations_match_their_closed_form_truth() -> None:
    generator = generator_preset("bimodal_1bit").build()
    result = usable_pid(_raw(generator, 2000, "train"), _raw(generator, 3000, "val"))
    truth = generator.usable_atoms()
    assert truth["synergy"] == 0.0  # the XOR label's bit is not linearly usable
    for atom, value in truth.items():
        assert result.atoms[atom].corrected == pytest.approx(value, abs=0.1), atom


def test_a_passed_joint_readout_is_used_as_fitted() -> None:
    """The grid passes its probe of the joint task: the same probe fitted here gives the same atoms."""
    generator = generator_preset("synergy_heavy").build()
    train, test = _raw(generator, 1000, "train"), _raw(generator, 1500, "val")
    probe = LinearProbe(seed=3).fit(train.joint_features(), train.labels)
    given = usable_pid(train, test, joint_readout=probe, seed=3)
    assert given == usable_pid(train, test, seed=3)


def test_usable_truth_by_readout_family() -> None:
    """Linear readouts (linear mixing only) use no synergy; readouts of the Bayes posteriors use the synergy
    label's bits, which are the presence synergy less the views of r that late fusion combines; a one-hot
    synergy feature makes its whole entropy usable."""
    with pytest.raises(ValueError, match="mixing='linear'"):
        bimodal(mixing="mlp").usable_atoms()
    generator = bimodal()
    linear, bayes = generator.usable_atoms(), generator.usable_atoms(linear=False)
    presence = generator.observed_atoms()
    assert linear["synergy"] == 0.0
    assert generator.usable_atoms(synergy_feature=True)["synergy"] == pytest.approx(1.0)
    r_views = presence["synergy"] - bayes["synergy"]
    assert 0.0 < r_views < 0.05  # two noisy views of r: bits only the pair gives, used by late fusion
    for atoms in (linear, bayes):
        assert {a: atoms[a] for a in ("redundancy", "unique1", "unique2")} == {
            a: presence[a] for a in ("redundancy", "unique1", "unique2")
        }


def test_bad_input_is_refused_by_name() -> None:
    train, _ = _gate(200, 0, np.bitwise_xor)
    test, _ = _gate(200, 1, np.bitwise_xor)
    with pytest.raises(ValueError, match="readout"):
        usable_pid(train, test, readout="svm")
    with pytest.raises(ValueError, match="n_bootstrap"):
        usable_pid(train, test, n_bootstrap=1)
    with pytest.raises(ValueError, match="test: z1, z2, joint and labels"):
        usable_pid(train, Representations(test.z1[:10], test.z2, test.labels))
    unseen = Representations(test.z1, test.z2, np.where(test.labels == 1, 7, 0), test.joint)
    with pytest.raises(ValueError, match="classes the training labels do not"):
        usable_pid(train, unseen)
    other = LinearProbe().fit(train.joint_features(), 1 - train.labels + 2)
    with pytest.raises(ValueError, match="joint_readout"):
        usable_pid(train, test, joint_readout=other)
