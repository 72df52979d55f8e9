"""Pure contrastive losses (no models): SimCLR's NT-Xent and CLIP's symmetric InfoNCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR NT-Xent between two (N, D) batches (Chen et al., ICML 2020), as CoMM uses it.

    Inputs are L2-normalised here. Row k anchored on a_k has positive b_k and negatives every b_j and
    every a_j (j != k); rows anchored on b are built the same way. The loss is the mean cross-entropy over
    the 2N rows, symmetric in (a, b).
    """
    z = F.normalize(torch.cat([a, b]), dim=1)
    n = a.shape[0]
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def nt_xent_against_anchors(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """NT-Xent of every group of one view against the last group of the other view, in both directions:
    for (G, N, D) batches z1, z2 (two views of G groups), entry t of the result is
    1/2 [nt_xent(z1[t], z2[-1]) + nt_xent(z2[t], z1[-1])], the last entry nt_xent(z1[-1], z2[-1]).

    This is CoMM's set of terms (groups = modality subsets, the last one all modalities). The G pairs share
    most of their similarity blocks (each group's self-similarities, the anchors' cross-similarities), so
    each block is computed once: 4G - 1 blocks of N x N instead of the 8G - 4 of separate nt_xent calls."""
    u, w = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    n = u.shape[1]
    eye = torch.eye(n, dtype=torch.bool, device=u.device)
    self1 = (u @ u.transpose(1, 2) / temperature).masked_fill(eye, float("-inf"))
    self2 = (w @ w.transpose(1, 2) / temperature).masked_fill(eye, float("-inf"))
    cross1 = u @ w[-1].T / temperature  # [t]: z1[t] against z2's anchor
    cross2 = w[:-1] @ u[-1].T / temperature  # [t]: z2[t] against z1's anchor

    def rows(own: torch.Tensor, cross: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of rows anchored on one batch: candidates are its other rows (`own`, diagonal
        masked) and every row of the other batch (`cross`), the positive on `cross`'s diagonal."""
        logits = torch.cat([own, cross], dim=-1)
        return (torch.logsumexp(logits, dim=-1) - cross.diagonal(dim1=-2, dim2=-1)).mean(dim=-1)

    g = u.shape[0]
    anchor1, anchor2 = self1[-1].expand(g - 1, n, n), self2[-1].expand(g, n, n)
    forward = 0.5 * (rows(self1, cross1) + rows(anchor2, cross1.transpose(1, 2)))  # nt_xent(z1[t], z2[-1])
    backward = 0.5 * (rows(self2[:-1], cross2) + rows(anchor1, cross2.transpose(1, 2)))
    return torch.cat([0.5 * (forward[:-1] + backward), forward[-1:]])


def clip_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric InfoNCE (Radford et al., ICML 2021): cross-entropy over the rows and the columns of
    the scaled cosine-similarity matrix, positives on the diagonal."""
    logits = logit_scale * F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    targets = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
