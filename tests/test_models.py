"""Models: batched subset fusion equals per-subset fusion; dropped modalities do not leak; heads."""

from __future__ import annotations

import pytest
import torch

from interactions.models import FusedNetwork, ModelConfig, projection_head, subset_name
from interactions.models.heads import GroupedBatchNorm1d


@pytest.mark.parametrize("adapter", ["single", "features"])
def test_batched_subset_fusion_equals_one_call_per_subset(adapter: str) -> None:
    torch.manual_seed(0)
    net = FusedNetwork([7, 5, 9], ModelConfig(embed_dim=16, fusion_heads=2, fusion_depth=2, adapter=adapter))
    xs = [torch.randn(11, d) for d in (7, 5, 9)]
    subsets = [*net.subsets, (0, 2), (1, 2)]
    tokens = net.tokens(xs)
    batched = net.fusion(tokens, subsets)
    reference = net.fusion.forward_each(tokens, subsets)
    assert batched.shape == (len(subsets), 11, 16)
    assert torch.allclose(batched, reference, atol=1e-5)


def test_a_dropped_modality_does_not_reach_the_unimodal_output() -> None:
    torch.manual_seed(1)
    net = FusedNetwork([6, 6], ModelConfig(embed_dim=16, fusion_heads=4))
    x1, x2 = torch.randn(8, 6), torch.randn(8, 6)
    a, b = net([x1, x2]), net([x1, torch.randn(8, 6) * 10])
    assert torch.allclose(a[0], b[0], atol=1e-6)  # subset {1}
    assert not torch.allclose(a[1], b[1]) and not torch.allclose(a[2], b[2])


def test_grouped_batchnorm_matches_separate_batchnorm_calls() -> None:
    torch.manual_seed(2)
    grouped, plain = GroupedBatchNorm1d(5), torch.nn.BatchNorm1d(5)
    plain.load_state_dict(grouped.state_dict())
    x = torch.randn(3, 16, 5) * 3 + 1
    together = grouped(x)
    separate = torch.stack([plain(g) for g in x])
    assert torch.allclose(together, separate, atol=1e-5)
    grouped.eval()
    assert grouped(x).shape == x.shape


def test_projection_head_shapes_and_subset_names() -> None:
    head = projection_head(16, 32, 8)
    assert head(torch.randn(10, 16)).shape == (10, 8)
    assert head(torch.randn(3, 10, 16)).shape == (3, 10, 8)
    assert subset_name((0,), 2) == "1" and subset_name((0, 1), 2) == "all" and subset_name((0, 2), 3) == "13"


def test_model_config_validation() -> None:
    with pytest.raises(ValueError, match="fusion_heads"):
        ModelConfig(embed_dim=10, fusion_heads=4)
    with pytest.raises(ValueError, match="adapter"):
        ModelConfig(adapter="patches")
