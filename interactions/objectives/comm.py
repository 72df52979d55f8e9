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

from interactions.losses import nt_xent_against_anchors
from interactions.models import FusedNetwork, ModalityShape, ModelConfig, projection_head, subset_name
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
    trains_on = ("first", "second")

    def __init__(
        self,
        modality_dims: Sequence[ModalityShape],
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
        tokens = self.view_tokens(views)
        z = self.project(self.network.fusion(tokens, self.network.subsets), batch=views.first[0].shape[0])
        return self.weighted(self.subset_terms(z[:, 0], z[:, 1]))

    def view_tokens(self, views: Views) -> list[torch.Tensor]:
        """Both views' tokens, stacked along the batch (the encoders run once for the two views)."""
        return self.network.tokens([torch.cat(pair) for pair in zip(views.first, views.second, strict=True)])

    def project(self, fused: torch.Tensor, batch: int) -> torch.Tensor:
        """(groups, 2 * batch, E) fusion outputs of both views -> (groups, 2, batch, head_out) head outputs.
        The head sees every (group, view) separately, so its BatchNorm statistics are per subset and per
        view (GroupedBatchNorm1d), as in CoMM's code."""
        g = fused.shape[0]
        grouped = fused.view(g * 2, batch, -1).transpose(0, 1)  # batch-first: the head's grouped layout
        return self.head(grouped).transpose(0, 1).reshape(g, 2, batch, -1)

    def subset_terms(self, z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
        """CoMM's n + 1 terms from the head outputs (n + 1, B, D) of the two views, subsets in order."""
        n = len(self.modality_dims)
        values = nt_xent_against_anchors(z1, z2, self.temperature)  # every term in one pass, blocks shared
        return {f"loss_{subset_name(s, n)}": values[t] for t, s in enumerate(self.network.subsets)}

    def weighted(self, terms: dict[str, torch.Tensor], weights: Sequence[float] | None = None) -> dict:
        """`{"loss": weighted mean of the terms, **detached terms}` (CoMM's `weights` by default)."""
        weights = self.weights if weights is None else weights
        total = sum(w * t for w, t in zip(weights, terms.values(), strict=True)) / sum(weights)
        return {"loss": total, **{k: v.detach() for k, v in terms.items()}}

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        return fused_representations(self.network, xs)
