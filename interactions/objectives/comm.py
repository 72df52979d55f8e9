"""CoMM: Dufumier, Castillo-Navarro et al., "What to align in multimodal contrastive learning?", ICLR 2025.

One fused network (encoders -> tokens -> fusion transformer, CLS output) sees two augmented views X', X''.
From each view it embeds the n + 1 modality subsets {1}, ..., {n}, {all} (a left-out modality's tokens
are dropped; all subsets share one batched fusion call). A shared 3-layer BN projection head maps each
subset separately (so BatchNorm statistics are per subset, as in the official code), and for every subset t

    term_t = 1/2 [ NTX(Z'_t, Z''_all) + NTX(Z''_t, Z'_all) ]

with SimCLR's NT-Xent (intra-view negatives, L2-normalised head outputs, temperature 0.1). The loss is
the weighted mean of the n + 1 terms: equal weights by default; weights (0, ..., 0, 1) give the
fused-only ablation. Probed: the CLS output of all modalities, before the head, without augmentation;
per modality: the single-modality passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from interactions.losses import nt_xent
from interactions.models import FusedNetwork, ModelConfig, projection_head, subset_name
from interactions.objectives.base import (
    Objective,
    Representations,
    Views,
    check_positive,
    fused_representations,
)
from interactions.objectives.registry import register_objective


@register_objective("comm")
class CoMM(Objective):
    def __init__(
        self,
        modality_dims: Sequence[int],
        model: ModelConfig | None = None,
        temperature: float = 0.1,
        weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(modality_dims, model)
        self.temperature = check_positive("temperature", temperature)
        n_terms = len(self.modality_dims) + 1
        weights = [1.0] * n_terms if weights is None else [float(w) for w in weights]
        if len(weights) != n_terms or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"weights must be {n_terms} numbers >= 0 with a positive sum, got {weights!r}")
        self.weights = weights
        cfg = self.model_config
        self.network = FusedNetwork(self.modality_dims, cfg)
        self.head = projection_head(cfg.embed_dim, cfg.head_hidden, cfg.head_out)

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        # Both views go through the encoders and the fusion together; the head sees (subset, view) groups,
        # so its BatchNorm statistics stay per subset and per view (GroupedBatchNorm1d), as in CoMM's code.
        both = self.network([torch.cat(pair) for pair in zip(views.first, views.second, strict=True)])
        s, b = both.shape[0], views.first[0].shape[0]
        z = self.head(both.view(s, 2, b, -1).reshape(2 * s, b, -1)).view(s, 2, b, -1)
        z1, z2 = z[:, 0], z[:, 1]
        n, tau = len(self.modality_dims), self.temperature
        terms = {
            f"loss_{subset_name(s, n)}": 0.5 * (nt_xent(z1[t], z2[-1], tau) + nt_xent(z2[t], z1[-1], tau))
            for t, s in enumerate(self.network.subsets[:-1])
        }
        terms["loss_all"] = nt_xent(
            z1[-1], z2[-1], tau
        )  # both halves of the full term are this symmetric loss
        total = sum(w * t for w, t in zip(self.weights, terms.values(), strict=True)) / sum(self.weights)
        return {"loss": total, **{k: v.detach() for k, v in terms.items()}}

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        return fused_representations(self.network, xs)

    def options(self) -> dict:
        return {"temperature": self.temperature, "weights": self.weights}
