"""InfMasking: Wen, Dai et al., "InfMasking: unleashing synergistic information by contrastive multimodal
interactions", NeurIPS 2025 (arXiv 2509.25270).

CoMM (same network, same n + 1 subset terms) plus K randomly token-masked fused views of each augmented
view: every token of every modality is replaced, with probability `mask_ratio`, by one learnable mask token,
and the masked sequences of all modalities are fused. The full fused embedding q = Z'_all of one view is
aligned with the masked embeddings m_1..m_K of the other view through InfoNCE in expectation over the masks,
bounded with a Gaussian moment-generating function (mean mu and covariance Sigma of the K masked embeddings,
divided by K): the positive logit is q.mu / tau + lambda q^T Sigma q / (2 tau^2), negatives are the other
samples' masked means (q.mu_j / tau) and the other samples' full embeddings of the same view (q.q_j / tau),
and the bound adds back lambda q^T Sigma q / (2 tau^2):

    term_mask(' -> '') = mean_i [ -q_i.mu_i / tau + logsumexp(positive_i, negatives_i) ]

so the covariance enters only through the normaliser. All head outputs are L2-normalised. The loss is the mean
of CoMM's n + 1 terms and the symmetric mask term. Defaults (the authors' Trifeature script): mask_ratio 0.7,
n_masks 6, mask_lambda 1, temperature 0.1. `anneal=True` ramps lambda linearly to `mask_lambda` over the
epochs, as the authors' code does (their paper does not describe it); it is off by default. Probed like CoMM.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from estimators.validation import check_float, check_int
from interactions.models import ModalityShape, ModelConfig
from interactions.objectives.base import Views, check_positive
from interactions.objectives.comm import CoMM
from interactions.objectives.registry import register_objective


@register_objective("infmasking")
class InfMasking(CoMM):
    def __init__(
        self,
        modality_dims: Sequence[ModalityShape],
        model: ModelConfig | None = None,
        temperature: float = 0.1,
        mask_ratio: float = 0.7,
        n_masks: int = 6,
        mask_lambda: float = 1.0,
        anneal: bool = False,
    ) -> None:
        super().__init__(modality_dims, model, temperature)
        self.mask_ratio = check_float("mask_ratio", mask_ratio, 0.0)
        if self.mask_ratio >= 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio!r}")
        self.n_masks = check_int("n_masks", n_masks, 2)
        self.mask_lambda = check_positive("mask_lambda", mask_lambda)
        if not isinstance(anneal, bool):
            raise ValueError(f"anneal must be True or False, got {anneal!r}")
        self.anneal = anneal
        self.mask_token = nn.Parameter(0.02 * torch.randn(1, 1, self.model_config.embed_dim))
        self.current_lambda = self.mask_lambda

    def start_epoch(self, epoch: int, epochs: int) -> None:
        self.current_lambda = self.mask_lambda * ((epoch + 1) / epochs if self.anneal else 1.0)

    def masked_fusion(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        """(n_masks, B, E): the full subset fused from `n_masks` independently masked copies of the tokens."""
        k = self.n_masks
        masked = []
        for t in tokens:
            copies = t.repeat(k, 1, 1)
            drop = torch.rand(copies.shape[:2], device=t.device) < self.mask_ratio
            masked.append(torch.where(drop[..., None], self.mask_token.to(t.dtype), copies))
        fused = self.network.fusion(masked, [self.network.subsets[-1]])[0]
        return fused.view(k, tokens[0].shape[0], -1)

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        b, n = views.first[0].shape[0], len(self.modality_dims)
        tokens = self.view_tokens(views)
        fused = self.network.fusion(tokens, self.network.subsets)
        z = self.project(torch.cat([fused, self.masked_fusion(tokens)]), batch=b)
        subsets, masks = z[: n + 1], z[n + 1 :]
        terms = self.subset_terms(subsets[:, 0], subsets[:, 1])
        full = subsets[n]
        terms["loss_mask"] = 0.5 * (
            self.mask_term(full[0], masks[:, 1]) + self.mask_term(full[1], masks[:, 0])
        )
        out = self.weighted(terms, [*self.weights, sum(self.weights) / len(self.weights)])
        return {**out, "mask_lambda": torch.tensor(self.current_lambda)}

    def mask_term(self, anchors: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """Gaussian bound on InfoNCE between full embeddings (B, D) of one view and the masked embeddings
        (K, B, D) of the other, averaged over the batch."""
        tau, lam = self.temperature, self.current_lambda
        q, m = F.normalize(anchors, dim=-1), F.normalize(masked, dim=-1)
        mu = m.mean(dim=0)
        spread = ((m - mu) * q).sum(dim=-1).pow(2).mean(dim=0)  # q^T Sigma q per sample
        eye = torch.eye(len(q), dtype=torch.bool, device=q.device)
        to_means = q @ mu.T / tau
        positive = to_means.diagonal() + 0.5 * lam * spread / tau**2
        negatives = torch.cat(
            [to_means.masked_fill(eye, float("-inf")), (q @ q.T / tau).masked_fill(eye, float("-inf"))], 1
        )
        normaliser = torch.logsumexp(torch.cat([positive[:, None], negatives], 1), dim=1)
        return (normaliser - to_means.diagonal()).mean()
