"""Training step time per objective on the same encoders and batch, and batched vs per-subset fusion."""

from __future__ import annotations

import pytest
import torch

from generators import TrifeatureGenerator, bimodal
from interactions.augment import ImageAugment, VectorAugment, augment_view
from interactions.objectives import Views, build_objective

BATCH = 256
IMAGE_BATCH = 128
_STEP_MS: dict[tuple[str, str], float] = {}
OBJECTIVES = [
    ("comm", {}),
    ("cross", {}),
    ("cross_self", {}),
    ("cmc", {}),
    ("infmasking", {}),
    ("factorcl", {}),
]


def _views(data: str) -> tuple[Views, list]:
    """A batch of 2 x 32-dim vectors (`bimodal()`, batch 256) or 2 x 32 px Trifeature images (batch 128)."""
    if data == "vector":
        sample, aug = bimodal().sample(BATCH, seed=0), VectorAugment()
    else:
        sample, aug = TrifeatureGenerator().sample(IMAGE_BATCH, seed=0), ImageAugment()
    clean = [torch.as_tensor(x) for x in sample.modalities]
    gen = torch.Generator().manual_seed(0)
    labels = {k: torch.as_tensor(v) for k, v in sample.labels.items()}
    views = Views(clean, augment_view(clean, (aug,) * 2, gen), augment_view(clean, (aug,) * 2, gen), labels)
    return views, [tuple(x.shape[1:]) if x.ndim == 4 else x.shape[1] for x in clean]


@pytest.mark.parametrize("data", ["vector", "image"])
@pytest.mark.parametrize(
    ("name", "options"), [*OBJECTIVES, ("supervised", {"task": "synergy", "n_classes": 2})]
)
def test_training_step(benchmark, name: str, options: dict, data: str) -> None:
    """One forward + backward + AdamW step on the same encoders: default ModelConfig, vectors (batch 256) or
    32 px images (small CNN, batch 128). extra_info holds the time relative to CoMM's on the same data."""
    views, dims = _views(data)
    objective = build_objective(name, dims, **options)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=1e-3)

    def step() -> float:
        loss = objective.loss(views)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    rounds = 10 if data == "vector" else 3
    loss = benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=2)
    assert torch.isfinite(torch.tensor(loss))
    _STEP_MS[name, data] = benchmark.stats.stats.median * 1e3
    if ("comm", data) in _STEP_MS:
        benchmark.extra_info["over_comm"] = _STEP_MS[name, data] / _STEP_MS["comm", data]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per_subset"])
@pytest.mark.parametrize("n_modalities", [2, 4])
@pytest.mark.parametrize("batch", [64, BATCH])
def test_subset_fusion(benchmark, batched: bool, n_modalities: int, batch: int) -> None:
    """CoMM's n + 1 subsets of one view through the fusion transformer (forward + backward)."""
    objective = build_objective("comm", [32] * n_modalities)
    network = objective.network
    xs = [torch.randn(batch, 32) for _ in range(n_modalities)]
    fuse = network.fusion.forward if batched else network.fusion.forward_each

    def run() -> None:
        fuse(network.tokens(xs), network.subsets).sum().backward()

    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=2)
