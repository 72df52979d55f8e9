"""Cross: CLIP-style cross-modal contrastive learning (Radford et al., ICML 2021), as CoMM's baseline.

Per-modality MLP encoders, each followed by a bias-free linear projection; CLIP's symmetric InfoNCE
between the projections of the `light` view (the clean pair for vectors; images cropped at scale 0.5-1 in
the grid, as CoMM's code trains it), with a learnable logit scale initialised at
1/0.07 and clamped at 100. For n > 2 modalities, the mean over all modality pairs. Keeps redundancy only,
in theory. Probed: the concatenated encoder outputs; per modality: each encoder output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import torch
from torch import nn

from interactions.losses import clip_loss
from interactions.models import EncoderNetwork, ModalityShape, ModelConfig
from interactions.objectives.base import Objective, Representations, Views, concatenated_representations
from interactions.objectives.registry import register_objective

MAX_LOGIT_SCALE = 100.0


class LogitScale(nn.Module):
    """exp(parameter), initialised at 1/0.07 and clamped at 100."""

    def __init__(self) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=MAX_LOGIT_SCALE)


def pairwise_clip(projections: list[torch.Tensor], scale: torch.Tensor) -> torch.Tensor:
    """Mean CLIP loss over all modality pairs."""
    pairs = list(combinations(range(len(projections)), 2))
    return sum(clip_loss(projections[i], projections[j], scale) for i, j in pairs) / len(pairs)


@register_objective("cross")
class Cross(Objective):
    trains_on = ("light",)

    def __init__(self, modality_dims: Sequence[ModalityShape], model: ModelConfig | None = None) -> None:
        super().__init__(modality_dims, model)
        cfg = self.model_config
        self.encoders = EncoderNetwork(self.modality_dims, cfg)
        self.projections = nn.ModuleList(
            nn.Linear(cfg.embed_dim, cfg.head_out, bias=False) for _ in self.modality_dims
        )
        self.logit_scale = LogitScale()

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        projected = [p(h) for p, h in zip(self.projections, self.encoders(views.light), strict=True)]
        scale = self.logit_scale()
        return {"loss": pairwise_clip(projected, scale), "logit_scale": scale.detach()}

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        return concatenated_representations(self.encoders, xs)
