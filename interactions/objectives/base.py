"""What every objective is: a module that owns its networks, a loss over two augmented views, and the
representations it offers for probing (the joint one) and for PID scoring (one per modality)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from estimators.validation import check_float
from interactions.models import EncoderNetwork, FusedNetwork, ModalityShape, ModelConfig


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
    `__init__(modality_dims, model, **options)`, and implement `loss` and `represent`. `modality_dims` has one
    entry per modality: an int for a vector modality, (3, H, W) for an RGB image modality."""

    name: ClassVar[str] = ""
    trainable: ClassVar[bool] = True

    def __init__(self, modality_dims: Sequence[ModalityShape], model: ModelConfig | None = None) -> None:
        super().__init__()
        self.modality_dims = [_modality_shape(d) for d in modality_dims]
        if len(self.modality_dims) < 2 or None in self.modality_dims:
            raise ValueError(
                "modality_dims must list >= 2 modality shapes (a positive vector dimension, or (3, H, W) for "
                f"RGB images), got {list(modality_dims)!r}"
            )
        self.model_config = model if model is not None else ModelConfig()

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        """`{"loss": scalar, **diagnostics}` for one batch."""
        raise NotImplementedError

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        raise NotImplementedError

    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Called by the trainer before epoch `epoch` (0-based) of `epochs`, e.g. to anneal a weight."""

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


def _modality_shape(shape: object) -> ModalityShape | None:
    """An int d >= 1, or a (3, H, W) tuple of positive ints (a list is accepted, as JSON gives it)."""
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool) and shape >= 1:
        return int(shape)
    if isinstance(shape, tuple | list) and len(shape) == 3 and shape[0] == 3:
        if all(isinstance(s, int | np.integer) and s >= 1 for s in shape):
            return tuple(int(s) for s in shape)
    return None


def check_positive(name: str, value: float) -> float:
    return check_float(name, value, 0.0, strict=True)
