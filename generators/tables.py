"""Canonical discrete distributions p[x1, x2, y] with their exact BROJA PID, random tables, and sampling.

Values (bits, R/U1/U2/S) follow Bertschinger et al. (2014) and the canonical bivariate examples:
XOR 0/0/0/1, AND h(1/4)-1/2 / 0 / 0 / 1/2, UNQ (y copies x2) 0/0/1/0, COPY (y = (x1, x2)) 0/1/1/0,
RDN (x1 = x2 = y) 1/0/0/0, RDN-XOR (a shared bit and an XOR bit) 1/0/0/1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from estimators.validation import check_float, check_int
from generators.base import binary_entropy


@dataclass(frozen=True)
class CanonicalTable:
    """A named exact table and its PID atoms in bits."""

    name: str
    table: np.ndarray
    redundancy: float
    unique1: float
    unique2: float
    synergy: float


def _table(shape: tuple[int, int, int], rule: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Uniform (x1, x2) over `shape[:2]` with y = rule(x1, x2)."""
    x1, x2 = np.indices(shape[:2]).reshape(2, -1)
    p = np.zeros(shape)
    np.add.at(p, (x1, x2, rule(x1, x2)), 1.0)
    return p / p.sum()


def xor() -> CanonicalTable:
    return CanonicalTable("xor", _table((2, 2, 2), np.bitwise_xor), 0.0, 0.0, 0.0, 1.0)


def and_() -> CanonicalTable:
    return CanonicalTable("and", _table((2, 2, 2), np.bitwise_and), binary_entropy(0.25) - 0.5, 0.0, 0.0, 0.5)


def unq() -> CanonicalTable:
    return CanonicalTable("unq", _table((2, 2, 2), lambda a, b: b), 0.0, 0.0, 1.0, 0.0)


def copy() -> CanonicalTable:
    return CanonicalTable("copy", _table((2, 2, 4), lambda a, b: 2 * a + b), 0.0, 1.0, 1.0, 0.0)


def rdn() -> CanonicalTable:
    p = np.zeros((2, 2, 2))
    p[0, 0, 0] = p[1, 1, 1] = 0.5
    return CanonicalTable("rdn", p, 1.0, 0.0, 0.0, 0.0)


def rdn_xor() -> CanonicalTable:
    """x1 = (r, a), x2 = (r, b), y = (r, a xor b) with r, a, b independent uniform bits."""
    r, a, b = np.indices((2, 2, 2)).reshape(3, -1)
    p = np.zeros((4, 4, 4))
    np.add.at(p, (2 * r + a, 2 * r + b, 2 * r + (a ^ b)), 1.0)
    return CanonicalTable("rdn_xor", p / p.sum(), 1.0, 0.0, 0.0, 1.0)


CANONICAL: dict[str, Callable[[], CanonicalTable]] = {
    "xor": xor,
    "and": and_,
    "unq": unq,
    "copy": copy,
    "rdn": rdn,
    "rdn_xor": rdn_xor,
}


def dirichlet_table(shape: tuple[int, int, int], alpha: float = 1.0, seed: int = 0) -> np.ndarray:
    """A random table p[x1, x2, y] ~ Dirichlet(alpha) over all cells."""
    if len(shape) != 3:
        raise ValueError(f"shape must have 3 entries (|X1|, |X2|, |Y|), got {shape!r}")
    for name, size in zip(("|X1|", "|X2|", "|Y|"), shape, strict=True):
        check_int(f"shape {name}", size, 1)
    check_float("alpha", alpha, 0.0, strict=True)
    check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(int(np.prod(shape)), alpha)).reshape(shape)


def sample_table(p: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Draw `n` observations from a table p[x1, ..., y]: one int64 array per axis."""
    p = np.asarray(p, dtype=float)
    if p.ndim < 2 or np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-9):
        raise ValueError("p must be a table of nonnegative probabilities with at least 2 axes that sums to 1")
    check_int("n", n, 1)
    check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    flat = p.ravel()
    cells = rng.choice(flat.size, size=n, p=flat / flat.sum())
    return tuple(np.asarray(a, dtype=np.int64) for a in np.unravel_index(cells, p.shape))
