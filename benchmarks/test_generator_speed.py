"""Generator throughput (pytest-benchmark)."""

from __future__ import annotations

import numpy as np

from generators import bimodal

N_SAMPLES = 1_000_000


def test_bimodal_sampling_throughput(benchmark) -> None:
    """1,000,000 bimodal samples of 2 x 64 dims (linear mixing, default factors)."""
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
