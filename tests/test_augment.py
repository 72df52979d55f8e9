"""Augmentations: vector and image, batched, seeded, validated."""

from __future__ import annotations

import pytest
import torch

from generators import TrifeatureGenerator
from interactions.augment import ImageAugment


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.as_tensor(TrifeatureGenerator().sample(32, seed=0).modalities[0])


def test_image_augment_is_seeded_and_stays_in_range(images: torch.Tensor) -> None:
    augment = ImageAugment()
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    c = augment(images, torch.Generator().manual_seed(2))
    assert a.shape == images.shape and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert not torch.allclose(a, images.float() / 255, atol=0.05)


def test_image_augment_without_its_transforms_is_the_identity(images: torch.Tensor) -> None:
    still = ImageAugment(
        crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, color_jitter=False, blur_p=0.0
    )
    out = still(images, torch.Generator().manual_seed(0))
    assert torch.allclose(out, images.float() / 255, atol=1e-5)
    flipped = ImageAugment(
        crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=1.0, color_jitter=False, blur_p=0.0
    )
    assert torch.allclose(flipped(images, torch.Generator()), images.float().flip(-1) / 255, atol=1e-5)


def test_color_jitter_off_keeps_hues(images: torch.Tensor) -> None:
    """Without colour jitter and grayscale, crops and blur only resample: a pure-red figure stays red."""
    x = torch.full((4, 3, 32, 32), 0.5)
    x[:, 0, 8:24, 8:24], x[:, 1:, 8:24, 8:24] = 1.0, 0.0
    out = ImageAugment(color_jitter=False, crop_scale=(0.5, 1.0))(x, torch.Generator().manual_seed(0))
    figure = out[:, 0] > 0.75
    assert figure.any() and (out[:, 1][figure] < 0.25).all()


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("crop_scale", (0.5, 0.1)),
        ("flip_p", 1.5),
        ("hue", 0.7),
        ("brightness", 2.0),
        ("blur_sigma", (-1.0, 1.0)),
    ],
)
def test_invalid_image_knobs_raise(knob: str, value: object) -> None:
    with pytest.raises(ValueError, match=knob):
        ImageAugment(**{knob: value})
