"""Per-modality vector encoders and the adapters that turn their outputs into fusion tokens."""

from __future__ import annotations

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
