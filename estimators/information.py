"""Plug-in information quantities (bits) of discrete tables and labelled samples."""

from __future__ import annotations

import numpy as np

from estimators.validation import check_codes


def entropy_bits(p: np.ndarray) -> float:
    """Shannon entropy in bits of a probability table (any shape); zero cells contribute nothing."""
    p = np.asarray(p, dtype=float).ravel()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def mutual_information_bits(p: np.ndarray) -> float:
    """I(A; B) in bits for a 2-D table p[a, b]."""
    p = np.asarray(p, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"p must be a 2-D table p[a, b], got {p.ndim} axes")
    return entropy_bits(p.sum(axis=1)) + entropy_bits(p.sum(axis=0)) - entropy_bits(p)


def joint_table(*codes: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Empirical joint distribution of aligned integer arrays: one axis per array, of size `shape` (by
    default each array's max + 1)."""
    if not codes:
        raise ValueError("joint_table needs at least one code array")
    codes = tuple(check_codes(f"codes[{i}]", c) for i, c in enumerate(codes))
    if len({len(c) for c in codes}) != 1:
        raise ValueError("all code arrays must have the same length")
    if any(c.size and c.min() < 0 for c in codes):
        raise ValueError("codes must be nonnegative integers")
    if shape is None:
        shape = tuple(int(c.max()) + 1 for c in codes)
    elif len(shape) != len(codes) or any(c.size and c.max() >= s for c, s in zip(codes, shape, strict=False)):
        raise ValueError(f"shape {shape} does not hold every code")
    counts = np.bincount(np.ravel_multi_index(codes, shape), minlength=int(np.prod(shape)))
    return counts.reshape(shape) / len(codes[0])


def encode(*codes: np.ndarray) -> np.ndarray:
    """Combine aligned integer arrays into one code per row (the joint symbol), 0..n_symbols-1."""
    if not codes:
        raise ValueError("encode needs at least one code array")
    arrays = [check_codes(f"codes[{i}]", c) for i, c in enumerate(codes)]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError("all code arrays must have the same length")
    stacked = np.stack(arrays, axis=1)
    return np.unique(stacked, axis=0, return_inverse=True)[1].ravel()


def plugin_mutual_information_bits(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in I(A; B) in bits from paired samples of two discrete variables."""
    return mutual_information_bits(joint_table(a, b))


def miller_madow_mutual_information_bits(p: np.ndarray, n_samples: int) -> float:
    """I(A; B) in bits of an empirical table p[a, b] of `n_samples` rows, less the Miller-Madow estimate of
    its plug-in bias, (occupied cells - occupied rows - occupied columns + 1) / (2 N ln 2)."""
    p = np.asarray(p, dtype=float)
    occupied = (p > 0).sum() - (p.sum(axis=1) > 0).sum() - (p.sum(axis=0) > 0).sum() + 1
    return mutual_information_bits(p) - float(occupied) / (2.0 * n_samples * np.log(2.0))
