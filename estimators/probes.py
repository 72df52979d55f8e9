"""Probes on frozen features: balanced accuracy and usable information in bits.

Usable information follows the predictive ("V-") information of Xu et al. (ICLR 2020):
``max(0, H(Y) - CE_test(Y | Z))``, where ``CE_test(Y | Z)`` is the probe's test cross-entropy and ``H(Y)``
the test cross-entropy of the best input-free predictor of the same family (the training label
frequencies), both in bits. Hyperparameters (the inverse L2 strength ``C`` of the linear probe, the weight
decay ``alpha`` of the MLP probe) are chosen by validation cross-entropy on a stratified split carved from
the training data, never from the test data; the chosen probe is then refit on the whole training data.
The MLP probe also early-stops on its own slice of the training data.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from estimators.validation import check_codes, check_float, check_int

_PROB_FLOOR = 1e-12


@dataclass(frozen=True)
class ProbeScore:
    """What a probe read from features about one label. Information in bits; accuracies as fractions."""

    balanced_accuracy: float
    usable_bits: float
    usable_fraction: float
    label_entropy_bits: float
    cross_entropy_bits: float
    chance: float
    n_classes: int
    predicted_classes: int  # distinct classes predicted on the test set: 1 of n_classes > 1 is degenerate

    @property
    def degenerate(self) -> bool:
        """The probe gave every test sample the same class (its accuracy is chance by construction)."""
        return self.predicted_classes == 1 and self.n_classes > 1

    def as_dict(self) -> dict[str, float]:
        return {
            "balanced_accuracy": self.balanced_accuracy,
            "usable_bits": self.usable_bits,
            "usable_fraction": self.usable_fraction,
            "label_entropy_bits": self.label_entropy_bits,
            "cross_entropy_bits": self.cross_entropy_bits,
            "predicted_classes": self.predicted_classes,
        }


class Probe:
    """Shared fit / score logic: candidates differ by one hyperparameter, picked on a validation split."""

    kind = ""

    def __init__(self, val_fraction: float, seed: int) -> None:
        self.val_fraction = check_float("val_fraction", val_fraction, 0.05)
        if self.val_fraction > 0.5:
            raise ValueError(f"val_fraction must be in [0.05, 0.5], got {val_fraction!r}")
        self.seed = check_int("seed", seed, 0)

    def _candidates(self) -> list[ClassifierMixin]:
        raise NotImplementedError

    def fit(self, features: np.ndarray, labels: np.ndarray) -> Probe:
        """Choose the hyperparameter on a validation split of (features, labels), then refit on all of it."""
        x, y = _check_xy(features, labels)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.prior_ = (counts + 1.0) / (counts.sum() + len(counts))  # Laplace-smoothed label frequencies
        candidates = self._candidates()
        # An iteration cap reached is not an error here: the probe is scored on held-out data either way.
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if len(candidates) > 1 and len(self.classes_) > 1:
                self._check_split(counts)
                x_fit, x_val, y_fit, y_val = train_test_split(
                    x, y, test_size=self.val_fraction, random_state=self.seed, stratify=y
                )
                losses = [_cross_entropy_bits(clone(c).fit(x_fit, y_fit), x_val, y_val) for c in candidates]
                self.validation_bits_ = losses
                best = candidates[int(np.argmin(losses))]
            else:
                best = candidates[0]
            self.model_ = best if len(self.classes_) > 1 else None
            if self.model_ is not None:
                self.model_.fit(x, y)
        return self

    def _check_split(self, counts: np.ndarray) -> None:
        """The stratified validation split must leave every class on both sides."""
        n, k = int(counts.sum()), len(counts)
        n_val = math.ceil(self.val_fraction * n)
        if counts.min() < 2 or n_val < k or n - n_val < k:
            rare = int(self.classes_[int(np.argmin(counts))])
            raise ValueError(
                f"labels: the {self.kind} probe picks its hyperparameter on a stratified validation split "
                f"({self.val_fraction:g} of the data), which needs every class at least twice and at least "
                f"{k} samples on each side; got {n} samples of {k} classes, class {rare!r} with "
                f"{int(counts.min())}"
            )

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probabilities over `classes_`, shape (n, n_classes)."""
        x = _numeric("features", features)
        if self.model_ is None:
            return np.ones((len(x), 1))
        with threadpool_limits(limits=1):
            return self.model_.predict_proba(x)

    def log2_ratio(self, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Per row, log2 p(label | features) / p(label) in bits, p(label) the training label frequencies (a
        label unseen in training counts 0: the probe and the frequencies both give it the probability floor):
        its mean is the usable information before the clip at 0 that `score` applies."""
        x, y = _check_xy(features, labels)
        column = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        seen = self.classes_[column] == y
        p = np.where(seen, self.predict_proba(x)[np.arange(len(y)), column], 0.0)
        prior = np.where(seen, self.prior_[column], _PROB_FLOOR)
        return np.log2(np.maximum(p, _PROB_FLOOR)) - np.log2(prior)

    def score(self, features: np.ndarray, labels: np.ndarray) -> ProbeScore:
        """Balanced accuracy and usable information (bits) of the fitted probe on held-out data.

        Predictions maximise p(y | x) / p(y), with p(y) the training label frequencies: the decision that
        maximises balanced accuracy given the probe's posterior (plain argmax on a rare class, e.g. 10% of
        positives, scores 50% whenever the signal is weaker than the prior). For balanced labels it is the
        usual argmax."""
        x, y = _check_xy(features, labels)
        proba = self.predict_proba(x)
        pred = self.classes_[np.argmax(proba / self.prior_, axis=1)]
        cross_entropy = _mean_neg_log2(proba, self.classes_, y)
        entropy = _mean_neg_log2(np.broadcast_to(self.prior_, (len(y), len(self.prior_))), self.classes_, y)
        usable = max(0.0, entropy - cross_entropy)
        n_classes = len(np.union1d(self.classes_, np.unique(y)))
        return ProbeScore(
            balanced_accuracy=float(balanced_accuracy_score(y, pred)),
            usable_bits=usable,
            usable_fraction=usable / entropy if entropy > 0 else 0.0,
            label_entropy_bits=entropy,
            cross_entropy_bits=cross_entropy,
            chance=1.0 / n_classes,
            n_classes=n_classes,
            predicted_classes=len(np.unique(pred)),
        )


class LinearProbe(Probe):
    """Multinomial logistic regression (L-BFGS) on standardised features; C chosen on validation data."""

    kind = "linear"

    def __init__(
        self,
        Cs: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0),
        val_fraction: float = 0.2,
        seed: int = 0,
        max_iter: int = 1000,
    ) -> None:
        super().__init__(val_fraction, seed)
        if not Cs or any(not (c > 0 and math.isfinite(c)) for c in Cs):
            raise ValueError(f"Cs must be a non-empty tuple of finite numbers > 0, got {Cs!r}")
        self.Cs = tuple(Cs)
        self.max_iter = max_iter

    def _candidates(self) -> list[Pipeline]:
        return [
            make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=self.max_iter)) for c in self.Cs
        ]


class MLPProbe(Probe):
    """One-hidden-layer ReLU MLP (Adam, early stopping) on standardised features; weight decay chosen on
    validation data."""

    kind = "mlp"

    def __init__(
        self,
        hidden: int = 256,
        alphas: tuple[float, ...] = (1e-4, 1e-2),
        val_fraction: float = 0.2,
        seed: int = 0,
        max_iter: int = 300,
    ) -> None:
        super().__init__(val_fraction, seed)
        hidden = check_int("hidden", hidden, 1)
        if not alphas or any(not (a >= 0 and math.isfinite(a)) for a in alphas):
            raise ValueError(f"alphas must be a non-empty tuple of finite numbers >= 0, got {alphas!r}")
        self.hidden = hidden
        self.alphas = tuple(alphas)
        self.max_iter = max_iter

    def _candidates(self) -> list[Pipeline]:
        return [
            make_pipeline(
                StandardScaler(),
                MLPClassifier(
                    hidden_layer_sizes=(self.hidden,),
                    alpha=a,
                    batch_size=256,
                    learning_rate_init=1e-3,
                    max_iter=self.max_iter,
                    early_stopping=True,
                    validation_fraction=0.1,
                    n_iter_no_change=10,
                    random_state=self.seed,
                ),
            )
            for a in self.alphas
        ]


PROBES = {"linear": LinearProbe, "mlp": MLPProbe}


def probe_score(
    kind: str,
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    seed: int = 0,
) -> ProbeScore:
    """Fit a `kind` probe ("linear" or "mlp") on the training data and score it on the test data."""
    if kind not in PROBES:
        raise ValueError(f"kind must be one of {', '.join(map(repr, PROBES))}, got {kind!r}")
    return PROBES[kind](seed=seed).fit(train_features, train_labels).score(test_features, test_labels)


def _check_xy(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = _numeric("features", features)
    y = check_codes("labels", labels)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"features must be (n, d) and labels (n,) with n >= 1, got {x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features must be finite")
    return x, y


def _numeric(name: str, values: object) -> np.ndarray:
    array = np.asarray(values)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array.astype(np.float64)


def _mean_neg_log2(proba: np.ndarray, classes: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log2 p(label) with p from `proba` columns ordered as `classes` (unseen labels get the floor)."""
    column = np.searchsorted(classes, labels)
    column = np.clip(column, 0, len(classes) - 1)
    seen = classes[column] == labels
    p = np.where(seen, proba[np.arange(len(labels)), column], 0.0)
    return float(-np.mean(np.log2(np.maximum(p, _PROB_FLOOR))))


def _cross_entropy_bits(model: ClassifierMixin, x: np.ndarray, y: np.ndarray) -> float:
    return _mean_neg_log2(model.predict_proba(x), model.classes_, y)
