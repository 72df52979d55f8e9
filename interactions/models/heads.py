"""Projection heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GroupedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over (B, G, C) inputs with statistics per group g (over the batch axis) and shared affine
    parameters.

    This is what G separate calls of one BatchNorm1d on the (B, C) slices compute in training mode (CoMM
    applies its head to each modality subset separately), in one native call on B x (G * C) channels, which
    needs no copy in this batch-first layout. Running statistics move towards the mean of the groups'
    statistics. (B, C) inputs behave as in BatchNorm1d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            return super().forward(x)
        n, g, c = x.shape
        if not self.training:
            return super().forward(x.reshape(-1, c)).view_as(x)
        running = (
            (self.running_mean.repeat(g), self.running_var.repeat(g)) if self.track_running_stats else None
        )
        flat = F.batch_norm(
            x.reshape(n, g * c),
            *(running or (None, None)),
            self.weight.repeat(g),
            self.bias.repeat(g),
            training=True,
            momentum=self.momentum,
            eps=self.eps,
        )
        if running is not None:
            with torch.no_grad():
                self.running_mean.copy_(running[0].view(g, c).mean(dim=0))
                self.running_var.copy_(running[1].view(g, c).mean(dim=0))
                self.num_batches_tracked += 1
        return flat.view(n, g, c)


def projection_head(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """CoMM / SimCLR head: Linear-BN-ReLU, Linear-BN-ReLU, Linear; accepts (B, E) or (B, groups, E)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        GroupedBatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        GroupedBatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, out_dim),
    )
