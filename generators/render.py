"""Procedural Trifeature images (after Hermann & Lampinen, NeurIPS 2020): 10 shapes, textures and colours.

A shape is drawn from an implicit template in [-1, 1]^2, rotated by a random angle in [-45, 45) degrees and
placed at a random position; an independently rotated and shifted binary texture modulates it, the colour
is multiplied in, and the background is grey (0.5). Everything is numpy on whole batches of images; small
images are rendered at twice the size and box-averaged (anti-aliasing). Renders are deterministic in their
parameters and cached on disk, compressed, under a key that hashes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

SHAPES = (
    "triangle", "square", "plus", "circle", "tee", "rhombus", "pentagon", "star", "fivesquare", "trapezoid",
)  # fmt: skip
TEXTURES = ("solid", "stripes", "grid", "hexgrid", "dots", "noise", "triangles", "zigzags", "rain", "pluses")
COLOURS = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 0.8, 0.0),
    "blue": (0.0, 0.2, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "pink": (1.0, 0.45, 0.75),
    "cyan": (0.0, 1.0, 1.0),
    "purple": (0.55, 0.0, 0.75),
    "ocean": (0.0, 0.45, 0.55),
    "orange": (1.0, 0.55, 0.0),
    "white": (1.0, 1.0, 1.0),
}
MIN_SIZE, MAX_SIZE = 32, 224
RENDER_VERSION = 1  # bump when the pictures change, so that cached renders are not reused
SHAPE_HALF_WIDTH = 64 / 224  # the 128-px template on a 224-px canvas, as in CoMM's renders
DARK = 0.3  # the texture's "off" level: colour x 0.3


def _polygon(u: np.ndarray, v: np.ndarray, corners: list[tuple[float, float]]) -> np.ndarray:
    """Inside a convex polygon given counter-clockwise (in (u, v) with v pointing down)."""
    inside = np.ones(u.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        inside &= (x1 - x0) * (v - y0) - (y1 - y0) * (u - x0) >= 0
    return inside


def _regular(n: int, radius: float, start: float = -np.pi / 2) -> list[tuple[float, float]]:
    angles = start + 2 * np.pi * np.arange(n) / n
    return [(radius * np.cos(a), radius * np.sin(a)) for a in angles]


def shape_mask(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of template `shape` at template coordinates (u, v)."""
    name = SHAPES[shape]
    au, av = np.abs(u), np.abs(v)
    if name == "triangle":
        return _polygon(u, v, [(0.0, -0.9), (0.95, 0.75), (-0.95, 0.75)])
    if name == "square":
        return np.maximum(au, av) <= 0.72
    if name == "plus":
        return ((au <= 0.28) & (av <= 0.9)) | ((av <= 0.28) & (au <= 0.9))
    if name == "circle":
        return u * u + v * v <= 0.85**2
    if name == "tee":
        return ((v >= -0.9) & (v <= -0.35) & (au <= 0.9)) | ((au <= 0.28) & (av <= 0.9))
    if name == "rhombus":
        return au / 0.7 + av / 0.95 <= 1.0
    if name == "pentagon":
        return _polygon(u, v, _regular(5, 0.9))
    if name == "star":
        radius = np.hypot(u, v)
        phase = np.mod(np.arctan2(v, u) + np.pi / 2, 2 * np.pi / 5) / (2 * np.pi / 5)  # 0..1 per point
        return radius <= 0.38 + (0.95 - 0.38) * np.abs(1 - 2 * phase)
    if name == "fivesquare":
        centres = [(0.0, 0.0), (-0.6, -0.6), (0.6, -0.6), (-0.6, 0.6), (0.6, 0.6)]
        return np.logical_or.reduce([(np.abs(u - a) <= 0.28) & (np.abs(v - b) <= 0.28) for a, b in centres])
    if name == "trapezoid":
        return _polygon(u, v, [(-0.5, -0.6), (0.5, -0.6), (0.95, 0.6), (-0.95, 0.6)])
    raise ValueError(f"shape must be an integer in [0, {len(SHAPES) - 1}], got {shape!r}")


def texture_pattern(texture: int, x: np.ndarray, y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Binary pattern of `texture` at texture coordinates (x, y), in periods. `noise` (same shape) feeds
    the `noise` texture."""
    name = TEXTURES[texture]
    fx, fy = np.mod(x, 1.0), np.mod(y, 1.0)
    if name == "solid":
        return np.ones(x.shape, dtype=bool)
    if name == "stripes":
        return fy < 0.5
    if name == "grid":
        return (fx < 0.25) | (fy < 0.25)
    if name == "hexgrid":  # the three line families of a hexagonal lattice
        lines = [np.mod(x * np.cos(a) + y * np.sin(a), 1.0) < 0.18 for a in (0.0, np.pi / 3, 2 * np.pi / 3)]
        return np.logical_or.reduce(lines)
    if name == "dots":
        return (fx - 0.5) ** 2 + (fy - 0.5) ** 2 < 0.3**2
    if name == "noise":
        return noise
    if name == "triangles":  # a checkerboard of triangles: squares cut along their diagonal
        return (np.floor(x) + np.floor(y) + (fx > fy)) % 2 == 0
    if name == "zigzags":
        return np.mod(y + 0.5 * np.abs(2 * fx - 1), 1.0) < 0.45
    if name == "rain":  # short dashes on staggered rows
        row = np.floor(y)
        return (fy < 0.35) & (np.mod(x / 2 + 0.5 * row, 1.0) < 0.3)
    if name == "pluses":
        cu, cv = np.abs(fx - 0.5), np.abs(fy - 0.5)
        return ((cu < 0.1) & (cv < 0.35)) | ((cv < 0.1) & (cu < 0.35))
    raise ValueError(f"texture must be an integer in [0, {len(TEXTURES) - 1}], got {texture!r}")


def render(
    shapes: np.ndarray,
    textures: np.ndarray,
    colours: np.ndarray,
    size: int,
    seed: int,
    texture_period: float = 1 / 6,
    chunk: int = 256,
) -> np.ndarray:
    """Images (n, 3, size, size) uint8 of the given attribute indices; pose, placement, texture angle and
    phase are drawn from `seed` (the same arguments give the same bytes)."""
    shapes, textures, colours = (np.asarray(a, dtype=np.int64) for a in (shapes, textures, colours))
    n = len(shapes)
    rng = np.random.default_rng(np.random.SeedSequence([seed, RENDER_VERSION]))
    angle = np.deg2rad(rng.integers(-45, 45, n))
    margin = SHAPE_HALF_WIDTH * 1.05
    centre = rng.uniform(margin, 1 - margin, (n, 2))
    texture_angle = rng.uniform(0, np.pi, n)
    texture_shift = rng.uniform(0, 1, (n, 2))
    noise_seeds = rng.integers(0, 2**32, n)
    scale = 2 if size < 96 else 1
    full = size * scale
    grid = (np.arange(full) + 0.5) / full
    py, px = np.meshgrid(grid, grid, indexing="ij")
    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for start in range(0, n, chunk):
        index = np.arange(start, min(n, start + chunk))
        dx = px[None] - centre[index, 0, None, None]
        dy = py[None] - centre[index, 1, None, None]
        cos, sin = np.cos(angle[index])[:, None, None], np.sin(angle[index])[:, None, None]
        u = (cos * dx + sin * dy) / SHAPE_HALF_WIDTH
        v = (-sin * dx + cos * dy) / SHAPE_HALF_WIDTH
        tcos, tsin = np.cos(texture_angle[index])[:, None, None], np.sin(texture_angle[index])[:, None, None]
        tx = (tcos * px + tsin * py) / texture_period + texture_shift[index, 0, None, None]
        ty = (-tsin * px + tcos * py) / texture_period + texture_shift[index, 1, None, None]
        mask = np.zeros(u.shape, dtype=bool)
        pattern = np.zeros(u.shape, dtype=bool)
        for k in np.unique(shapes[index]):
            rows = shapes[index] == k
            mask[rows] = shape_mask(int(k), u[rows], v[rows])
        for k in np.unique(textures[index]):
            rows = np.flatnonzero(textures[index] == k)
            noise = _block_noise(noise_seeds[index[rows]], full) if TEXTURES[k] == "noise" else None
            pattern[rows] = texture_pattern(int(k), tx[rows], ty[rows], noise)
        level = np.where(pattern, 1.0, DARK).astype(np.float32)
        rgb = palette[colours[index]][:, :, None, None] * level[:, None]
        image = np.where(mask[:, None], rgb, np.float32(0.5))
        if scale > 1:
            image = image.reshape(len(index), 3, size, scale, size, scale).mean(axis=(3, 5))
        out[index] = np.round(image * 255).astype(np.uint8)
    return out


def _block_noise(seeds: np.ndarray, full: int, blocks: int = 16) -> np.ndarray:
    """Per-image binary noise on a blocks x blocks grid, upsampled to full x full."""
    cells = np.stack([np.random.default_rng(s).random((blocks, blocks)) < 0.5 for s in seeds])
    index = np.arange(full) * blocks // full
    return cells[:, index][:, :, index]


def cache_dir() -> Path:
    """Where renders are cached: $INTERACTIONS_CACHE, else ~/.cache/interactions."""
    return Path(os.environ.get("INTERACTIONS_CACHE", Path.home() / ".cache" / "interactions"))


def cached_render(
    shapes: np.ndarray,
    textures: np.ndarray,
    colours: np.ndarray,
    size: int,
    seed: int,
    texture_period: float = 1 / 6,
) -> np.ndarray:
    """`render` through a compressed on-disk cache keyed by every argument (written atomically)."""
    key = {
        "version": RENDER_VERSION,
        "size": size,
        "seed": seed,
        "texture_period": texture_period,
        "attributes": hashlib.sha256(
            np.stack([shapes, textures, colours]).astype(np.int64).tobytes()
        ).hexdigest(),
    }
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    path = cache_dir() / "trifeature" / f"{name}.npz"
    if path.exists():
        with np.load(path) as stored:
            return stored["images"]
    images = render(shapes, textures, colours, size, seed, texture_period)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, images=images)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return images
