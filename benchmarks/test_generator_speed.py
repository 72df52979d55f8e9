"""Generator throughput (pytest-benchmark)."""

from __future__ import annotations

import numpy as np
import pytest

from generators import TrifeatureGenerator, bimodal
from generators.render import render

N_SAMPLES = 100_000


def test_bimodal_sampling_throughput(benchmark) -> None:
    """100,000 bimodal samples of 2 x 64 dims (linear mixing, default factors)."""
    gen = bimodal(dim=64)
    gen.sample(10)  # build the fixed structure outside the timed part
    sample = benchmark.pedantic(gen.sample, args=(N_SAMPLES,), kwargs={"seed": 0}, rounds=5, warmup_rounds=1)
    assert [x.shape for x in sample.modalities] == [(N_SAMPLES, 64), (N_SAMPLES, 64)]
    assert all(x.dtype == np.float32 for x in sample.modalities)
    benchmark.extra_info["samples_per_second"] = N_SAMPLES / benchmark.stats.stats.median


def test_bimodal_mlp_sampling_throughput(benchmark) -> None:
    gen = bimodal(dim=64, mixing="mlp", mlp_depth=2)
    gen.sample(10)
    sample = benchmark.pedantic(gen.sample, args=(N_SAMPLES,), kwargs={"seed": 0}, rounds=3, warmup_rounds=1)
    assert np.isfinite(sample.modalities[1]).all()


@pytest.mark.parametrize("size", [32, 224])
def test_trifeature_rendering_throughput(benchmark, size: int) -> None:
    """Uncached renders of Trifeature images (the disk cache makes later draws a load)."""
    n = 600 if size == 32 else 50  # a quarter of CoMM's training pool at 32 px; a slice of it at 224 px
    attributes = np.random.default_rng(0).integers(0, 10, (3, n))
    images = benchmark.pedantic(render, args=(*attributes, size, 0), rounds=3)
    assert images.shape == (n, 3, size, size)
    benchmark.extra_info["images_per_second"] = n / benchmark.stats.stats.median


def test_trifeature_pair_sampling_throughput(benchmark) -> None:
    """10,000 pairs from the cached pool (CoMM's training size)."""
    gen = TrifeatureGenerator()
    gen.sample(10, split="pretrain")  # render (or load) the pool outside the timed part
    sample = benchmark.pedantic(gen.sample, args=(10_000,), kwargs={"split": "pretrain"}, rounds=5)
    assert sample.modalities[0].shape == (10_000, 3, 32, 32)
