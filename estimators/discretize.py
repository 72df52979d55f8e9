"""Discretise continuous features into cluster codes: normalise, PCA, k-means (Liang et al. 2023 style)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from estimators.validation import check_choice, check_int

NORMALIZATIONS = ("standardize", "l2")


def default_n_clusters(n_samples: int, n_labels: int, cells_per_sample: float = 0.1, most: int = 64) -> int:
    """Clusters per modality k such that the table k * k * |Y| holds at most `cells_per_sample` * N cells.

    The plug-in bias of I(X1, X2; Y) grows with the number of cells over N (about
    (k^2 - 1)(|Y| - 1) / (2 N ln 2) bits) and lands in synergy, so the table is kept well below N.
    """
    n_samples, n_labels = check_int("n_samples", n_samples, 1), check_int("n_labels", n_labels, 1)
    return int(min(most, max(2, math.isqrt(int(cells_per_sample * n_samples / n_labels)))))


class Discretizer:
    """Normalise (standardise or L2), project on the top PCA components, cluster with k-means."""

    def __init__(
        self, n_clusters: int, n_components: int = 8, normalize: str = "standardize", seed: int = 0
    ) -> None:
        self.n_clusters = check_int("n_clusters", n_clusters, 1)
        self.n_components = check_int("n_components", n_components, 1)
        self.normalize = check_choice("normalize", normalize, NORMALIZATIONS)
        self.seed = check_int("seed", seed, 0)

    def _normalized(self, features: np.ndarray, fit: bool) -> np.ndarray:
        x = np.asarray(features)
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"features must be a numeric array, got dtype {x.dtype}")
        x = x.astype(np.float64)
        if x.ndim != 2 or len(x) == 0 or not np.isfinite(x).all():
            raise ValueError(f"features must be a finite (n, d) array, got shape {x.shape}")
        if self.normalize == "l2":
            return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        if fit:
            self.scaler_ = StandardScaler().fit(x)
        return self.scaler_.transform(x)

    def fit(self, features: np.ndarray) -> Discretizer:
        x = self._normalized(features, fit=True)
        components = min(self.n_components, x.shape[1], len(x))
        with threadpool_limits(limits=1):
            self.pca_ = PCA(n_components=components, random_state=self.seed).fit(x)
            self.kmeans_ = KMeans(n_clusters=min(self.n_clusters, len(x)), n_init=4, random_state=self.seed)
            self.kmeans_.fit(self.pca_.transform(x))
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Cluster index (int64) of each row."""
        with threadpool_limits(limits=1):
            projected = self.pca_.transform(self._normalized(features, fit=False))
            return self.kmeans_.predict(projected).astype(np.int64)

    def fit_transform(self, features: np.ndarray) -> np.ndarray:
        return self.fit(features).transform(features)
