"""Shared pieces of every generator: the `Sample` it returns, the `Truth` it declares, knob validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

SPLITS = ("pretrain", "train", "val", "test")


@dataclass(frozen=True)
class Sample:
    """A draw from a generator.

    `modalities` holds one float32 array of shape (n, dim_m) per modality, `labels` one int64 array of
    shape (n,) per task, and `factors` the latent factor values (int64) the draw was made from.
    """

    modalities: tuple[np.ndarray, ...]
    labels: Mapping[str, np.ndarray]
    factors: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.modalities[0])

    @property
    def n_modalities(self) -> int:
        return len(self.modalities)


@dataclass(frozen=True)
class Truth:
    """Exact ground truth of one task.

    `atoms` are the partial-information atoms in bits of (modality-1 factors, ..., modality-M factors;
    label): `redundancy` (held by every modality), `unique1` ... `uniqueM` (held by that modality alone)
    and `synergy` (available only from all modalities together). For two modalities these are the BROJA
    PID atoms. `chance` is the balanced accuracy of a classifier that ignores its input (1 / n_classes),
    `bayes` the Bayes-optimal balanced accuracy given the generator's noise.
    """

    task: str
    atoms: Mapping[str, float]
    n_classes: int
    chance: float
    bayes: float

    @property
    def redundancy(self) -> float:
        return self.atoms["redundancy"]

    @property
    def unique1(self) -> float:
        return self.atoms["unique1"]

    @property
    def unique2(self) -> float:
        return self.atoms["unique2"]

    @property
    def synergy(self) -> float:
        return self.atoms["synergy"]

    def against_rest(self) -> dict[str, float]:
        """The four atoms of (modality 1; all other modalities together; label), as the PID of
        representations is taken: `unique2` is what the rest hold uniquely, the sum of unique2 ... uniqueM.
        Exact when the atoms are additive over independent factors (the factor generators); for two
        modalities these are the atoms themselves."""
        rest = sum(v for k, v in self.atoms.items() if k.startswith("unique") and k != "unique1")
        return {
            "redundancy": self.atoms["redundancy"],
            "unique1": self.atoms["unique1"],
            "unique2": float(rest),
            "synergy": self.atoms["synergy"],
        }

    @property
    def total_bits(self) -> float:
        """I(all modalities; label) in bits: the sum of the atoms."""
        return float(sum(self.atoms.values()))


def binary_entropy(p: float) -> float:
    """h(p) in bits."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return float(-p * math.log2(p) - (1 - p) * math.log2(1 - p))
