"""PID of what each modality's representation says about a label, with its finite-sample bias handled.

Each per-modality representation Z_m is discretised (normalise, PCA, k-means) and the BROJA PID of the
empirical table p(z1, z2, y) is computed. Plug-in tables are biased upwards (mostly into synergy, since
R and U depend only on the (z_m, y) marginals), so every atom is reported three ways:

* ``raw``: the plug-in value;
* ``bias``: the mean atom over label permutations (shuffling y against (z1, z2) destroys all true
  information, so what remains is the finite-sample floor of that atom at this N and table size);
* ``corrected`` = raw - bias: the headline, with a bootstrap interval (rows resampled with replacement,
  the same correction applied, percentile interval re-centred on the corrected value).

All tables of the permutation and bootstrap replicates share one shape and are solved in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from estimators.discretize import Discretizer, default_n_clusters
from estimators.information import joint_table
from estimators.pid import broja_pid_batch
from estimators.validation import check_codes, check_float, check_int

ATOMS = ("redundancy", "unique1", "unique2", "synergy")


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
    confidence: float = 0.95,
    seed: int = 0,
    device: str = "cpu",
) -> RepresentationPID:
    """Bias-corrected PID of discrete codes (each coded 0..k-1) and labels."""
    c1, c2, y = (
        check_codes(name, a) for name, a in (("codes1", codes1), ("codes2", codes2), ("labels", labels))
    )
    if not (len(c1) == len(c2) == len(y) >= 2):
        raise ValueError("codes1, codes2 and labels must be aligned arrays of at least 2 rows")
    if min(c1.min(), c2.min()) < 0:
        raise ValueError("codes1 and codes2 must be nonnegative integers")
    n_permutations = check_int("n_permutations", n_permutations, 1)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, 1)
    confidence = check_float("confidence", confidence, 0.0, strict=True)
    if confidence >= 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    seed = check_int("seed", seed, 0)
    y = np.unique(y, return_inverse=True)[1].ravel()
    shape = (int(c1.max()) + 1, int(c2.max()) + 1, int(y.max()) + 1)
    n = len(y)
    rng = np.random.default_rng(seed)
    tables = [joint_table(c1, c2, y, shape=shape)]
    tables += [joint_table(c1, c2, y[rng.permutation(n)], shape=shape) for _ in range(n_permutations)]
    rows = [rng.integers(n, size=n) for _ in range(n_bootstrap)]
    tables += [joint_table(c1[r], c2[r], y[r], shape=shape) for r in rows]
    results = broja_pid_batch(tables, device=device)
    values = np.array([[getattr(r, a) for a in ATOMS] for r in results])
    raw, null, boot = values[0], values[1 : 1 + n_permutations], values[1 + n_permutations :]
    bias = null.mean(axis=0)
    corrected = raw - bias
    tail = (1 - confidence) / 2
    centre = np.median(boot, axis=0)
    low = corrected + np.quantile(boot, tail, axis=0) - centre
    high = corrected + np.quantile(boot, 1 - tail, axis=0) - centre
    estimates = {
        a: AtomEstimate(float(corrected[i]), float(raw[i]), float(bias[i]), float(low[i]), float(high[i]))
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
    n_clusters: int | None = None,
    n_components: int = 8,
    normalize: str = "standardize",
    n_permutations: int = 20,
    n_bootstrap: int = 50,
    seed: int = 0,
    device: str = "cpu",
) -> RepresentationPID:
    """Bias-corrected PID (bits) of (Z1, Z2; Y) for continuous per-modality features Z1, Z2.

    `n_clusters` per modality defaults to `default_n_clusters(N, |Y|)` (table well below N cells).
    """
    y = check_codes("labels", labels)
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
        seed=seed,
        device=device,
    )
