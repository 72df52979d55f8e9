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


def clip_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric InfoNCE (Radford et al., ICML 2021): cross-entropy over the rows and the columns of
    the scaled cosine-similarity matrix, positives on the diagonal."""
    logits = logit_scale * F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    targets = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
