"""Projection heads."""

from __future__ import annotations

import torch
from torch import nn


class GroupedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over (G, B, C) inputs with statistics per group g and shared affine parameters.

    This is what G separate calls of one BatchNorm1d compute in training mode (CoMM applies its head to
    each modality subset separately), in one call. Running statistics move towards the mean of the
    groups' statistics. (B, C) inputs behave as in BatchNorm1d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            return super().forward(x)
        if not self.training:
            return super().forward(x.reshape(-1, x.shape[-1])).view_as(x)
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, unbiased=False, keepdim=True)
        if self.track_running_stats:
            with torch.no_grad():
                n = x.shape[1]
                self.running_mean.lerp_(mean.mean(dim=(0, 1)), self.momentum)
                self.running_var.lerp_(var.mean(dim=(0, 1)) * n / max(n - 1, 1), self.momentum)
                self.num_batches_tracked += 1
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def projection_head(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """CoMM / SimCLR head: Linear-BN-ReLU, Linear-BN-ReLU, Linear; accepts (B, E) or (groups, B, E)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        GroupedBatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        GroupedBatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, out_dim),
    )
