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


def test_vector_augment_noise_and_masking_rates_and_seeding() -> None:
    from interactions.augment import NO_AUGMENT, VectorAugment

    x = torch.ones(20000, 16)
    augment = VectorAugment(noise_std=0.3, noise_p=0.5, mask_fraction=0.25, mask_p=0.4)
    out = augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(out, augment(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(out, augment(x, torch.Generator().manual_seed(4)))
    zeros = out == 0
    masked_rows = zeros.any(dim=1)
    # Rows are masked with probability mask_p (a masked row of 16 features keeps some zero w.p. 1 - 0.75^16).
    assert masked_rows.float().mean().item() == pytest.approx(0.4 * (1 - 0.75**16), abs=0.02)
    assert zeros[masked_rows].float().mean().item() == pytest.approx(0.25 / (1 - 0.75**16), abs=0.02)
    unmasked = out[~zeros]
    noisy = (unmasked != 1).float().mean().item()
    assert noisy == pytest.approx(0.5, abs=0.02)  # rows with noise: every kept feature moves
    assert (unmasked[unmasked != 1] - 1).std().item() == pytest.approx(0.3, rel=0.05)
    assert torch.equal(NO_AUGMENT(x, torch.Generator().manual_seed(0)), x)
    for knobs, name in (({"noise_std": -1.0}, "noise_std"), ({"mask_p": 1.5}, "mask_p"),
                        ({"noise_p": float("nan")}, "noise_p")):  # fmt: skip
        with pytest.raises(ValueError, match=name):
            VectorAugment(**knobs)
