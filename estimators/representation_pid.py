"""PID of what each modality's representation says about a label, with its finite-sample bias handled.

Each per-modality representation Z_m is discretised and the BROJA PID of the empirical table p(z1, z2, y)
is computed. Two discretisers: ``label_cells`` (the default: `LabelCellDiscretizer` cells of a probe's
posterior, split on the principal components or on a `joint_posterior_embedding`) and ``kmeans``
(normalise, PCA, k-means; it loses up to half of every atom, see the README's validation). Plug-in tables
are biased upwards (mostly into synergy, since R and U depend only on the (z_m, y) marginals), so every
atom is reported three ways:

* ``raw``: the plug-in value;
* ``bias``: the estimated finite-sample shift of that atom: by default the mean shift of the bootstrap
  replicates from the data, or the mean atom over label permutations (``bias="permutation"``: shuffling
  y against (z1, z2) destroys all true information, so what remains is the floor of that atom at this N
  and table size; it fills every cell of a sparse table and over-corrects);
* ``corrected`` = raw - bias: the headline, with a bootstrap interval (rows resampled with replacement,
  the same correction applied, percentile interval re-centred on the corrected value).

The data and its bootstrap replicates are solved in one batch, the permutation null in another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from estimators.discretize import (
    Discretizer,
    LabelCellDiscretizer,
    default_n_clusters,
    joint_posterior_embedding,
    kl_kmeans,
)
from estimators.information import encode, joint_table, miller_madow_mutual_information_bits
from estimators.pid import broja_pid_batch
from estimators.validation import check_choice, check_codes, check_float, check_int

ATOMS = ("redundancy", "unique1", "unique2", "synergy")
DISCRETIZERS = ("kmeans", "label_cells")
BIAS_ESTIMATES = ("permutation", "bootstrap")
_SPLITS = (1, 2, 3, 4)
_KL_CLUSTERS = (2, 3, 4, 6, 8, 12, 16, 24, 32)


@dataclass(frozen=True)
class AtomEstimate:
    """One PID atom in bits: bias-corrected headline, plug-in value, bias estimate, bootstrap interval."""

    corrected: float
    raw: float
    bias: float
    low: float
    high: float


@dataclass(frozen=True)
class RepresentationPID:
    """Bias-corrected BROJA PID (bits) of (Z1, Z2; Y) through discretisation."""

    redundancy: AtomEstimate
    unique1: AtomEstimate
    unique2: AtomEstimate
    synergy: AtomEstimate
    n_samples: int
    n_clusters: tuple[int, int]
    n_labels: int
    n_permutations: int
    n_bootstrap: int

    @property
    def atoms(self) -> dict[str, AtomEstimate]:
        return {name: getattr(self, name) for name in ATOMS}

    def corrected(self) -> dict[str, float]:
        return {name: a.corrected for name, a in self.atoms.items()}

    def raw(self) -> dict[str, float]:
        return {name: a.raw for name, a in self.atoms.items()}


def table_pid(
    codes1: np.ndarray,
    codes2: np.ndarray,
    labels: np.ndarray,
    *,
    n_permutations: int = 20,
    n_bootstrap: int = 50,
    bias: str = "bootstrap",
    confidence: float = 0.95,
    tol_bits: float = 1e-4,
    seed: int = 0,
    device: str = "cpu",
) -> RepresentationPID:
    """Bias-corrected PID of discrete codes (each coded 0..k-1) and labels.

    `bias="bootstrap"` (the default) subtracts the mean shift of the bootstrap replicates from the data
    (mean(boot) - raw), which follows the table's own support; `bias="permutation"` subtracts the mean atom
    over label permutations, which fill every cell: on sparse, near-deterministic tables that over-corrects
    (measured: 0.2 bit of synergy on raw `bimodal()` observations with label-cell codes). With
    `bias="bootstrap"` no permutation is drawn (`n_permutations` is recorded as 0). Every table is solved to
    a certified duality gap of `tol_bits`: 1e-4 bit by default, a hundredth of the bootstrap spread of an atom
    at N = 6,000 and 1.3-1.5x faster than 1e-6 on the tables of the quick grid (atoms move by < 2e-4 bit).
    """
    c1, c2, y = (
        check_codes(name, a) for name, a in (("codes1", codes1), ("codes2", codes2), ("labels", labels))
    )
    if not (len(c1) == len(c2) == len(y) >= 2):
        raise ValueError("codes1, codes2 and labels must be aligned arrays of at least 2 rows")
    if min(c1.min(), c2.min()) < 0:
        raise ValueError("codes1 and codes2 must be nonnegative integers")
    n_permutations = check_int("n_permutations", n_permutations, 1)
    bias = check_choice("bias", bias, BIAS_ESTIMATES)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, 1)
    confidence = check_float("confidence", confidence, 0.0, strict=True)
    if confidence >= 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    seed = check_int("seed", seed, 0)
    y = np.unique(y, return_inverse=True)[1].ravel()
    shape = (int(c1.max()) + 1, int(c2.max()) + 1, int(y.max()) + 1)
    n = len(y)
    rng = np.random.default_rng(seed)
    if bias == "bootstrap":  # the null would go unused
        n_permutations = 0
    null_tables = [joint_table(c1, c2, y[rng.permutation(n)], shape=shape) for _ in range(n_permutations)]
    rows = [rng.integers(n, size=n) for _ in range(n_bootstrap)]
    data_tables = [joint_table(c1, c2, y, shape=shape)] + [
        joint_table(c1[r], c2[r], y[r], shape=shape) for r in rows
    ]
    # Two batches: a batch runs until its slowest table converges, over the union of its tables' live cells;
    # the permuted tables fill every cell while the data and its bootstrap replicates share a sparse support.
    values = [
        np.array(
            [[getattr(r, a) for a in ATOMS] for r in broja_pid_batch(batch, tol_bits=tol_bits, device=device)]
        )
        for batch in (data_tables, null_tables)
        if batch
    ]
    raw, boot = values[0][0], values[0][1:]
    shift = values[1].mean(axis=0) if bias == "permutation" else boot.mean(axis=0) - raw
    corrected = raw - shift
    tail = (1 - confidence) / 2
    centre = np.median(boot, axis=0)
    low = corrected + np.quantile(boot, tail, axis=0) - centre
    high = corrected + np.quantile(boot, 1 - tail, axis=0) - centre
    estimates = {
        a: AtomEstimate(float(corrected[i]), float(raw[i]), float(shift[i]), float(low[i]), float(high[i]))
        for i, a in enumerate(ATOMS)
    }
    return RepresentationPID(
        **estimates,
        n_samples=n,
        n_clusters=(shape[0], shape[1]),
        n_labels=shape[2],
        n_permutations=n_permutations,
        n_bootstrap=n_bootstrap,
    )


def representation_pid(
    z1: np.ndarray,
    z2: np.ndarray,
    labels: np.ndarray,
    *,
    discretizer: str = "label_cells",
    n_clusters: int | None = None,
    n_components: int = 8,
    normalize: str = "standardize",
    n_permutations: int = 20,
    n_bootstrap: int = 50,
    bias: str = "bootstrap",
    seed: int = 0,
    device: str = "cpu",
) -> RepresentationPID:
    """Bias-corrected PID (bits) of (Z1, Z2; Y) for continuous per-modality features Z1, Z2.

    `discretizer="label_cells"` (the default): `LabelCellDiscretizer` per modality, each cell split on its
    principal components or on the `joint_posterior_embedding` of the pair, with the number of splits per
    cell (1 to 4, the same for both) and the split space chosen by the Miller-Madow corrected
    I(C1, C2; Y) (see `_label_cell_codes`); `n_clusters`, `n_components` and `normalize` do not apply.
    `discretizer="kmeans"`: normalise, PCA to `n_components`, k-means with `n_clusters` per modality, by
    default `default_n_clusters(N, |Y|)` (table well below N cells).
    """
    y = check_codes("labels", labels)
    discretizer = check_choice("discretizer", discretizer, DISCRETIZERS)
    if discretizer == "label_cells":
        codes = _label_cell_codes(z1, z2, y, seed)
    else:
        k = n_clusters if n_clusters is not None else default_n_clusters(len(y), len(np.unique(y)))
        codes = [
            Discretizer(k, n_components=n_components, normalize=normalize, seed=seed).fit_transform(z)
            for z in (z1, z2)
        ]
    return table_pid(
        codes[0],
        codes[1],
        y,
        n_permutations=n_permutations,
        n_bootstrap=n_bootstrap,
        bias=bias,
        seed=seed,
        device=device,
    )


def _label_cell_codes(z1: np.ndarray, z2: np.ndarray, y: np.ndarray, seed: int) -> list[np.ndarray]:
    """Codes of both sources that keep the joint information. Candidates: label cells split on the principal
    components of the features or on the joint-posterior embedding (1 to 4 splits per cell), and
    `kl_kmeans` codes of [p(y | z_m) repeated, q(y | z_m, z_other_j) over the references j] with 2 to 32
    clusters. The chosen pair is the smallest table whose Miller-Madow corrected I(C1, C2; Y) is within
    0.01 bit of the best candidate's."""
    embeddings = joint_posterior_embedding(z1, z2, y, seed=seed)  # also checks that the rows align
    sources = (z1, z2)
    cells = [LabelCellDiscretizer(seed=seed).fit(z, y) for z in sources]
    candidates = []
    for splits in _SPLITS:
        for space in (None, embeddings) if splits > 1 else (None,):
            candidates.append(
                [
                    d.with_splits(splits, z, e).transform(z, e)
                    for d, z, e in zip(cells, sources, space or (None, None), strict=True)
                ]
            )
    blocks = []
    for d, z, e in zip(cells, sources, embeddings, strict=True):
        own = np.exp(d.posterior_scores(z))
        joint = np.exp(e).reshape(len(y), -1, own.shape[1]) if own.shape[1] > 1 else None
        if joint is None or joint.shape[2] != own.shape[1]:
            blocks = []
            break
        blocks.append(np.concatenate([np.repeat(own[:, None], joint.shape[1], axis=1), joint], axis=1))
    if blocks:
        for k in _KL_CLUSTERS:
            candidates.append([kl_kmeans(b, k, seed=seed) for b in blocks])
    scored = [
        (miller_madow_mutual_information_bits(joint_table(encode(*codes), y), len(y)), codes)
        for codes in candidates
    ]
    best = max(bits for bits, _ in scored)
    return min(
        (o for o in scored if o[0] >= best - 0.01),
        key=lambda o: (int(o[1][0].max() + 1) * int(o[1][1].max() + 1), -o[0]),
    )[1]
