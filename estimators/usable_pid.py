"""What a readout can use: the usable-information PID of (Z1, Z2; Y), in bits.

`representation_pid` measures what the representations still *hold* about Y. An encoder that keeps its
input keeps every atom (data processing), so that PID barely tells objectives apart; what an objective
changes is what a simple readout can *use*. This module splits what a readout family V can use:

* V is the linear family (multinomial logistic regression) by default, or the one-hidden-layer MLP; each
  readout is fitted on a training sample as the probes are (`estimators.probes`: hyperparameter chosen on
  a stratified validation split, then refit) and evaluated on held-out rows;
* redundancy and the unique atoms are the BROJA atoms (Bertschinger et al., Entropy 2014) of codes of the
  two *modality-wise* readouts' held-out posteriors q(y | z1) and q(y | z2): what each modality makes
  usable on its own, split into what both make usable and what only one does (R, U1, U2 depend only on
  the (code, Y) marginals);
* synergy is what a readout of the joint representation (the fused one, or z1 and z2 side by side) uses
  beyond a *late fusion*, a readout of the two modality-wise readouts' logits:
  S = I_V(Z_joint -> Y) - I_V((logits1, logits2) -> Y), each the predictive V-information (Xu et al., "A
  theory of usable information under computational constraints", ICLR 2020): H(Y) less the held-out
  cross-entropy in bits. Both are measured alike: a linear readout of the (centred) logits, cross-fitted
  on two halves of the evaluation rows, so that their finite-sample handicaps match. S is negative where
  the joint readout uses less than the late fusion, and is reported as such.

Why not the BROJA synergy of codes of the joint readout's posterior: a table over codes is a lookup, and a
flat posterior (a linear readout of an XOR of well-separated inputs, 1/2 + epsilon per input pair) has
codes that index the inputs, so the table reads the XOR the readout cannot (measured: 0.87 of 1 bit).
Cross-entropies of the readouts' own predictions cannot. The unimodal codes keep that caveat within a
modality: a single-index (projection, then table) reading of one modality's representation.

With a family rich enough to learn the Bayes posteriors, q(y | z_m) = p(y | z_m) is a sufficient statistic
of Z_m for Y and R, U1, U2 are the presence PID's; S is the presence synergy less the synergy the two
modality-wise posteriors have together, which a late fusion already uses (for the factor generators: the
bits two noisy views of r give only jointly, 0.035 bit on `bimodal_1bit`). On raw observations of the
factor generators with linear mixing every redundant and unique bit is linearly usable and none of the
synergy label; `interactions.estimator_validation` checks both against `FactorGenerator.usable_atoms`.

Finite-sample handling follows `representation_pid`: each atom is its plug-in value less its bootstrap
shift (rows of the evaluation sample resampled; the per-row cross-entropies resampled with the same
rows), with the bootstrap's normal interval widened by what the codes lose of the modality-wise readouts'
information (`discretization_loss_bits`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import StratifiedKFold

from estimators.discretize import discretization_loss_bits, kl_kmeans_codes
from estimators.information import joint_table, miller_madow_mutual_information_bits
from estimators.probes import PROBES, LinearProbe, Probe, make_probe
from estimators.representation_pid import RepresentationPID, atom_estimates, solve_resampled
from estimators.threads import one_thread
from estimators.validation import check_choice, check_codes, check_confidence, check_int

READOUTS = tuple(PROBES)
# Candidate codes of a readout's posterior; the fewest that keep it are used (48 clusters kept 0.01 bit
# more on the validation settings and made the dense tables of noisy data three times slower to solve).
_CLUSTERS = (2, 4, 8, 16, 24, 32)
_PROB_FLOOR = 1e-12
# The cross-fitted readouts of the logits search three inverse L2 strengths, not the probes' six: the same
# atoms on the validation settings at half the time (one, C = 1, put `trimodal`'s synergy 0.07 bit high).
_RECALIBRATION_CS = (0.01, 0.1, 1.0)
_CODE_TOLERANCE_BITS = 0.01


@dataclass(frozen=True)
class Representations:
    """One sample's representations: modality 1's (`z1`), the other modalities' (`z2`), the labels, and the
    joint representation a readout of both modalities uses (`joint`; None: z1 and z2 concatenated)."""

    z1: np.ndarray
    z2: np.ndarray
    labels: np.ndarray
    joint: np.ndarray | None = None

    def joint_features(self) -> np.ndarray:
        return np.concatenate([self.z1, self.z2], axis=1) if self.joint is None else self.joint


@one_thread()  # small dense fits: a second thread costs more than it gains (a grid run has one anyway)
def usable_pid(
    train: Representations,
    test: Representations,
    *,
    readout: str = "linear",
    joint_readout: Probe | None = None,
    n_bootstrap: int = 20,
    confidence: float = 0.95,
    seed: int = 0,
    device: str = "cpu",
) -> RepresentationPID:
    """Usable-information PID (bits) of what a `readout` ("linear" or "mlp") fitted on `train` can use from
    `test`'s representations (see the module docstring for the definition).

    `joint_readout`: a readout of the same family already fitted on `train`'s joint features and labels
    (the grid passes its probe of the joint task, so it is not fitted twice); None fits one.
    `discretization_loss_bits` of the result is the most a unimodal readout's codes lose of its information.
    `device`: where the linear readouts are fitted and the tables solved.
    """
    readout = check_choice("readout", readout, READOUTS)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, 2)
    confidence = check_confidence("confidence", confidence)
    seed = check_int("seed", seed, 0)
    y_train = check_codes("train.labels", train.labels)
    y_test = check_codes("test.labels", test.labels)
    for name, part in (("train", train), ("test", test)):
        if not (len(part.z1) == len(part.z2) == len(part.labels) == len(part.joint_features())):
            raise ValueError(f"{name}: z1, z2, joint and labels must have the same rows")
    if len(y_test) < 2:
        raise ValueError(f"test must hold at least 2 rows, got {len(y_test)}")

    def fitted(features: np.ndarray) -> Probe:
        return make_probe(readout, seed=seed, device=device).fit(features, y_train)

    readouts = [fitted(train.z1), fitted(train.z2)]
    joint = joint_readout if joint_readout is not None else fitted(train.joint_features())
    classes = readouts[0].classes_
    if not np.array_equal(getattr(joint, "classes_", None), classes):
        raise ValueError("joint_readout must be fitted on the training labels of `train`")
    column = np.searchsorted(classes, y_test).clip(0, len(classes) - 1)
    if not np.array_equal(classes[column], y_test):
        unseen = sorted(set(np.unique(y_test)) - set(classes))
        raise ValueError(f"test.labels holds classes the training labels do not: {unseen[:5]}")
    present = np.unique(column)
    y = np.searchsorted(present, column)  # labels 0..k-1 over the classes the test sample holds

    features = (test.z1, test.z2, test.joint_features())
    probabilities = [r.predict_proba(z) for r, z in zip((*readouts, joint), features, strict=True)]
    posteriors = [p[:, present] for p in probabilities[:2]]
    codes = [_posterior_code(p, y, seed) for p in posteriors]
    loss = max(discretization_loss_bits(p, c, y) for p, c in zip(posteriors, codes, strict=True))
    # Centred log-posteriors are the readouts' logits up to a constant per class: linear in the features for
    # the linear family (the log-posteriors themselves are not: their shared log-sum-exp term would let the
    # cross-fitted readout below read an XOR from a flat posterior's curvature).
    log_posteriors = [np.log(np.maximum(p, _PROB_FLOOR)) for p in probabilities]
    log_posteriors = [lp - lp.mean(axis=1, keepdims=True) for lp in log_posteriors]
    late = _cross_fitted_bits(np.concatenate(log_posteriors[:2], axis=1), y, seed, device)
    fused = _cross_fitted_bits(log_posteriors[2], y, seed, device)
    n, k_labels = len(y), len(present)
    rng = np.random.default_rng(seed)
    rows = [rng.integers(n, size=n) for _ in range(n_bootstrap)]
    shape = (int(codes[0].max()) + 1, int(codes[1].max()) + 1, k_labels)
    values = solve_resampled(codes[0], codes[1], y, shape, rows, device=device)
    values[:, 3] = [fused[r].mean() - late[r].mean() for r in [np.arange(n), *rows]]
    raw, boot = values[0], values[1:]
    estimates = atom_estimates(raw, boot, boot.mean(axis=0) - raw, confidence)
    widened = {name: replace(a, low=a.low - loss, high=a.high + loss) for name, a in estimates.items()}
    return RepresentationPID(
        **widened,
        n_samples=n,
        n_clusters=(shape[0], shape[1]),
        n_labels=k_labels,
        n_permutations=0,
        n_bootstrap=n_bootstrap,
        discretization_loss_bits=loss,
    )


def _cross_fitted_bits(features: np.ndarray, y: np.ndarray, seed: int, device: str) -> np.ndarray:
    """Per row, log2 q(y | features) / prior(y) of a linear readout fitted on the other half of the rows
    (two stratified folds): the mean is the readout's held-out usable information."""
    bits = np.empty(len(y))
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    for fit, held_out in folds.split(features, y):
        bits[held_out] = (
            LinearProbe(Cs=_RECALIBRATION_CS, seed=seed, device=device)
            .fit(features[fit], y[fit])
            .log2_ratio(features[held_out], y[held_out])
        )
    return bits


def _posterior_code(posteriors: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """KL k-means code of a readout's posteriors: the fewest clusters whose Miller-Madow corrected I(C; Y) is
    within `_CODE_TOLERANCE_BITS` of the best candidate's."""
    n = len(y)
    candidates = kl_kmeans_codes(posteriors[:, None, :], [k for k in _CLUSTERS if k < n], seed=seed)
    bits = [miller_madow_mutual_information_bits(joint_table(c, y), n) for c in candidates]
    return next(c for c, b in zip(candidates, bits, strict=True) if b >= max(bits) - _CODE_TOLERANCE_BITS)
