"""The two architectures objectives are built on: a fused network and per-modality encoders."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from interactions.models.config import ModelConfig
from interactions.models.encoders import FeatureTokenizer, MLPEncoder, SingleTokenAdapter
from interactions.models.fusion import FusionTransformer


class EncoderNetwork(nn.Module):
    """One MLP encoder per modality, each to `embed_dim` features."""

    def __init__(self, modality_dims: Sequence[int], config: ModelConfig) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(
            MLPEncoder(d, config.encoder_hidden, config.embed_dim, config.encoder_depth)
            for d in modality_dims
        )

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [encoder(x) for encoder, x in zip(self.encoders, xs, strict=True)]


class FusedNetwork(nn.Module):
    """Encoders -> token adapters -> fusion transformer; `forward` gives CLS outputs per modality subset."""

    def __init__(self, modality_dims: Sequence[int], config: ModelConfig) -> None:
        super().__init__()
        self.n_modalities = len(modality_dims)
        self.encoders = EncoderNetwork(modality_dims, config)
        if config.adapter == "single":
            self.adapters = nn.ModuleList(SingleTokenAdapter() for _ in modality_dims)
        else:
            self.adapters = nn.ModuleList(
                FeatureTokenizer(config.embed_dim, config.embed_dim) for _ in modality_dims
            )
        self.fusion = FusionTransformer(config.embed_dim, config.fusion_depth, config.fusion_heads)

    @property
    def subsets(self) -> list[tuple[int, ...]]:
        """{1}, ..., {n}, {all}: CoMM's n + 1 modality subsets, in that order."""
        return [(m,) for m in range(self.n_modalities)] + [tuple(range(self.n_modalities))]

    def tokens(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [adapter(h) for adapter, h in zip(self.adapters, self.encoders(xs), strict=True)]

    def forward(
        self, xs: Sequence[torch.Tensor], subsets: list[tuple[int, ...]] | None = None
    ) -> torch.Tensor:
        """(len(subsets), B, E); encoders run once, the subsets share one fusion call."""
        return self.fusion(self.tokens(xs), self.subsets if subsets is None else subsets)
