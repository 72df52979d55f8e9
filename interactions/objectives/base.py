"""What every objective is: a module that owns its networks, a loss over two augmented views, and the
representations it offers for probing (the joint one) and for PID scoring (one per modality)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from estimators.validation import check_float
from interactions.models import EncoderNetwork, FusedNetwork, ModalityShape, ModelConfig

VIEW_NAMES = ("clean", "light", "first", "second")


@dataclass
class Views:
    """One batch: the clean modalities, two independently augmented views of them (`first`, `second`), the
    labels, and the `light` view: the pair lightly transformed, as cross-modal objectives align it (CoMM's
    code crops Cross's images at scale 0.5-1); the clean batch where no light transform is set. The trainer
    builds only the views the objective names in `Objective.trains_on`; the others are None, except `light`,
    which then falls back to the clean batch."""

    clean: list[torch.Tensor]
    first: list[torch.Tensor] | None
    second: list[torch.Tensor] | None
    labels: dict[str, torch.Tensor]
    light: list[torch.Tensor] | None = None

    def __post_init__(self) -> None:
        if self.light is None:
            self.light = self.clean


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
    trains_on: ClassVar[tuple[str, ...]] = VIEW_NAMES  # the views its loss reads (see `Views`)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        unknown = [v for v in cls.trains_on if v not in VIEW_NAMES]
        if not cls.trains_on or unknown:
            raise ValueError(
                f"{cls.__name__}.trains_on must name one or more of {', '.join(VIEW_NAMES)}, "
                f"got {cls.trains_on!r}"
            )

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

    def before_step(self, views: Views) -> None:
        """Called by the trainer before each training step's `loss(views)`: updates that are not part of the
        loss (e.g. FactorCL fits its CLUB critics), so that `loss` itself changes nothing."""

    def own_optimizer_states(self) -> dict:
        """States of optimisers the objective keeps besides the trainer's (e.g. FactorCL's CLUB critics'),
        saved with a resumable training state so that resumed training matches uninterrupted training."""
        return {}

    def load_own_optimizer_states(self, states: dict) -> None:
        """Restore what `own_optimizer_states` returned."""

    def check_sample(self, modalities: Sequence[np.ndarray], labels: Mapping[str, np.ndarray]) -> None:
        """Raise ValueError unless the data fit this objective: one array per modality, (n, d) float32 for a
        vector modality of dimension d, (n, 3, H, W) uint8 or float32 for an image modality."""
        if len(modalities) != len(self.modality_dims):
            raise ValueError(
                f"sample must have {len(self.modality_dims)} modalities (the objective's modality_dims), "
                f"got {len(modalities)}"
            )
        for m, (x, shape) in enumerate(zip(modalities, self.modality_dims, strict=True)):
            expected = (shape,) if isinstance(shape, int) else tuple(shape)
            dtypes = ("float32",) if isinstance(shape, int) else ("uint8", "float32")
            if tuple(x.shape[1:]) != expected or x.ndim != len(expected) + 1:
                raise ValueError(
                    f"modality {m + 1} must have shape (n, {', '.join(map(str, expected))}), got {x.shape}"
                )
            if str(x.dtype) not in dtypes:
                raise ValueError(
                    f"modality {m + 1} must be {' or '.join(dtypes)} (as the generators give it), got "
                    f"{x.dtype}: convert it, e.g. x.astype(np.float32)"
                )

    def options(self) -> dict:
        """The objective's own options (JSON-ready), enough to rebuild it with `build_objective`.

        By default: each keyword of the subclass's `__init__` beyond `modality_dims` and `model`, read from
        the attribute of the same name. Override it where an option is stored under another name."""
        names = [
            name
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
            if name not in ("self", "modality_dims", "model")
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        missing = [name for name in names if not hasattr(self, name)]
        if missing:
            raise ValueError(
                f"{type(self).__name__} keeps no attribute for its option(s) {', '.join(missing)}: store "
                "each option under its own name, or override options(), so that a checkpoint can rebuild it"
            )
        return {name: getattr(self, name) for name in names}


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
