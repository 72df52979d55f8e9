"""Vector augmentations, applied to whole batches, independently per view and per modality."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from generators.base import check_float


@dataclass(frozen=True)
class VectorAugment:
    """With probability `noise_p` per sample add N(0, noise_std^2) noise; with probability `mask_p` per
    sample zero each feature with probability `mask_fraction`. Defaults follow CoMM's tabular recipe
    (noise 0.1 with p = 0.5) plus feature dropping."""

    noise_std: float = 0.1
    noise_p: float = 0.5
    mask_fraction: float = 0.2
    mask_p: float = 0.5

    def __post_init__(self) -> None:
        check_float("noise_std", self.noise_std, 0.0)
        for name in ("noise_p", "mask_fraction", "mask_p"):
            value = check_float(name, getattr(self, name), 0.0)
            if value > 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        rows = (x.shape[0], 1)
        noisy = torch.rand(rows, generator=generator, device=x.device) < self.noise_p
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = x + noisy * (self.noise_std * noise)
        masked = torch.rand(rows, generator=generator, device=x.device) < self.mask_p
        dropped = torch.rand(x.shape, generator=generator, device=x.device) < self.mask_fraction
        return x.masked_fill(dropped & masked, 0.0)


NO_AUGMENT = VectorAugment(noise_std=0.0, noise_p=0.0, mask_fraction=0.0, mask_p=0.0)


def augment_view(
    xs: Sequence[torch.Tensor], augments: Sequence[VectorAugment], generator: torch.Generator
) -> list[torch.Tensor]:
    """One augmented view: modality m transformed by `augments[m]`."""
    return [aug(x, generator) for aug, x in zip(augments, xs, strict=True)]
