"""Random: an untrained network of either architecture, the baseline every score is read against.

`architecture="fused"` is CoMM's fused network at initialisation (probed like CoMM); `"encoders"` the
per-modality encoders at initialisation (probed like Cross). A random fused network already makes an XOR
label partly linearly decodable, so a fused objective's synergy score means little without this.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from interactions.models import EncoderNetwork, FusedNetwork, ModalityShape, ModelConfig
from interactions.objectives.base import (
    Objective,
    Representations,
    Views,
    concatenated_representations,
    fused_representations,
)
from interactions.objectives.registry import register_objective

ARCHITECTURES = ("fused", "encoders")


@register_objective("random")
class Random(Objective):
    trainable = False

    def __init__(
        self,
        modality_dims: Sequence[ModalityShape],
        model: ModelConfig | None = None,
        architecture: str = "fused",
    ) -> None:
        super().__init__(modality_dims, model)
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {', '.join(map(repr, ARCHITECTURES))}, got {architecture!r}"
            )
        self.architecture = architecture
        network = FusedNetwork if architecture == "fused" else EncoderNetwork
        self.network = network(self.modality_dims, self.model_config)

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        raise RuntimeError("the random objective is not trained")

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        if self.architecture == "fused":
            return fused_representations(self.network, xs)
        return concatenated_representations(self.network, xs)
