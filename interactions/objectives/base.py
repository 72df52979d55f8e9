"""What every objective is: a module that owns its networks, a loss over two augmented views, and the
representations it offers for probing (the joint one) and for PID scoring (one per modality)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from generators.base import check_float
from interactions.models import EncoderNetwork, FusedNetwork, ModelConfig


@dataclass
class Views:
    """One batch: the clean modalities, two independently augmented views of them, and the labels."""

    clean: list[torch.Tensor]
    first: list[torch.Tensor]
    second: list[torch.Tensor]
    labels: dict[str, torch.Tensor]


@dataclass
class Representations:
    """`joint` is what the objective offers for probing; `per_modality[m]` what modality m alone yields."""

    joint: torch.Tensor
    per_modality: list[torch.Tensor]


class Objective(nn.Module):
    """Base class. Subclasses set `name` (through `register_objective`), build their networks in
    `__init__(modality_dims, model, **options)`, and implement `loss` and `represent`."""

    name: ClassVar[str] = ""
    trainable: ClassVar[bool] = True

    def __init__(self, modality_dims: Sequence[int], model: ModelConfig | None = None) -> None:
        super().__init__()
        if len(modality_dims) < 2 or any(int(d) < 1 for d in modality_dims):
            raise ValueError(f"modality_dims must list >= 2 positive dimensions, got {list(modality_dims)!r}")
        self.modality_dims = [int(d) for d in modality_dims]
        self.model_config = model if model is not None else ModelConfig()

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        """`{"loss": scalar, **diagnostics}` for one batch."""
        raise NotImplementedError

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        raise NotImplementedError

    def options(self) -> dict:
        """The objective's own options (JSON-ready), enough to rebuild it with `build_objective`."""
        return {}


def fused_representations(network: FusedNetwork, xs: Sequence[torch.Tensor]) -> Representations:
    """The CLS output of all modalities (pre-head) and the single-modality passes."""
    out = network(xs)
    return Representations(joint=out[-1], per_modality=list(out[:-1]))


def concatenated_representations(encoders: EncoderNetwork, xs: Sequence[torch.Tensor]) -> Representations:
    """The concatenated encoder outputs and each encoder's output."""
    per_modality = encoders(xs)
    return Representations(joint=torch.cat(per_modality, dim=1), per_modality=per_modality)


def check_positive(name: str, value: float) -> float:
    return check_float(name, value, 0.0, strict=True)
