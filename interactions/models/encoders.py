"""Per-modality vector encoders and the adapters that turn their outputs into fusion tokens."""

from __future__ import annotations

import itertools

import torch
from torch import nn


class MLPEncoder(nn.Module):
    """`depth` layers: (Linear, ReLU) * (depth - 1), then Linear to `out_dim`."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(depth - 1):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SingleTokenAdapter(nn.Module):
    """(B, E) -> (B, 1, E), no parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1)


class FeatureTokenizer(nn.Module):
    """FT-Transformer tokens: (B, d) -> (B, d, E) with token_j = x_j * w_j + b_j (w, b learnable, N(0, 1))."""

    def __init__(self, n_features: int, embed_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_features, embed_dim))
        self.bias = nn.Parameter(torch.randn(n_features, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(-1) * self.weight + self.bias


def unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] as float in [0, 1]; float images unchanged."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images


class ImageEncoder(nn.Module):
    """A convolutional trunk on RGB images (uint8 in [0, 255] or float in [0, 1], channels first).

    `features` gives the trunk's (B, C, h, w) map (the fusion's patch tokens); `forward` its global average
    pooled through a linear layer to `out_dim` (what Cross and Cross+Self use).
    """

    def __init__(self, trunk: nn.Module, channels: int, grid: int, out_dim: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(trunk, nn.AdaptiveAvgPool2d(grid))
        self.channels, self.grid = channels, grid
        self.project = nn.Linear(channels, out_dim)
        self.out_dim = out_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk((unit_range(x) - 0.5) / 0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(x).mean(dim=(2, 3)))


def small_cnn(channels: int) -> nn.Sequential:
    """Three 3x3 conv-BN-ReLU-maxpool stages, `channels` / 4 -> / 2 -> `channels`: for 32-64 px images."""
    widths = [3, max(1, channels // 4), max(1, channels // 2), channels]
    layers: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(widths):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


def alexnet_trunk() -> nn.Sequential:
    """AlexNet's convolutional trunk (Krizhevsky et al., 2012, torchvision layout), 256 output channels,
    random initialisation: CoMM's Trifeature encoder at 224 px."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    )  # fmt: skip


def sincos_2d(grid: int, embed_dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine positions (MoCo v3), (grid * grid, embed_dim): half the width encodes rows,
    half columns, each as sines and cosines of geometric frequencies."""
    quarter = embed_dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / max(quarter, 1))
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    parts = []
    for pos in (rows.flatten(), cols.flatten()):
        angle = pos[:, None].double() * omega[None]
        parts += [angle.sin(), angle.cos()]
    table = torch.cat(parts, dim=1).float()
    return nn.functional.pad(table, (0, embed_dim - table.shape[1]))


class PatchAdapter(nn.Module):
    """CoMM's patch adapter: (B, C, h, w) -> (B, h * w, E) through a 1x1 convolution, plus fixed 2-D sin-cos
    positions (never trained; every image modality gets the same table, as in CoMM)."""

    def __init__(self, channels: int, grid: int, embed_dim: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(channels, embed_dim, 1)
        self.register_buffer("positions", sincos_2d(grid, embed_dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(x).flatten(2).transpose(1, 2) + self.positions
