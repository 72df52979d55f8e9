"""This suite's PID estimator of representations (`estimators.representation_pid`) as the estimator that
the registry registers as `representation_pid`. It lives apart from the registry, whose types every
estimator imports, so that the peers' leaderboard rows do not depend on its code (nor it on theirs)."""

from __future__ import annotations

import numpy as np

from estimators.registry import PIDEstimate, PIDEstimator
from estimators.representation_pid import representation_pid


def _ours(z1: np.ndarray, z2: np.ndarray, labels: np.ndarray, seed: int = 0) -> PIDEstimate:
    result = representation_pid(z1, z2, labels, seed=seed)
    return PIDEstimate(
        **{atom: estimate.corrected for atom, estimate in result.atoms.items()},
        intervals={atom: (estimate.low, estimate.high) for atom, estimate in result.atoms.items()},
    )


REPRESENTATION_PID = PIDEstimator(
    "representation_pid",
    _ours,
    "this suite's estimator: codes of the label posteriors chosen by Miller-Madow corrected information, "
    "exact BROJA, bootstrap bias correction and intervals widened by the discretisation loss",
    "estimators.representation_pid (README: PID of data and representations)",
    {"n_bootstrap": 20, "discretizer": "posterior"},
    has_intervals=True,
)
