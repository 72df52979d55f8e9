"""Discretise continuous features into codes: normalise, PCA, k-means (Liang et al. 2023 style), label
cells split by the remaining structure (`LabelCellDiscretizer`), or KL k-means of label posteriors
(`kl_kmeans`); and what a coding loses about the label (`discretization_loss_bits`)."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from estimators.information import entropy_bits, joint_table, miller_madow_mutual_information_bits
from estimators.validation import check_choice, check_codes, check_float, check_int

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
        x = _numeric_features(features)
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


class LabelCellDiscretizer:
    """Codes that keep what Z says about a label Y, alone and jointly with another source.

    1. *Label cells*: a multinomial logistic probe gives p(y | z); k-means on the log-posteriors groups rows
       that predict the label alike. The number of cells is the smallest candidate whose plug-in I(cell; Y)
       is within `tolerance_bits` of the best candidate's, so it is chosen by the data.
    2. *Splits*: inside each cell, k-means on the top principal components of the standardised features cuts
       the cell into `n_splits` parts. A cell holds rows that say the same about Y alone, so what a split
       separates is structure that matters only jointly with another source (the synergistic part, e.g.
       one input of an XOR), or nothing; `representation_pid` picks `n_splits` by the joint information.

    Clustering a probe's posterior alone keeps I(Z; Y) but merges the two values of an XOR input, throwing
    synergy away; clustering the raw features (PCA + k-means) keeps neither when the label's directions
    carry little of the variance.
    """

    def __init__(
        self,
        max_cells: int = 16,
        n_splits: int = 1,
        n_components: int = 4,
        tolerance_bits: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.max_cells = check_int("max_cells", max_cells, 1)
        self.n_splits = check_int("n_splits", n_splits, 1)
        self.n_components = check_int("n_components", n_components, 1)
        self.tolerance_bits = check_float("tolerance_bits", tolerance_bits, 0.0)
        self.seed = check_int("seed", seed, 0)

    def fit(self, features: np.ndarray, labels: np.ndarray) -> LabelCellDiscretizer:
        x = _numeric_features(features)
        y = check_codes("labels", labels)
        if len(y) != len(x):
            raise ValueError(f"features and labels must have the same rows, got {len(x)} and {len(y)}")
        with threadpool_limits(limits=1):
            self.scaler_ = StandardScaler().fit(x)
            x = self.scaler_.transform(x)
            classes = np.unique(y)
            self.probe_ = LogisticRegression(C=1.0, max_iter=1000).fit(x, y) if len(classes) > 1 else None
            scores = self._posterior_scores(x)
            self.cells_ = self._choose_cells(scores, y, len(classes))
            self.splits_ = self._fitted_splits(x, self.cells_.predict(scores), (self.n_splits,))[0]
        return self

    def with_splits(self, n_splits: int, features: np.ndarray) -> LabelCellDiscretizer:
        """A copy that shares this fit's probe and cells and cuts each cell into `n_splits` parts: k-means on
        the top principal components of the standardised `features` (the rows this was fitted on)."""
        other = copy.copy(self)
        other.n_splits = check_int("n_splits", n_splits, 1)
        x, cells = self._standardized_cells(features)
        other.splits_ = self._fitted_splits(x, cells, (other.n_splits,))[0]
        return other

    def split_codes(self, n_splits: Sequence[int], features: np.ndarray) -> list[np.ndarray]:
        """For each number of parts k, the codes `with_splits(k, features)` gives the rows it is fitted on,
        fitting each cell's principal components once for all k."""
        counts = [check_int("n_splits", k, 1) for k in n_splits]
        x, cells = self._standardized_cells(features)
        codes = []
        for count, splits in zip(counts, self._fitted_splits(x, cells, counts), strict=True):
            split = np.zeros(len(cells), dtype=np.int64)
            for cell, (_, km) in splits.items():
                split[cells == cell] = km.labels_
            codes.append(cells * count + split)
        return codes

    def _standardized_cells(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The standardised features and each row's cell."""
        with threadpool_limits(limits=1):
            x = self.scaler_.transform(_numeric_features(features))
            return x, self.cells_.predict(self._posterior_scores(x)).astype(np.int64)

    def _fitted_splits(self, x: np.ndarray, cells: np.ndarray, counts: Sequence[int]) -> list[dict]:
        """Per number of parts, each cell's (PCA, k-means) cut; cells too small to cut stay whole."""
        fitted: list[dict] = [{} for _ in counts]
        with threadpool_limits(limits=1):
            for cell in np.unique(cells):
                rows = x[cells == cell]
                wanted = [i for i, k in enumerate(counts) if k > 1 and len(rows) >= 2 * k]
                if not wanted:
                    continue
                pca = PCA(n_components=min(self.n_components, x.shape[1]), random_state=self.seed).fit(rows)
                projected = pca.transform(rows)
                for i in wanted:
                    km = KMeans(counts[i], n_init=4, random_state=self.seed).fit(projected)
                    fitted[i][int(cell)] = (pca, km)
        return fitted

    def posterior_scores(self, features: np.ndarray) -> np.ndarray:
        """The probe's log-posteriors log p(y | z) of feature rows, floored at log(1e-6)."""
        with threadpool_limits(limits=1):
            return self._posterior_scores(self.scaler_.transform(_numeric_features(features)))

    def _posterior_scores(self, x: np.ndarray) -> np.ndarray:
        """The probe's log-posteriors, floored at log(1e-6): vanishing classes must not lead k-means (one
        constant column when the label has a single class)."""
        if self.probe_ is None:
            return np.zeros((len(x), 1))
        return _log_posterior(self.probe_.predict_proba(x))

    def _choose_cells(self, scores: np.ndarray, y: np.ndarray, n_classes: int) -> KMeans:
        most = min(self.max_cells, n_classes, len(scores))
        candidates = [k for k in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64) if k <= most]
        fits = [KMeans(k, n_init=4, random_state=self.seed).fit(scores) for k in candidates]
        bits = [
            miller_madow_mutual_information_bits(joint_table(f.labels_.astype(np.int64), y), len(y))
            for f in fits
        ]
        best = max(bits)
        return next(f for f, b in zip(fits, bits, strict=True) if b >= best - self.tolerance_bits)

    @property
    def n_cells(self) -> int:
        return int(self.cells_.n_clusters)

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Code of each row: cell * n_splits + split (int64)."""
        x, cells = self._standardized_cells(features)
        split = np.zeros(len(x), dtype=np.int64)
        with threadpool_limits(limits=1):
            for cell, (pca, km) in self.splits_.items():
                rows = cells == cell
                if rows.any():
                    split[rows] = km.predict(pca.transform(x[rows]))
        return cells * self.n_splits + split

    def fit_transform(self, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return self.fit(features, labels).transform(features)


class JointPosteriors(NamedTuple):
    """A joint probe's view of a pair of sources: `embedding1` / `embedding2` are each source's rows as
    [log q(y | row, reference_j)]_j over reference rows of the other source, `pairs` is q(y | z1_i, z2_i) of
    the aligned rows (n, |Y|)."""

    embedding1: np.ndarray
    embedding2: np.ndarray
    pairs: np.ndarray


def joint_posterior_embedding(
    z1: np.ndarray,
    z2: np.ndarray,
    labels: np.ndarray,
    *,
    n_references: int = 32,
    hidden: int = 128,
    seed: int = 0,
) -> JointPosteriors:
    """Each source's rows described by what they say about Y jointly with the other source.

    An MLP probe q(y | z1, z2) is fitted on the standardised pair; row i of source 1 is then embedded as
    [log q(y | z1_i, z2_j)]_j over `n_references` random rows j of source 2 (and symmetrically for source 2).
    Rows of one source that combine alike with every row of the other get the same embedding, so clustering
    in this space (`kl_kmeans`) separates the inputs of an XOR even when no principal direction does
    (nonlinear mixing)."""
    # float32 throughout: the probe fits 1.2x faster, and its posteriors are only ever clustered
    x1, x2 = (StandardScaler().fit_transform(_numeric_features(z)).astype(np.float32) for z in (z1, z2))
    y = check_codes("labels", labels)
    if not len(x1) == len(x2) == len(y):
        raise ValueError(f"z1, z2 and labels must have the same rows, got {len(x1)}, {len(x2)} and {len(y)}")
    n_references = check_int("n_references", n_references, 1)
    hidden = check_int("hidden", hidden, 1)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    n = len(y)
    with threadpool_limits(limits=1):
        # Weight decay and a 10x step: with loud nuisance dimensions the default probe sits on the plateau
        # before an XOR is learned until early stopping ends it (0.9 bit of synergy lost at N = 6,000).
        probe = MLPClassifier(
            (hidden,),
            alpha=1.0,
            learning_rate_init=0.01,
            max_iter=200,
            early_stopping=True,
            random_state=seed,
        )
        probe.fit(np.concatenate([x1, x2], axis=1), y)

        (weights_in, weights_out), (bias_in, bias_out) = probe.coefs_, probe.intercepts_
        split = x1.shape[1]

        def embed(own: np.ndarray, other: np.ndarray, own_first: bool) -> np.ndarray:
            # The probe on every (row, reference) pair, in float32, without building the n x R pair
            # inputs: the hidden layer's input is linear in the two halves of the pair.
            refs = other[rng.choice(n, min(n_references, n), replace=False)]
            w_own, w_other = (weights_in[:split], weights_in[split:])[:: 1 if own_first else -1]
            hidden = np.maximum((own @ w_own)[:, None, :] + (refs @ w_other + bias_in)[None], 0)
            logits = hidden.reshape(-1, len(bias_in)) @ weights_out + bias_out
            return _log_posterior(_output_probabilities(probe, logits)).reshape(n, -1)

        pairs = probe.predict_proba(np.concatenate([x1, x2], axis=1))
        return JointPosteriors(embed(x1, x2, True), embed(x2, x1, False), pairs)


def discretization_loss_bits(posteriors: np.ndarray, codes: np.ndarray, labels: np.ndarray) -> float:
    """Bits about the label that a probe sees in the rows and the codes do not keep (0 if none): the probe's
    information H(Y) - cross-entropy(posteriors, labels) minus the Miller-Madow corrected I(codes; Y).
    The probe's information is a lower bound on I(Z; Y) (up to in-sample fit), so this estimates what
    discretising Z into the codes threw away."""
    p = np.asarray(posteriors, dtype=np.float64)
    c, y = check_codes("codes", codes), check_codes("labels", labels)
    if p.ndim != 2 or not len(p) == len(c) == len(y) or len(p) == 0:
        raise ValueError(f"posteriors must be an (n, |Y|) array aligned with codes and labels, got {p.shape}")
    y = np.unique(y, return_inverse=True)[1].ravel()
    if p.shape[1] <= y.max():
        raise ValueError(
            f"posteriors must have a column per label, got {p.shape[1]} for {y.max() + 1} labels"
        )
    p = np.clip(p, 1e-12, None)
    cross_entropy = -np.mean(np.log2(p[np.arange(len(y)), y] / p.sum(axis=1)))
    label_entropy = entropy_bits(np.bincount(y) / len(y))
    kept = miller_madow_mutual_information_bits(joint_table(c, y), len(y))
    return max(0.0, float(label_entropy - cross_entropy - kept))


def kl_kmeans(
    posteriors: np.ndarray,
    n_clusters: int,
    *,
    weights: np.ndarray | None = None,
    seed: int = 0,
    max_iter: int = 50,
) -> np.ndarray:
    """Cluster rows of label posteriors so that the clusters keep what the rows say about the label.

    `posteriors` is (n, B, |Y|): B distributions over the label per row (e.g. p(y | z_i) and
    q(y | z_i, w_j) for B - 1 reference rows w_j of another source). Bregman k-means under the KL divergence:
    each row goes to the centre c minimising sum_b w_b KL(p_ib || c_b) (`weights` w, default 1), each centre
    is the mean of its rows, so the objective is exactly the information about Y that merging rows throws
    away (Dhillon, Mallela & Kumar, "A divisive information-theoretic feature clustering algorithm",
    JMLR 2003). Seeded k-means++ style under the same divergence. Returns the cluster of each row (int64)."""
    return kl_kmeans_codes(posteriors, (n_clusters,), weights=weights, seed=seed, max_iter=max_iter)[0]


def kl_kmeans_codes(
    posteriors: np.ndarray,
    cluster_counts: Sequence[int],
    *,
    weights: np.ndarray | None = None,
    seed: int = 0,
    max_iter: int = 50,
) -> list[np.ndarray]:
    """`kl_kmeans` for several numbers of clusters, sharing the work: the result for each count is the one
    `kl_kmeans` gives (with one seed, the k-means++ centres of a smaller count are the first of a larger)."""
    p = np.asarray(posteriors, dtype=np.float64)
    counts = [check_int("n_clusters", k, 1) for k in cluster_counts]
    if p.ndim != 3 or len(p) == 0:
        raise ValueError(f"posteriors must be an (n, B, |Y|) array, got shape {p.shape}")
    flat = np.clip(p, 1e-6, None)
    flat = (flat / flat.sum(axis=2, keepdims=True)).reshape(len(p), -1)
    w = np.ones(p.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (p.shape[1],) or not np.all(np.isfinite(w)) or w.min() < 0:
        raise ValueError(f"weights must be {p.shape[1]} nonnegative finite numbers, one per posterior block")
    weighted = flat * np.repeat(w, p.shape[2])  # sum_b w_b KL(p_b || c_b) = weighted . (log p - log c)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    negentropy = (weighted * np.log(flat)).sum(axis=1)
    seeds = [flat[rng.integers(len(flat))]]
    divergence = np.full(len(flat), np.inf)  # to the nearest centre so far
    while len(seeds) < min(max(counts, default=1), len(flat)):
        divergence = np.minimum(divergence, (negentropy - weighted @ np.log(seeds[-1])).clip(0))
        total = divergence.sum()
        pick = rng.choice(len(flat), p=divergence / total) if total > 0 else rng.integers(len(flat))
        seeds.append(flat[pick])
    # float32 from here: twice as fast, and neither the assignments' ties nor the centres' last digits matter
    weighted, flat = weighted.astype(np.float32), flat.astype(np.float32)

    def assigned(centres: np.ndarray) -> np.ndarray:
        return np.argmax(weighted @ np.log(centres).T, axis=1)

    results = []
    for k in counts:
        centres = np.array(seeds[:k], dtype=np.float32)
        codes = assigned(centres)
        for _ in range(max_iter):  # Lloyd's steps until no row changes its centre
            sums, sizes = _code_sums(flat, codes, len(centres))
            centres = np.where(sizes[:, None] > 0, sums / np.maximum(sizes, 1)[:, None], centres).astype(
                np.float32
            )
            moved, codes = codes, assigned(centres)
            if np.array_equal(moved, codes):
                break
        results.append(np.unique(codes, return_inverse=True)[1].astype(np.int64).ravel())
    return results


def _code_sums(rows: np.ndarray, codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per code 0..n_codes-1, the sum of its rows and its row count."""
    members = sparse.csr_matrix(
        (np.ones(len(codes), dtype=rows.dtype), (codes, np.arange(len(codes)))), shape=(n_codes, len(codes))
    )
    return members @ rows, np.bincount(codes, minlength=n_codes)


def _output_probabilities(probe: MLPClassifier, logits: np.ndarray) -> np.ndarray:
    """`probe.predict_proba` from the output layer's logits: softmax over the classes, or the logistic unit
    of a two-class probe."""
    if probe.out_activation_ == "logistic":
        logit = logits[:, 0].astype(np.float64)
        return 1.0 / (1.0 + np.exp(np.stack([logit, -logit], axis=1)))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _log_posterior(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probabilities, 1e-6, None))


def _numeric_features(features: np.ndarray) -> np.ndarray:
    """Features as a finite float64 (n, d) array, or a ValueError saying what is wrong."""
    x = np.asarray(features)
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"features must be a numeric array, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.ndim != 2 or len(x) == 0 or not np.isfinite(x).all():
        raise ValueError(f"features must be a finite (n, d) array, got shape {x.shape}")
    return x
