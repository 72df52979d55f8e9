"""The clustering recipe of the PID reference code (Liang et al., "Quantifying & Modeling Multimodal
Interactions", NeurIPS 2023, §2.2 of ../shared/research/pid.md): per modality, L2-normalise each row,
project on the top 2 principal components, k-means with 20 clusters; then the plug-in BROJA PID of the
empirical (C1, C2, Y) table, with no bias correction and no interval.

Implemented from the paper's description (the suite's `Discretizer` and exact solver); the settings are the
synthetic-data ones (the reference uses 5 components and 30 clusters on real data). Its known weakness, which
the leaderboard measures: the plug-in table of 20 x 20 x |Y| cells inflates synergy at a few thousand samples,
and 2 components can merge what a label needs.
"""

from __future__ import annotations

import numpy as np

from estimators.discretize import Discretizer
from estimators.information import joint_table
from estimators.pid import broja_pid
from estimators.registry import PIDEstimate, PIDEstimator, register_estimator
from estimators.threads import one_thread
from estimators.validation import check_codes, check_int


def cluster_recipe_pid(
    z1: np.ndarray,
    z2: np.ndarray,
    labels: np.ndarray,
    *,
    n_components: int = 2,
    n_clusters: int = 20,
    seed: int = 0,
) -> PIDEstimate:
    """Plug-in BROJA PID (bits) of k-means codes of row-normalised, PCA-projected features."""
    y = check_codes("labels", labels)
    check_int("n_components", n_components, 1)
    check_int("n_clusters", n_clusters, 1)
    if not len(z1) == len(z2) == len(y):
        raise ValueError("z1, z2 and labels must have the same rows")
    with one_thread():
        codes = []
        for z in (z1, z2):
            distinct = len(np.unique(np.asarray(z), axis=0))  # k-means cannot find more clusters than points
            discretizer = Discretizer(min(n_clusters, distinct), n_components, normalize="l2", seed=seed)
            codes.append(discretizer.fit_transform(z))
        labels_ = np.unique(y, return_inverse=True)[1].ravel()
        table = joint_table(codes[0], codes[1], labels_)
        result = broja_pid(table)
    return PIDEstimate(result.redundancy, result.unique1, result.unique2, result.synergy)


register_estimator(
    PIDEstimator(
        "cluster_recipe",
        cluster_recipe_pid,
        "the PID reference code's recipe: row L2-normalise, PCA to 2, k-means with 20 clusters per modality, "
        "plug-in BROJA (no bias correction, no interval)",
        "Liang et al., NeurIPS 2023 (Quantifying & Modeling Multimodal Interactions), their synthetic-data "
        "settings",
        {"n_components": 2, "n_clusters": 20, "normalize": "l2"},
    )
)
