"""The two architectures objectives are built on: a fused network and per-modality encoders.

A modality is described by its shape: an int d for (B, d) vectors, (3, H, W) for RGB images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from interactions.models.config import ModelConfig
from interactions.models.encoders import (
    FeatureTokenizer,
    ImageEncoder,
    MLPEncoder,
    PatchAdapter,
    SingleTokenAdapter,
    alexnet_trunk,
    small_cnn,
)
from interactions.models.fusion import FusionTransformer

ModalityShape = int | tuple[int, ...]


def is_image(shape: ModalityShape) -> bool:
    return not isinstance(shape, int)


def modality_encoder(shape: ModalityShape, config: ModelConfig) -> nn.Module:
    """An MLP for a vector modality, a convolutional `ImageEncoder` for an image modality."""
    if not is_image(shape):
        return MLPEncoder(shape, config.encoder_hidden, config.embed_dim, config.encoder_depth)
    if config.image_encoder == "alexnet":
        return ImageEncoder(alexnet_trunk(), 256, config.image_grid, config.embed_dim)
    return ImageEncoder(
        small_cnn(config.image_channels), config.image_channels, config.image_grid, config.embed_dim
    )


class EncoderNetwork(nn.Module):
    """One encoder per modality, each to `embed_dim` features."""

    def __init__(self, modality_shapes: Sequence[ModalityShape], config: ModelConfig) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(modality_encoder(shape, config) for shape in modality_shapes)

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [encoder(x) for encoder, x in zip(self.encoders, xs, strict=True)]


class FusedNetwork(nn.Module):
    """Encoders -> token adapters -> fusion transformer; `forward` gives CLS outputs per modality subset.

    Vector modalities become one token (`adapter="single"`) or one per feature (`"features"`); image
    modalities one token per cell of the encoder's feature map (`PatchAdapter`).
    """

    def __init__(self, modality_shapes: Sequence[ModalityShape], config: ModelConfig) -> None:
        super().__init__()
        self.n_modalities = len(modality_shapes)
        self.encoders = EncoderNetwork(modality_shapes, config)
        self.adapters = nn.ModuleList(self._adapter(encoder, config) for encoder in self.encoders.encoders)
        self.fusion = FusionTransformer(config.embed_dim, config.fusion_depth, config.fusion_heads)

    @staticmethod
    def _adapter(encoder: nn.Module, config: ModelConfig) -> nn.Module:
        if isinstance(encoder, ImageEncoder):
            return PatchAdapter(encoder.channels, encoder.grid, config.embed_dim)
        if config.adapter == "single":
            return SingleTokenAdapter()
        return FeatureTokenizer(config.embed_dim, config.embed_dim)

    @property
    def subsets(self) -> list[tuple[int, ...]]:
        """{1}, ..., {n}, {all}: CoMM's n + 1 modality subsets, in that order."""
        return [(m,) for m in range(self.n_modalities)] + [tuple(range(self.n_modalities))]

    def tokens(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for encoder, adapter, x in zip(self.encoders.encoders, self.adapters, xs, strict=True):
            out.append(adapter(encoder.features(x) if isinstance(encoder, ImageEncoder) else encoder(x)))
        return out

    def forward(
        self, xs: Sequence[torch.Tensor], subsets: list[tuple[int, ...]] | None = None
    ) -> torch.Tensor:
        """(len(subsets), B, E); encoders run once, the subsets share one fusion call."""
        return self.fusion(self.tokens(xs), self.subsets if subsets is None else subsets)
