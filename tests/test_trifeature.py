"""Bimodal Trifeature: renderer determinism and sanity, pairing, splits, ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dit_broja
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from generators import TrifeatureGenerator
from generators.render import cached_render, render


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERACTIONS_CACHE", str(tmp_path / "cache"))


def _attributes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, (n, 3))


def test_renders_are_deterministic_and_cached(tmp_path):
    a = _attributes(40, 0)
    first = render(*a.T, size=48, seed=3)
    assert first.shape == (40, 3, 48, 48) and first.dtype == np.uint8
    assert np.array_equal(first, render(*a.T, size=48, seed=3))
    assert not np.array_equal(first, render(*a.T, size=48, seed=4))
    cached = cached_render(*a.T, size=48, seed=3)
    assert np.array_equal(cached, first)
    assert len(list((tmp_path / "cache" / "trifeature").glob("*.npz"))) == 1
    assert np.array_equal(cached_render(*a.T, size=48, seed=3), first)  # read back from disk


def _features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Translation-invariant spectrum of the grey image (shape, texture); mean colour of the figure."""
    x = images.astype(np.float32) / 255
    spectrum = np.log1p(np.abs(np.fft.rfft2(x.mean(axis=1) - 0.5)).reshape(len(x), -1))
    figure = np.abs(x - 0.5).sum(axis=1) > 0.02
    colour = (x * figure[:, None]).sum(axis=(2, 3)) / np.maximum(figure.sum(axis=(1, 2)), 1)[:, None]
    return spectrum, colour


def test_every_attribute_is_recoverable_by_a_simple_probe():
    """Renderer sanity: a logistic regression on the image spectrum reads shape and texture, one on the
    figure's mean colour reads the colour, on new renders (chance 0.1 each)."""
    train, test = _attributes(1500, 1), _attributes(600, 2)
    (spec_train, col_train), (spec_test, col_test) = (
        _features(render(*a.T, size=32, seed=s)) for a, s in ((train, 1), (test, 2))
    )
    for column, name, (x_train, x_test) in (
        (0, "shape", (spec_train, spec_test)),
        (1, "texture", (spec_train, spec_test)),
        (2, "colour", (col_train, col_test)),
    ):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=300))
        accuracy = probe.fit(x_train, train[:, column]).score(x_test, test[:, column])
        assert accuracy > 0.5, (name, accuracy)


def test_sampling_is_deterministic():
    gen = TrifeatureGenerator()
    a, b = gen.sample(64, seed=1, split="train"), gen.sample(64, seed=1, split="train")
    assert all(np.array_equal(x, y) for x, y in zip(a.modalities, b.modalities, strict=True))
    assert all(np.array_equal(a.labels[t], b.labels[t]) for t in gen.tasks)
    c = gen.sample(64, seed=2, split="train")
    assert not np.array_equal(a.labels["unique1"], c.labels["unique1"])
    assert a.modalities[0].shape == (64, 3, 32, 32) and a.modalities[0].dtype == np.uint8


def test_pairs_share_shape_and_labels_match_attributes():
    gen = TrifeatureGenerator()
    s = gen.sample(500, seed=0, split="train")
    f = s.factors
    assert np.array_equal(s.labels["redundancy"], f["shape"])
    assert np.array_equal(s.labels["unique1"], f["texture1"])
    assert np.array_equal(s.labels["unique2"], f["texture2"])
    assert np.array_equal(
        s.labels["synergy"], (f["colour2"] == gen.bijection[f["texture1"]]).astype(np.int64)
    )


def test_biased_pairing_only_in_pretraining():
    gen = TrifeatureGenerator(biased_pairing=True)
    pretrain = gen.sample(2000, seed=0, split="pretrain")
    assert pretrain.labels["synergy"].all()  # every pre-training pair obeys the bijection
    for split in ("train", "test"):
        rate = gen.sample(2000, seed=0, split=split).labels["synergy"].mean()
        assert 0.05 < rate < 0.2, (split, rate)  # about 1 in 10 on unbiased pairs
    assert sorted(gen.bijection) == list(range(10))
    unbiased = TrifeatureGenerator().sample(2000, seed=0, split="pretrain").labels["synergy"].mean()
    assert unbiased < 0.2


def test_test_split_holds_only_unseen_combinations():
    gen = TrifeatureGenerator()
    train = {tuple(c) for c in gen.combinations("train")}
    test = {tuple(c) for c in gen.combinations("test")}
    assert len(train) == 800 and len(test) == 200 and not train & test
    for split, allowed in (("pretrain", train), ("train", train), ("val", test), ("test", test)):
        f = gen.sample(3000, seed=0, split=split).factors
        for image in ("1", "2"):
            rows = np.stack([f["shape"], f[f"texture{image}"], f[f"colour{image}"]], axis=1)
            seen = {tuple(r) for r in rows.tolist()}
            assert seen <= allowed, split


def test_truth_matches_dit_and_closed_forms():
    gen = TrifeatureGenerator()
    for task in gen.tasks:
        table = gen.latent_table(task)
        expected = dit_broja(table)
        atoms = gen.truth(task).atoms
        for name in ("redundancy", "unique1", "unique2", "synergy"):
            assert atoms[name] == pytest.approx(expected[name], abs=1e-5), (task, name)
    # Shape is in both images: pure redundancy of H(shape), about log2(10) bits.
    assert gen.truth("redundancy").redundancy == pytest.approx(np.log2(10), abs=0.3)
    synergy = gen.truth("synergy")
    assert synergy.synergy > 0.3 and synergy.n_classes == 2 and synergy.chance == 0.5
    assert gen.truth("unique1").unique1 > 2.5


def test_invalid_knobs_raise():
    with pytest.raises(ValueError, match="size"):
        TrifeatureGenerator(size=16)
    with pytest.raises(ValueError, match="test_renders"):
        TrifeatureGenerator(test_renders=0)
    with pytest.raises(ValueError, match="texture_period"):
        TrifeatureGenerator(texture_period=0.9)
    with pytest.raises(ValueError, match="split"):
        TrifeatureGenerator().sample(4, split="holdout")


def test_pairs_and_probe_labels_use_one_bijection_whether_renders_are_fresh_or_cached(tmp_path):
    """CoMM's data code draws M from a random stream that rendering consumes first, so rendered and loaded
    runs disagree on M. Here M comes from its own stream: the same before and after rendering, with a cold
    or a warm render cache, and the biased pre-training pairs obey the M that the probe labels use."""
    from generators import trifeature

    def fresh_draw() -> tuple[np.ndarray, np.ndarray, list]:
        trifeature._pool_images.cache_clear()  # no renders in memory: from disk, or rendered anew
        trifeature._pool_pairs.cache_clear()
        gen = TrifeatureGenerator(size=32, biased_pairing=True)
        before = gen.bijection
        samples = [gen.sample(300, seed=1, split=split) for split in ("pretrain", "train", "test")]
        assert np.array_equal(before, gen.bijection)
        return before, gen.bijection, samples

    cache = tmp_path / "cache" / "trifeature"
    _, cold, cold_samples = fresh_draw()
    assert len(list(cache.glob("*.npz"))) == 2  # both pools were rendered and written
    written = {p: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    _, warm, warm_samples = fresh_draw()
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.npz")} == written  # loaded, not rendered again
    assert np.array_equal(cold, warm)
    for a, b in zip(cold_samples, warm_samples, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a.modalities, b.modalities, strict=True))
        assert all(np.array_equal(a.labels[k], b.labels[k]) for k in a.labels)
    pretrain = warm_samples[0]
    assert np.array_equal(pretrain.factors["colour2"], warm[pretrain.factors["texture1"]])
    assert pretrain.labels["synergy"].all()
    for probe in warm_samples[1:]:
        expected = probe.factors["colour2"] == warm[probe.factors["texture1"]]
        assert np.array_equal(probe.labels["synergy"], expected) and 0 < expected.mean() < 0.5
