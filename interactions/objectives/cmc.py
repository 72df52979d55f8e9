"""CMC: Tian, Krishnan & Isola, "Contrastive multiview coding", ECCV 2020 (CoMM's baseline for n >= 3).

Per-modality encoders, each followed by a linear head; NT-Xent (temperature 0.1) between the heads of every
pair of modalities of one augmented view, averaged over all n (n - 1) / 2 pairs:

    loss = mean_{i < j} NTX(h_i(g_i(x'_i)), h_j(g_j(x'_j)))

(CoMM's code: linear heads to 256, the average of pairwise NT-Xent losses.) Like Cross it aligns modalities
with each other, so in theory it keeps what they share. Probed: the concatenated encoder outputs; per
modality: each encoder output.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import torch
from torch import nn

from interactions.losses import nt_xent
from interactions.models import EncoderNetwork, ModalityShape, ModelConfig
from interactions.objectives.base import (
    Objective,
    Representations,
    Views,
    check_positive,
    concatenated_representations,
)
from interactions.objectives.registry import register_objective


@register_objective("cmc")
class CMC(Objective):
    trains_on = ("first",)

    def __init__(
        self,
        modality_dims: Sequence[ModalityShape],
        model: ModelConfig | None = None,
        temperature: float = 0.1,
    ) -> None:
        super().__init__(modality_dims, model)
        self.temperature = check_positive("temperature", temperature)
        cfg = self.model_config
        self.encoders = EncoderNetwork(self.modality_dims, cfg)
        self.heads = nn.ModuleList(nn.Linear(cfg.embed_dim, cfg.head_out) for _ in self.modality_dims)

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        z = [head(h) for head, h in zip(self.heads, self.encoders(views.first), strict=True)]
        terms = {
            f"loss_{i + 1}{j + 1}": nt_xent(z[i], z[j], self.temperature)
            for i, j in combinations(range(len(z)), 2)
        }
        total = sum(terms.values()) / len(terms)
        return {"loss": total, **{k: v.detach() for k, v in terms.items()}}

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        return concatenated_representations(self.encoders, xs)
