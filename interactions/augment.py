"""Vector and image augmentations, applied to whole batches, independently per view and per modality."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from estimators.validation import check_float
from interactions.models.encoders import unit_range


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if not (len(value) == 2 and low <= value[0] <= value[1] <= high):
        raise ValueError(f"{name} must be (min, max) with {low} <= min <= max <= {high}, got {value!r}")


def _check_probability(name: str, value: float) -> None:
    if check_float(name, value, 0.0) > 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


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
            _check_probability(name, getattr(self, name))

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        rows = (x.shape[0], 1)
        noisy = torch.rand(rows, generator=generator, device=x.device) < self.noise_p
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = x + noisy * (self.noise_std * noise)
        masked = torch.rand(rows, generator=generator, device=x.device) < self.mask_p
        dropped = torch.rand(x.shape, generator=generator, device=x.device) < self.mask_fraction
        return x.masked_fill(dropped & masked, 0.0)


NO_AUGMENT = VectorAugment(noise_std=0.0, noise_p=0.0, mask_fraction=0.0, mask_p=0.0)


@dataclass(frozen=True)
class ImageAugment:
    """SimCLR's image recipe (Chen et al., ICML 2020) as CoMM uses it, on whole batches of (B, 3, H, W)
    images (uint8 or float in [0, 1]; the output is float): random resized crop (area `crop_scale`, aspect
    `crop_ratio`), horizontal flip (`flip_p`), colour jitter with probability `jitter_p` (brightness,
    contrast, saturation factors in 1 +/- the knob, hue shift in +/- `hue` turns), grayscale (`grayscale_p`)
    and Gaussian blur (`blur_p`, sigma in `blur_sigma` pixels at 224 px, scaled with the image size).
    `color_jitter=False` leaves colours alone (Trifeature's synergy attribute is a colour)."""

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    color_jitter: bool = True
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)

    def __post_init__(self) -> None:
        _check_range("crop_scale", self.crop_scale, 1e-3, 1.0)
        _check_range("crop_ratio", self.crop_ratio, 1e-2, 1e2)
        _check_range("blur_sigma", self.blur_sigma, 0.0, 100.0)
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p"):
            _check_probability(name, getattr(self, name))
        for name in ("brightness", "contrast", "saturation"):
            if not 0.0 <= check_float(name, getattr(self, name), 0.0) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 0.0 <= check_float("hue", self.hue, 0.0) <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {self.hue!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = unit_range(x)

        def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
            u = torch.rand((x.shape[0], *shape), generator=generator, device=x.device)
            return low + (high - low) * u

        def coin(p: float) -> torch.Tensor:
            return torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device) < p

        x = self._crop_flip(x, uniform)
        if self.color_jitter:
            x = torch.where(coin(self.jitter_p), self._jitter(x, uniform), x)
            x = torch.where(coin(self.grayscale_p), _gray(x).expand_as(x), x)
        return torch.where(coin(self.blur_p), self._blur(x, uniform), x)

    def _crop_flip(self, x: torch.Tensor, uniform) -> torch.Tensor:
        area = uniform(*self.crop_scale)
        ratio = torch.exp(uniform(math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1])))
        width, height = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)
        cx, cy = uniform(-1.0, 1.0) * (1 - width), uniform(-1.0, 1.0) * (1 - height)
        flip = torch.where(uniform(0.0, 1.0) < self.flip_p, -1.0, 1.0)
        zero = torch.zeros_like(width)
        theta = torch.stack([torch.stack([width * flip, zero, cx], 1), torch.stack([zero, height, cy], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def _jitter(self, x: torch.Tensor, uniform) -> torch.Tensor:
        def factor(knob: float) -> torch.Tensor:
            return uniform(1 - knob, 1 + knob, 1, 1, 1)

        x = (x * factor(self.brightness)).clamp(0, 1)
        mean = _gray(x).mean(dim=(2, 3), keepdim=True)
        x = ((x - mean) * factor(self.contrast) + mean).clamp(0, 1)
        gray = _gray(x)
        x = ((x - gray) * factor(self.saturation) + gray).clamp(0, 1)
        return _rotate_hue(x, uniform(-self.hue, self.hue, 1, 1) * 2 * math.pi).clamp(0, 1)

    def _blur(self, x: torch.Tensor, uniform) -> torch.Tensor:
        b, c, h, w = x.shape
        sigma = uniform(*self.blur_sigma) * (h / 224)
        radius = max(1, math.ceil(3 * self.blur_sigma[1] * h / 224))
        offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-0.5 * (offsets[None] / sigma.clamp(min=1e-3)[:, None]) ** 2)
        kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B * C, 2r + 1)
        flat = F.pad(x.reshape(1, b * c, h, w), (radius,) * 4, mode="reflect")
        flat = F.conv2d(flat, kernel[:, None, :, None], groups=b * c)
        flat = F.conv2d(flat, kernel[:, None, None, :], groups=b * c)
        return flat.view(b, c, h, w)


LIGHT_CROP = ImageAugment(crop_scale=(0.5, 1.0), flip_p=0.0, color_jitter=False, blur_p=0.0)
"""The light transform CoMM's code gives cross-modal baselines on images: a random resized crop of area
0.5-1 and nothing else (their `Views.light`)."""


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, (B, 1, H, W)."""
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _rotate_hue(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate chroma by `angle` (B, 1, 1) radians in YIQ space (a linear approximation of a hue shift)."""
    yiq = _YIQ.to(x)
    cos, sin = angle.cos()[:, 0, 0], angle.sin()[:, 0, 0]
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rotation = torch.stack(
        [
            torch.stack([one, zero, zero], 1),
            torch.stack([zero, cos, -sin], 1),
            torch.stack([zero, sin, cos], 1),
        ],
        1,
    )
    matrix = torch.linalg.inv(yiq) @ rotation @ yiq  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", matrix, x)


Augment = VectorAugment | ImageAugment


def augment_view(
    xs: Sequence[torch.Tensor], augments: Sequence[Augment], generator: torch.Generator
) -> list[torch.Tensor]:
    """One augmented view: modality m transformed by `augments[m]`."""
    return [aug(x, generator) for aug, x in zip(augments, xs, strict=True)]
