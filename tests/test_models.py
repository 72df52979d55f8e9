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


def test_image_modalities_become_patch_tokens_with_fixed_positions() -> None:
    torch.manual_seed(2)
    config = ModelConfig(embed_dim=16, fusion_heads=2, image_channels=8, image_grid=4)
    net = FusedNetwork([(3, 32, 32), 6], config)
    images, vectors = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8), torch.randn(5, 6)
    tokens = net.tokens([images, vectors])
    assert tokens[0].shape == (5, 16, 16) and tokens[1].shape == (5, 1, 16)
    adapter = net.adapters[0]
    assert "positions" not in dict(adapter.named_parameters()) and adapter.positions.shape == (16, 16)
    assert len({tuple(row.tolist()) for row in adapter.positions}) == 16  # every cell has its own position
    # uint8 and float [0, 1] inputs are the same image
    float_tokens = net.tokens([images.float() / 255, vectors])
    assert torch.allclose(tokens[0], float_tokens[0], atol=1e-5)
    # the image modality alone: changing the vector does not reach subset {1}
    a, b = net([images, vectors]), net([images, vectors + 3])
    assert torch.allclose(a[0], b[0], atol=1e-6) and not torch.allclose(a[2], b[2])


def test_alexnet_trunk_gives_comm_s_trifeature_token_grid() -> None:
    config = ModelConfig(embed_dim=32, fusion_heads=4, image_encoder="alexnet", image_grid=6)
    net = FusedNetwork([(3, 224, 224), (3, 224, 224)], config)
    tokens = net.tokens([torch.rand(2, 3, 224, 224), torch.rand(2, 3, 224, 224)])
    assert tokens[0].shape == (2, 36, 32)  # 6 x 6 patches, as CoMM's AlexNet (256 x 6 x 6 maps)
    assert net.encoders.encoders[0](torch.rand(2, 3, 224, 224)).shape == (2, 32)
