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


def test_the_last_block_computes_the_cls_row_of_the_full_block() -> None:
    """The fusion's last block computes only the CLS row: equal to the full block's first row, values and
    gradients, for vector (2-3 tokens) and image-length (17 tokens) sequences."""
    from interactions.models.fusion import FusionBlock

    torch.manual_seed(4)
    block = FusionBlock(16, 4, depth=2)
    for length in (2, 3, 17, 33):  # both attention paths
        x = torch.randn(5, length, 16, dtype=torch.float64, requires_grad=True)
        block = block.double()
        full, cls = block(x)[:, 0], block.forward_cls(x)
        assert torch.allclose(full, cls, atol=1e-12)
        (grad_full,) = torch.autograd.grad(full.sum(), x)
        (grad_cls,) = torch.autograd.grad(cls.sum(), x)
        assert torch.allclose(grad_full, grad_cls, atol=1e-12)


def test_fusion_attention_is_multihead_attention_with_projection_biases_initialised_at_zero() -> None:
    """The block's attention equals torch's nn.MultiheadAttention (CoMM's module) given the same weights and
    biases, for both the full block and the CLS-only last block; a new block's biases are zero."""
    from interactions.models.fusion import FusionBlock

    torch.manual_seed(5)
    block = FusionBlock(16, 4, depth=2).double()
    assert not block.qkv.bias.any() and not block.out.bias.any()
    with torch.no_grad():  # non-zero biases, so that a bias left out of either path would show
        block.qkv.bias.normal_()
        block.out.bias.normal_()
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).double()
    mha.in_proj_weight.data, mha.in_proj_bias.data = block.qkv.weight.data, block.qkv.bias.data
    mha.out_proj.weight.data, mha.out_proj.bias.data = block.out.weight.data, block.out.bias.data
    for length in (3, 33):
        x = torch.randn(4, length, 16, dtype=torch.float64)
        h = block.ln_attn(x)
        after_attention = x + mha(h, h, h, need_weights=False)[0]
        reference = after_attention + block.mlp(block.ln_mlp(after_attention))
        assert torch.allclose(block(x), reference, atol=1e-10)
        assert torch.allclose(block.forward_cls(x), reference[:, 0], atol=1e-10)


def test_grouped_batchnorm_matches_separate_batchnorm_calls() -> None:
    """Outputs, gradients and running statistics of one grouped call equal those of G separate calls
    (running statistics: the mean of the G separate calls' updates)."""
    torch.manual_seed(2)
    grouped = GroupedBatchNorm1d(5)
    with torch.no_grad():
        grouped.weight.uniform_(0.5, 2.0)
        grouped.bias.uniform_(-1.0, 1.0)
    separate = [torch.nn.BatchNorm1d(5) for _ in range(3)]
    for plain in separate:
        plain.load_state_dict(grouped.state_dict())
    x = torch.randn(16, 3, 5) * torch.tensor([1.0, 3.0, 0.5]).view(1, 3, 1) + torch.arange(3.0).view(1, 3, 1)
    x.requires_grad_(True)
    together = grouped(x)
    apart = torch.stack([plain(x[:, i]) for i, plain in enumerate(separate)], dim=1)
    assert torch.allclose(together, apart, atol=1e-5)
    weights = torch.randn_like(together)
    (grad_together,) = torch.autograd.grad((together * weights).sum(), x)
    (grad_apart,) = torch.autograd.grad((apart * weights).sum(), x)
    assert torch.allclose(grad_together, grad_apart, atol=1e-5)
    for name in ("running_mean", "running_var"):
        mean_of_separate = torch.stack([getattr(plain, name) for plain in separate]).mean(dim=0)
        assert torch.allclose(getattr(grouped, name), mean_of_separate, atol=1e-6), name
        assert not torch.allclose(getattr(grouped, name), getattr(torch.nn.BatchNorm1d(5), name))
    assert int(grouped.num_batches_tracked) == 1
    grouped.eval()
    evaluated = grouped(x)
    assert evaluated.shape == x.shape
    assert torch.allclose(evaluated, (x - grouped.running_mean) / torch.sqrt(grouped.running_var + 1e-5)
                          * grouped.weight + grouped.bias, atol=1e-5)  # fmt: skip


def test_projection_head_shapes_and_subset_names() -> None:
    head = projection_head(16, 32, 8)
    assert head(torch.randn(10, 16)).shape == (10, 8)
    assert head(torch.randn(10, 3, 16)).shape == (10, 3, 8)
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
