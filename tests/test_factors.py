"""The factor generators: exact ground truth, independence structure, determinism, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import dit_broja

from estimators import encode, plugin_mutual_information_bits
from generators import FactorGenerator, SampleDataset, bayes, bimodal

# (redundancy, unique1, unique2, synergy): absent factors, K = 1, 3 and 4, all kept small for dit.
BIMODAL_SETTINGS = [
    (2, 2, 2, 2),
    (3, 1, 2, 1),
    (1, 4, 1, 3),
    (2, 1, 1, 4),
    (4, 3, 1, 1),
    (1, 1, 3, 2),
]


def _assert_atoms(p: np.ndarray, atoms: dict[str, float]) -> None:
    reference = dit_broja(p)
    for name in ("redundancy", "unique1", "unique2", "synergy"):
        assert reference[name] == pytest.approx(atoms[name], abs=1e-6), name


@pytest.mark.parametrize("classes", BIMODAL_SETTINGS)
def test_bimodal_truth_matches_dit_broja(classes: tuple[int, int, int, int]) -> None:
    gen = bimodal(*classes)
    for task in gen.tasks:
        truth = gen.truth(task)
        _assert_atoms(gen.latent_table(task), truth.atoms)
        assert truth.total_bits == pytest.approx(math.log2(truth.n_classes), abs=1e-12)


def test_all_task_atoms_are_log2_of_class_counts() -> None:
    truth = bimodal(2, 2, 2, 2).truth("all")
    assert dict(truth.atoms) == {"redundancy": 1.0, "unique1": 1.0, "unique2": 1.0, "synergy": 1.0}
    truth = bimodal(3, 4, 1, 3).truth("all")
    assert truth.redundancy == pytest.approx(math.log2(3))
    assert (truth.unique1, truth.unique2) == (2.0, 0.0)
    assert truth.synergy == pytest.approx(math.log2(3))


@pytest.mark.parametrize("synergy", [2, 3, 4])
def test_biased_pairing_truth_matches_dit_broja(synergy: int) -> None:
    gen = bimodal(2, 1, 2, synergy, biased_pairing=True)
    for task in ("synergy", "all", "unique2"):
        _assert_atoms(gen.latent_table(task), gen.truth(task).atoms)
    p_match = 1.0 / synergy
    assert gen.truth("synergy").synergy == pytest.approx(
        -p_match * math.log2(p_match) - (1 - p_match) * math.log2(1 - p_match)
    )


def test_biased_pairing_pretrain_obeys_permutation_and_evaluation_does_not() -> None:
    gen = bimodal(synergy=4, biased_pairing=True)
    pi = gen.permutation
    pre = gen.sample(5000, seed=1, split="pretrain")
    assert np.array_equal(pre.factors["s2"], pi[pre.factors["s1"]])
    assert np.all(pre.labels["synergy"] == 1)
    test = gen.sample(20000, seed=1, split="test")
    assert np.array_equal(
        test.labels["synergy"], (test.factors["s2"] == pi[test.factors["s1"]]).astype(np.int64)
    )
    assert test.labels["synergy"].mean() == pytest.approx(0.25, abs=0.01)
    assert gen.latent_table("synergy", split="pretrain")[..., 0].sum() == 0.0


def test_biased_fraction_sets_the_share_of_pretraining_pairs_and_leaves_evaluation_unchanged() -> None:
    full = bimodal(synergy=4, biased_pairing=True)
    pi = full.permutation
    for fraction in (0.0, 0.3, 1.0):
        gen = bimodal(synergy=4, biased_pairing=True, biased_fraction=fraction)
        pre = gen.sample(4000, seed=2, split="pretrain")
        obeys = pre.factors["s2"] == pi[pre.factors["s1"]]
        assert np.all(obeys[: round(fraction * 4000)])  # the biased share, exactly
        rest = obeys[round(fraction * 4000) :]
        assert len(rest) == 0 or rest.mean() == pytest.approx(0.25, abs=0.03)  # unbiased: 1 in K by chance
        table = gen.latent_table("synergy", split="pretrain")  # label 1 = obeys: f + (1 - f) / K of the mass
        assert table[..., 1].sum() == pytest.approx(fraction + (1 - fraction) / 4)
        for split in ("train", "val", "test"):  # evaluation data, labels and truth do not depend on it
            a, b = gen.sample(300, seed=2, split=split), full.sample(300, seed=2, split=split)
            assert all(np.array_equal(x, y) for x, y in zip(a.modalities, b.modalities, strict=True))
            assert all(np.array_equal(a.labels[t], b.labels[t]) for t in gen.tasks)
        assert all(gen.truth(t) == full.truth(t) for t in gen.tasks)
        assert gen.observed_atoms() == full.observed_atoms()
    # 1 is the fully biased split of before: same data, same config (so stored run keys stay valid)
    one = bimodal(synergy=4, biased_pairing=True, biased_fraction=1.0)
    a, b = one.sample(500, seed=3, split="pretrain"), full.sample(500, seed=3, split="pretrain")
    assert all(np.array_equal(x, y) for x, y in zip(a.modalities, b.modalities, strict=True))
    assert "biased_fraction" not in full.config()
    assert bimodal(biased_pairing=True, biased_fraction=0.5).config()["biased_fraction"] == 0.5
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="biased_fraction"):
            bimodal(biased_pairing=True, biased_fraction=bad)
    with pytest.raises(ValueError, match="biased_fraction applies only with biased_pairing"):
        bimodal(biased_fraction=0.5)


def test_with_knobs_validates_and_mlp_depth_zero_is_linear_mixing() -> None:
    gen = bimodal()
    assert gen.with_knobs(mlp_depth=0) == gen  # the preset's linear mixing
    deep = gen.with_knobs(mlp_depth=3)
    assert (deep.mixing, deep.mlp_depth) == ("mlp", 3)
    assert gen.with_knobs(noise=0.6).noise == 0.6
    with pytest.raises(ValueError, match="'foo' is not a knob of FactorGenerator"):
        gen.with_knobs(foo=1)
    with pytest.raises(ValueError, match="'seed' is not a knob"):  # the seed fixes the structure
        gen.with_knobs(seed=1)
    with pytest.raises(ValueError, match="mlp_depth must be an integer >= 0"):
        gen.with_knobs(mlp_depth=-1)
    with pytest.raises(ValueError, match="nuisance_std"):
        gen.with_knobs(nuisance_std=-1.0)


def test_n_modal_truth_matches_dit_broja_on_one_versus_rest() -> None:
    gen = FactorGenerator(n_modalities=3, redundancy=2, unique=(2, 1, 2), synergy=2)
    assert gen.tasks == ("redundancy", "unique1", "unique2", "unique3", "synergy", "all")
    for task in gen.tasks:
        truth = gen.truth(task)
        p = gen.latent_table(task)
        assert p.ndim == 4
        # Modality 1 against modalities 2 and 3 together: the rest's unique atoms add up as source 2.
        split_atoms = truth.against_rest()
        assert split_atoms["unique2"] == truth.atoms["unique2"] + truth.atoms["unique3"]
        _assert_atoms(p.reshape(p.shape[0], -1, p.shape[-1]), split_atoms)


def test_n_modal_synergy_needs_every_modality() -> None:
    gen = FactorGenerator(n_modalities=3, redundancy=1, unique=1, synergy=3)
    s = gen.sample(200_000, seed=0)
    f = s.factors
    y = s.labels["synergy"]
    for pair in (("s1", "s2"), ("s1", "s3"), ("s2", "s3")):
        assert plugin_mutual_information_bits(encode(f[pair[0]], f[pair[1]]), y) < 1e-3
    assert plugin_mutual_information_bits(encode(f["s1"], f["s2"], f["s3"]), y) == pytest.approx(
        math.log2(3), abs=1e-3
    )


def test_synergy_label_is_independent_of_each_modality_yet_determined_by_both() -> None:
    gen = bimodal(redundancy=2, unique1=3, unique2=2, synergy=4)
    s = gen.sample(400_000, seed=3)
    f, y = s.factors, s.labels["synergy"]
    own = [encode(f["r"], f[f"u{m}"], f[f"s{m}"]) for m in (1, 2)]
    for codes in own:
        assert plugin_mutual_information_bits(codes, y) < 2e-3
    both = encode(own[0], own[1])
    assert plugin_mutual_information_bits(both, y) == pytest.approx(2.0, abs=2e-3)
    assert np.array_equal((f["s1"] + f["s2"]) % 4, y)


def test_same_seed_is_byte_identical_and_different_seeds_differ() -> None:
    for gen in (
        bimodal(),
        bimodal(mixing="mlp", synergy=3, biased_pairing=True),
        FactorGenerator(n_modalities=4),
    ):
        a, b = gen.sample(500, seed=7, split="pretrain"), gen.sample(500, seed=7, split="pretrain")
        for xa, xb in zip(a.modalities, b.modalities, strict=True):
            assert xa.tobytes() == xb.tobytes()
        for task in gen.tasks:
            assert a.labels[task].tobytes() == b.labels[task].tobytes()
        c = gen.sample(500, seed=8, split="pretrain")
        assert not np.array_equal(a.modalities[0], c.modalities[0])
        assert not np.array_equal(a.labels["all"], c.labels["all"])
        d = gen.sample(500, seed=7, split="test")
        assert not np.array_equal(a.modalities[0], d.modalities[0])
    assert not np.array_equal(
        bimodal(seed=0).sample(10).modalities[0], bimodal(seed=1).sample(10).modalities[0]
    )


def test_types_shapes_and_dataset_adapter() -> None:
    gen = bimodal(dim=40, nuisance_dim=6)
    s = gen.sample(64, seed=0)
    assert len(s) == 64 and s.n_modalities == 2
    assert all(x.dtype == np.float32 and x.shape == (64, 40) for x in s.modalities)
    assert all(y.dtype == np.int64 for y in s.labels.values())
    assert set(s.labels) == set(gen.tasks)
    ds = SampleDataset(s, task="synergy")
    (x1, _), y = ds[3]
    assert len(ds) == 64 and x1.shape == (40,) and int(y) == int(s.labels["synergy"][3])
    _, labels = SampleDataset(s)[5]
    assert set(labels) == set(gen.tasks)
    with pytest.raises(ValueError, match="task"):
        SampleDataset(s, task="nope")


def test_mlp_mixing_is_nonlinear_and_finite() -> None:
    gen = bimodal(mixing="mlp", mlp_depth=3)
    x = gen.sample(2000, seed=0).modalities[0]
    assert np.isfinite(x).all()
    # Leaky ReLU layers leave a skewed marginal; an orthogonal linear map of Gaussians would not.
    assert (x < 0).mean() != pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    ("knobs", "knob"),
    [
        ({"redundancy": 0}, "redundancy"),
        ({"redundancy": 2.5}, "redundancy"),
        ({"unique1": -1}, "unique1"),
        ({"synergy": True}, "synergy"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"nuisance_std": -1.0}, "nuisance_std"),
        ({"separation": 0.0}, "separation"),
        ({"factor_dim": 3, "redundancy": 4}, "factor_dim"),
        ({"dim": 10}, "dim"),
        ({"mixing": "cubic"}, "mixing"),
        ({"mlp_depth": 0}, "mlp_depth"),
        ({"synergy": 1, "biased_pairing": True}, "synergy"),
        ({"redundancy": 1, "unique1": 1, "unique2": 1, "synergy": 1, "nuisance_dim": 0}, "nuisance_dim"),
    ],
)
def test_invalid_bimodal_knobs_raise_naming_the_knob(knobs: dict, knob: str) -> None:
    with pytest.raises(ValueError, match=knob):
        bimodal(**knobs)


def test_invalid_n_modal_and_sampling_arguments() -> None:
    with pytest.raises(ValueError, match="n_modalities must be an integer >= 2"):
        FactorGenerator(n_modalities=1)
    with pytest.raises(ValueError, match="unique"):
        FactorGenerator(n_modalities=3, unique=(2, 2))
    gen = bimodal()
    with pytest.raises(ValueError, match="split"):
        gen.sample(10, split="validation")
    with pytest.raises(ValueError, match="n must be"):
        gen.sample(0)
    with pytest.raises(ValueError, match="task"):
        gen.truth("unique3")


def test_bayes_monte_carlo_agrees_with_closed_form_at_two_classes() -> None:
    assert bayes.factor_accuracy(2, 2.0) == pytest.approx(
        0.5 * (1 + math.erf(2.0 / 2)), abs=1e-9
    )  # Phi(snr/sqrt2)
    snrs = (2.0, 3.0)
    closed = bayes.sum_mod_accuracy(2, snrs)
    q1, q2 = bayes.factor_accuracy(2, 2.0), bayes.factor_accuracy(2, 3.0)
    assert closed == pytest.approx(q1 * q2 + (1 - q1) * (1 - q2), abs=1e-12)
    assert bayes._sum_mod_monte_carlo(2, snrs) == pytest.approx(closed, abs=2e-3)
    assert bayes._matching_monte_carlo(2, snrs, (1, 0)) == pytest.approx(closed, abs=2e-3)
    assert bayes.sum_mod_accuracy(3, (math.inf, math.inf)) == 1.0
    assert bayes.factor_accuracy(5, math.inf) == 1.0


@pytest.mark.parametrize(
    "gen",
    [
        bimodal(redundancy=3, unique1=4, synergy=3, noise=0.6),
        bimodal(synergy=3, noise=0.5, biased_pairing=True),
        FactorGenerator(n_modalities=3, redundancy=3, synergy=2, noise=0.7),
    ],
)
def test_declared_bayes_accuracy_matches_the_exact_posterior_on_samples(gen: FactorGenerator) -> None:
    """Decode samples with the true generative model (linear mixing is an isometry) and compare."""
    sample = gen.sample(200_000, seed=11, split="test")
    snr = gen.separation / gen.noise
    posteriors = {}  # factor name -> list of per-modality log-likelihood arrays
    for m, x in enumerate(sample.modalities):
        ((weight, _),) = gen._structure["mixers"][m]
        latent = x.astype(np.float64) @ weight.T.astype(np.float64)
        for b, (name, protos) in enumerate(gen._structure["prototypes"][m].items()):
            block = latent[:, b * gen.factor_dim : (b + 1) * gen.factor_dim]
            scores = block @ protos.T.astype(np.float64) / (gen.separation * gen.noise)
            posteriors.setdefault(name, []).append(snr * scores)

    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def balanced(pred: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))

    checks = {"redundancy": np.argmax(sum(posteriors["r"]), axis=1)}
    for m in range(gen.n_modalities):
        if gen.unique[m] > 1:
            checks[f"unique{m + 1}"] = np.argmax(posteriors[f"u{m + 1}"][0], axis=1)
    probs = [softmax(posteriors[f"s{m + 1}"][0]) for m in range(gen.n_modalities)]
    k = gen.synergy
    conv = probs[0]
    for p in probs[1:-1] if gen.biased_pairing else probs[1:]:
        conv = np.stack([np.sum(conv * np.roll(p[:, ::-1], j + 1, axis=1), axis=1) for j in range(k)], axis=1)
    if gen.biased_pairing:
        p_match = np.sum(conv * probs[-1][:, gen.permutation], axis=1)
        checks["synergy"] = (p_match > 1.0 / k).astype(np.int64)
    else:
        checks["synergy"] = np.argmax(conv, axis=1)
    for task, pred in checks.items():
        assert balanced(pred, sample.labels[task]) == pytest.approx(gen.truth(task).bayes, abs=0.006), task


def test_zero_noise_bayes_is_one() -> None:
    gen = bimodal(3, 2, 4, 3, noise=0.0)
    assert all(gen.truth(t).bayes == 1.0 for t in gen.tasks)
    assert bimodal(noise=0.0, biased_pairing=True).truth("synergy").bayes == 1.0


def test_observed_atoms_approach_the_latent_truth_as_noise_vanishes() -> None:
    for gen in (
        bimodal(noise=1e-4),
        FactorGenerator(n_modalities=3, noise=1e-4),
        bimodal(synergy=3, noise=1e-4),
    ):
        latent = gen.truth("all").against_rest()
        for name, value in gen.observed_atoms().items():
            assert value == pytest.approx(latent[name], abs=1e-3), name


def test_observed_atoms_lose_bits_to_noise_and_move_redundancy_into_synergy() -> None:
    """At noise 0.3 one view of a binary factor carries 0.96 bit; the second view of r adds bits only
    jointly (synergy), and the rest's two views of r in the 3-modal case add uniqueness."""
    atoms = bimodal().observed_atoms()
    one_view = bayes.factor_information(2, bayes.snr(1.0, 0.3))
    assert 0.9 < one_view < 0.99
    assert atoms["redundancy"] == pytest.approx(one_view) and atoms["unique1"] == pytest.approx(one_view)
    two_views = bayes.factor_information(2, math.sqrt(2) * bayes.snr(1.0, 0.3))
    xor = bayes.sum_mod_information(2, (bayes.snr(1.0, 0.3),) * 2)
    assert atoms["synergy"] == pytest.approx(xor + two_views - one_view)
    assert xor < one_view < two_views
    three = FactorGenerator(n_modalities=3).observed_atoms()
    assert three["unique2"] == pytest.approx(2 * one_view + two_views - one_view)
    noisier = bimodal(noise=0.6).observed_atoms()
    assert all(noisier[name] < atoms[name] for name in ("redundancy", "unique1"))
