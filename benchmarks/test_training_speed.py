"""Training step time per objective on the same encoders and batch, and batched vs per-subset fusion."""

from __future__ import annotations

import pytest
import torch

from generators import bimodal
from interactions.augment import VectorAugment, augment_view
from interactions.objectives import Views, build_objective

BATCH = 256
_STEP_MS: dict[str, float] = {}


def _views() -> Views:
    sample = bimodal().sample(BATCH, seed=0)
    clean = [torch.as_tensor(x) for x in sample.modalities]
    gen = torch.Generator().manual_seed(0)
    aug = (VectorAugment(),) * 2
    labels = {k: torch.as_tensor(v) for k, v in sample.labels.items()}
    return Views(clean, augment_view(clean, aug, gen), augment_view(clean, aug, gen), labels)


@pytest.mark.parametrize(
    ("name", "options"),
    [("cross", {}), ("cross_self", {}), ("comm", {}), ("supervised", {"task": "all", "n_classes": 16})],
)
def test_training_step(benchmark, name: str, options: dict) -> None:
    """One forward + backward + AdamW step, batch 256, default ModelConfig, 2 x 32-dim modalities."""
    views = _views()
    objective = build_objective(name, [32, 32], **options)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=1e-3)

    def step() -> float:
        loss = objective.loss(views)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    loss = benchmark.pedantic(step, rounds=30, iterations=1, warmup_rounds=3)
    assert torch.isfinite(torch.tensor(loss))
    _STEP_MS[name] = benchmark.stats.stats.median * 1e3
    if name == "comm" and "cross_self" in _STEP_MS:
        benchmark.extra_info["comm_over_cross_self"] = _STEP_MS["comm"] / _STEP_MS["cross_self"]


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

    benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=3)
