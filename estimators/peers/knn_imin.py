"""A nearest-neighbour PID for continuous sources and a discrete label, after Barà, Antonacci, Iovino, Lazic
and Faes (arXiv 2409.13506, 2024): the information each source gives about each label state (the specific
information I(Z; Y=y) = KL(p(z | y) || p(z))) is estimated by nearest neighbours, and the decomposition is
Williams and Beer's: redundancy R = sum_y p(y) min(I(Z1; Y=y), I(Z2; Y=y)), U_i = I(Z_i; Y) - R, and
S = I(Z1, Z2; Y) - R - U1 - U2.

Each specific information is Ross's mixed discrete/continuous estimator (PLoS ONE 2014) restricted to one
label state: psi(N) - psi(N_y) + psi(k) - <psi(m_i)> over the rows of state y, where m_i counts the rows of
any label within the distance (max-norm, on standardised features) to row i's k-th neighbour of its own
label; the mean over states weighted by p(y) is Ross's I(Z; Y). Implemented from the papers (Barà et al.'s
code is a MATLAB toolbox). No discretisation and no interval.

Where it breaks, by construction: it is not BROJA. Williams and Beer's redundancy counts information about
the same label *state* as shared even when the sources tell different things (two independent bits copied
into the label: 1 bit of R and 1 of S, where BROJA says 1 bit unique each), so on labels that combine
independent factors (the factor generators' `all`) it moves unique information into redundancy and synergy.
And nearest-neighbour estimates are biased in high dimension at a few thousand samples. Its cost grows as
N^2 in the dimensions of representations (58 s per call at N = 20,000 on 64 dimensions, one thread), so the
leaderboard runs it up to N = 20,000.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma
from sklearn.neighbors import KDTree, NearestNeighbors

from estimators.registry import PIDEstimate, PIDEstimator, register_estimator
from estimators.threads import one_thread
from estimators.validation import check_codes, check_int


def specific_information_bits(z: np.ndarray, labels: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(label states, I(Z; Y=y) in bits per state) by Ross's nearest-neighbour estimator per state."""
    y = check_codes("labels", labels)
    k = check_int("k", k, 1)
    x = np.asarray(z, dtype=np.float64).reshape(len(y), -1)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)
    states, counts = np.unique(y, return_counts=True)
    if counts.min() <= k:
        raise ValueError(f"every label state needs more than k = {k} rows, got {counts.min()}")
    radius = np.empty(len(y))
    for state in states:
        rows = y == state
        neighbours = NearestNeighbors(n_neighbors=k, metric="chebyshev").fit(x[rows])
        radius[rows] = np.nextafter(neighbours.kneighbors()[0][:, -1], 0)  # within, not at, the k-th distance
    within = KDTree(x, metric="chebyshev").query_radius(x, radius, count_only=True)
    terms = digamma(len(y)) + digamma(k) - digamma(within)
    per_state = np.array([terms[y == s].mean() - digamma(c) for s, c in zip(states, counts, strict=True)])
    return states, per_state / np.log(2)


def knn_imin_pid(
    z1: np.ndarray, z2: np.ndarray, labels: np.ndarray, *, k: int = 5, seed: int = 0
) -> PIDEstimate:
    """Williams-Beer PID (bits) from nearest-neighbour specific informations (see the module docstring);
    `seed` is unused (the estimator is deterministic)."""
    y = check_codes("labels", labels)
    if not len(z1) == len(z2) == len(y):
        raise ValueError("z1, z2 and labels must have the same rows")
    both = np.concatenate([np.reshape(z1, (len(y), -1)), np.reshape(z2, (len(y), -1))], axis=1)
    with one_thread():
        states, i1 = specific_information_bits(z1, y, k)
        _, i2 = specific_information_bits(z2, y, k)
        _, i12 = specific_information_bits(both, y, k)
    p = np.array([(y == s).mean() for s in states])
    redundancy = float(p @ np.minimum(i1, i2))
    mi1, mi2, mi12 = float(p @ i1), float(p @ i2), float(p @ i12)
    return PIDEstimate(redundancy, mi1 - redundancy, mi2 - redundancy, mi12 - mi1 - mi2 + redundancy)


register_estimator(
    PIDEstimator(
        "knn_imin",
        knn_imin_pid,
        "nearest-neighbour specific informations (Ross's mixed estimator per label state, k = 5, max-norm on "
        "standardised features) in Williams and Beer's I_min PID; no discretisation, no interval",
        "Barà et al., arXiv 2409.13506 (2024); Ross, PLoS ONE 2014; Williams and Beer, arXiv 1004.2515",
        {"k": 5, "metric": "chebyshev", "redundancy": "I_min"},
        max_samples=20000,  # neighbour counts in 64 dimensions are brute force: 58 s per call at N = 20,000
    )
)
