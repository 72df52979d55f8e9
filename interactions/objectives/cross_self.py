"""Cross+Self (SLIP-like; CoMM's and FactorCL's baseline): Cross plus SimCLR within each modality.

loss = cross_weight * CLIP(h_1(g_1(x_1)), ..., h_n(g_n(x_n)))  [light view, learnable logit scale, mean
                                                                 over pairs]
     + ssl_weight * mean_m NTX(h_m(g_m(x'_m)), h_m(g_m(x''_m)))  [two augmented views, temperature 0.1]

with one 3-layer BN projection head h_m per modality shared by both terms; `cross_weight` and `ssl_weight`
default to 1. `cross_weight` is the alignment strength ("to align or not"): 0 trains the two SimCLR terms
alone, a large value approaches Cross.
Probed: the concatenated encoder outputs; per modality: each encoder output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from estimators.validation import check_float
from interactions.losses import nt_xent
from interactions.models import EncoderNetwork, ModalityShape, ModelConfig, projection_head
from interactions.objectives.base import (
    Objective,
    Representations,
    Views,
    check_positive,
    concatenated_representations,
)
from interactions.objectives.cross import LogitScale, pairwise_clip
from interactions.objectives.registry import register_objective


@register_objective("cross_self")
class CrossSelf(Objective):
    trains_on = ("light", "first", "second")

    def __init__(
        self,
        modality_dims: Sequence[ModalityShape],
        model: ModelConfig | None = None,
        ssl_weight: float = 1.0,
        temperature: float = 0.1,
        cross_weight: float = 1.0,
    ) -> None:
        super().__init__(modality_dims, model)
        self.cross_weight = check_float("cross_weight", cross_weight, 0.0)
        self.ssl_weight = check_positive("ssl_weight", ssl_weight)
        self.temperature = check_positive("temperature", temperature)
        cfg = self.model_config
        self.encoders = EncoderNetwork(self.modality_dims, cfg)
        self.heads = nn.ModuleList(
            projection_head(cfg.embed_dim, cfg.head_hidden, cfg.head_out) for _ in self.modality_dims
        )
        self.logit_scale = LogitScale()

    def _project(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [h(z) for h, z in zip(self.heads, self.encoders(xs), strict=True)]

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        scale = self.logit_scale()
        cross = pairwise_clip(self._project(views.light), scale)
        selfs = [
            nt_xent(a, b, self.temperature)
            for a, b in zip(self._project(views.first), self._project(views.second), strict=True)
        ]
        self_term = sum(selfs) / len(selfs)
        return {
            "loss": self.cross_weight * cross + self.ssl_weight * self_term,
            "loss_cross": cross.detach(),
            **{f"loss_self{m + 1}": s.detach() for m, s in enumerate(selfs)},
        }

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        return concatenated_representations(self.encoders, xs)
