"""A registry of PID estimators of representations, so that estimators plug in like objectives and
generators: each takes the representations of modality 1 and of the other modalities (continuous arrays,
one row per sample) and the discrete labels, and returns the four BROJA atoms in bits, with a 95% interval
per atom where the method has one.

Built in: `representation_pid` (this suite's bias-corrected estimator, defined in `estimators.builtin`)
and the peers of `estimators.peers`. This module imports no estimator's code at its top, so that what an
estimator's leaderboard rows depend on (`interactions.leaderboard.estimator_fingerprint`) is its own code
and these types, not another estimator's.
A third-party estimator registers with `register_estimator(PIDEstimator(...))`, or is discovered through
the entry-point group `interactions.estimators` (a module that registers its estimators when imported, or a
`PIDEstimator` object). No grid run goes through this registry (the grid calls `representation_pid`), so
neither it nor the peers enter the code fingerprint of stored runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType

import numpy as np

ENTRY_POINT_GROUP = "interactions.estimators"
ATOMS = ("redundancy", "unique1", "unique2", "synergy")  # as `estimators.representation_pid.ATOMS`


@dataclass(frozen=True)
class PIDEstimate:
    """Four PID atoms in bits; `intervals` holds a (low, high) 95% interval per atom where the estimator
    gives one (None otherwise)."""

    redundancy: float
    unique1: float
    unique2: float
    synergy: float
    intervals: Mapping[str, tuple[float, float]] | None = None

    @property
    def atoms(self) -> dict[str, float]:
        return {atom: getattr(self, atom) for atom in ATOMS}

    def __post_init__(self) -> None:
        for atom in ATOMS:
            if not math.isfinite(getattr(self, atom)):
                raise ValueError(f"{atom} must be a finite number of bits, got {getattr(self, atom)!r}")
        if self.intervals is not None:
            if set(self.intervals) != set(ATOMS):
                raise ValueError(f"intervals must give one (low, high) per atom ({', '.join(ATOMS)})")
            object.__setattr__(self, "intervals", MappingProxyType(dict(self.intervals)))


Estimate = Callable[..., PIDEstimate]  # estimate(z1, z2, labels, seed=...) -> PIDEstimate


@dataclass(frozen=True)
class PIDEstimator:
    """A named PID estimator: `estimate(z1, z2, labels, seed=0)`, what it is, where it comes from, and its
    settings as the leaderboard shows them. `has_intervals`: it returns a 95% interval per atom (the
    leaderboard then measures its coverage over 20 seeds). `max_samples`: the largest N the leaderboard runs
    it at (None: every N), for an estimator whose cost grows too fast."""

    name: str
    estimate: Estimate
    description: str
    source: str
    settings: Mapping[str, object] = field(default_factory=dict)
    has_intervals: bool = False
    max_samples: int | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not callable(self.estimate):
            raise ValueError(f"estimate must be callable (z1, z2, labels, seed=...), got {self.estimate!r}")
        if self.max_samples is not None and (isinstance(self.max_samples, bool) or self.max_samples < 1):
            raise ValueError(f"max_samples must be None or an integer >= 1, got {self.max_samples!r}")
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def __call__(self, z1: np.ndarray, z2: np.ndarray, labels: np.ndarray, seed: int = 0) -> PIDEstimate:
        result = self.estimate(z1, z2, labels, seed=seed)
        if not isinstance(result, PIDEstimate):
            raise TypeError(f"estimator {self.name!r} returned {type(result).__name__}, not a PIDEstimate")
        return result


_ESTIMATORS: dict[str, PIDEstimator] = {}


def register_estimator(estimator: PIDEstimator) -> PIDEstimator:
    """Make `estimator` selectable by its name (the estimator validation and its leaderboard)."""
    if not isinstance(estimator, PIDEstimator):
        raise TypeError(f"register_estimator needs a PIDEstimator, got {estimator!r}")
    if estimator.name in _ESTIMATORS and _ESTIMATORS[estimator.name] != estimator:
        raise ValueError(f"a PID estimator named {estimator.name!r} is already registered")
    _ESTIMATORS[estimator.name] = estimator
    return estimator


def _load_entry_points() -> None:
    import estimators.peers  # noqa: F401  (the built-in peers register themselves when imported)
    from estimators.builtin import REPRESENTATION_PID

    # Registered here rather than when its module is imported: on every call, like the entry points, so
    # that it is there whenever the others are.
    register_estimator(REPRESENTATION_PID)

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry.load()  # importing the module runs its register_estimator calls
        if isinstance(loaded, PIDEstimator):
            register_estimator(loaded)


def available_estimators() -> list[str]:
    """Registered estimator names: this suite's first, then the peers, then the others as registered."""
    _load_entry_points()
    built_in = ("estimators.builtin", "estimators.peers.")

    def rank(name: str) -> int:
        module = _ESTIMATORS[name].estimate.__module__
        return next((i for i, prefix in enumerate(built_in) if module.startswith(prefix)), len(built_in))

    return sorted(_ESTIMATORS, key=rank)


def pid_estimator(name: str) -> PIDEstimator:
    if name not in _ESTIMATORS:
        _load_entry_points()
    if name not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, _ESTIMATORS))}, got {name!r}")
    return _ESTIMATORS[name]
