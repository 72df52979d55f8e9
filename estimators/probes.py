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
import torch
from sklearn.base import ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from estimators.threads import one_thread
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

    def _validation_bits(
        self, x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> list[float]:
        """Validation cross-entropy (bits) of each candidate fitted on (x_fit, y_fit)."""
        raise NotImplementedError

    def _refit(self, x: np.ndarray, y: np.ndarray, best: int) -> object:
        """Candidate `best` fitted on all the training data: an object with `predict_proba`."""
        raise NotImplementedError

    def _n_candidates(self) -> int:
        raise NotImplementedError

    def fit(self, features: np.ndarray, labels: np.ndarray) -> Probe:
        """Choose the hyperparameter on a validation split of (features, labels), then refit on all of it."""
        x, y = _check_xy(features, labels)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.prior_ = (counts + 1.0) / (counts.sum() + len(counts))  # Laplace-smoothed label frequencies
        self.model_ = None
        if len(self.classes_) < 2:
            return self
        # An iteration cap reached is not an error here: the probe is scored on held-out data either way.
        with one_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            best = 0
            if self._n_candidates() > 1:
                self._check_split(counts)
                x_fit, x_val, y_fit, y_val = train_test_split(
                    x, y, test_size=self.val_fraction, random_state=self.seed, stratify=y
                )
                self.validation_bits_ = self._validation_bits(x_fit, y_fit, x_val, y_val)
                best = int(np.argmin(self.validation_bits_))
            self.model_ = self._refit(x, y, best)
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
        with one_thread():
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
    """Multinomial logistic regression with an L2 penalty on standardised features; C chosen on validation
    data, then refit on all of it.

    The objective is scikit-learn's (`LogisticRegression`, lbfgs): mean cross-entropy + ||W||^2 / (2 C n),
    the intercept unpenalised, one weight vector for two classes. It is minimised by full-batch L-BFGS in
    torch (float64) on `device`, to a gradient of `tol`, in preconditioned coordinates: W = M^-1/2 V with M
    the penalised Gauss-Newton curvature X^T diag(w) X / n + 1 / (C n), w the softmax variance of each row
    at the starting point. The minimiser is the same; the iterations are not. Features of trained encoders
    are ill-conditioned, and plain L-BFGS (scikit-learn's) stops at its iteration cap far from the optimum
    on weakly penalised candidates (measured on quick Trifeature features: 1,000 iterations at C = 10 and
    100, 5 s per 10-class task; here 30-120 iterations, under 1 s). The Cs run from the strongest penalty
    up, each starting from the previous solution, and the refit on all the data starts from the chosen one.
    """

    kind = "linear"

    def __init__(
        self,
        Cs: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0),
        val_fraction: float = 0.2,
        seed: int = 0,
        max_iter: int = 1000,
        tol: float = 1e-4,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(val_fraction, seed)
        if not Cs or any(not (c > 0 and math.isfinite(c)) for c in Cs):
            raise ValueError(f"Cs must be a non-empty tuple of finite numbers > 0, got {Cs!r}")
        self.Cs = tuple(sorted(Cs))
        self.max_iter = check_int("max_iter", max_iter, 1)
        self.tol = check_float("tol", tol, 0.0, strict=True)
        self.device = torch.device(device)

    def _n_candidates(self) -> int:
        return len(self.Cs)

    def _validation_bits(
        self, x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> list[float]:
        model, bits, self._path = None, [], []
        for c in self.Cs:
            model = self._fitted(x_fit, y_fit, c, model)
            self._path.append(model)
            bits.append(_mean_neg_log2(model.predict_proba(x_val), self.classes_, y_val))
        return bits

    def _refit(self, x: np.ndarray, y: np.ndarray, best: int) -> SoftmaxRegression:
        self.C_ = self.Cs[best]
        start = self._path[best] if len(self.Cs) > 1 else None
        self._path = []
        return self._fitted(x, y, self.C_, start)

    def _fitted(
        self, x: np.ndarray, y: np.ndarray, c: float, start: SoftmaxRegression | None
    ) -> SoftmaxRegression:
        return SoftmaxRegression.fit(
            x, y, self.classes_, c, start=start, max_iter=self.max_iter, tol=self.tol, device=self.device
        )


class SoftmaxRegression:
    """A fitted linear readout: p(y | x) = softmax(((x - mean) / scale) W + b) over `classes`, W with one
    column per class (one column against a zero logit for two classes). `n_iter`: L-BFGS iterations taken."""

    def __init__(
        self, mean: torch.Tensor, scale: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor, n_iter: int
    ) -> None:
        self.mean, self.scale, self.weights, self.bias, self.n_iter = mean, scale, weights, bias, n_iter

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        classes: np.ndarray,
        C: float,
        *,
        start: SoftmaxRegression | None = None,
        max_iter: int = 1000,
        tol: float = 1e-4,
        device: torch.device | str = "cpu",
    ) -> SoftmaxRegression:
        """Minimise mean cross-entropy + ||W||^2 / (2 C n) on standardised x (see `LinearProbe`), from
        `start`'s W and b if given (its standardisation may differ: the function, not the coordinates,
        is carried over)."""
        features = torch.as_tensor(x, dtype=torch.float64, device=device)
        mean = features.mean(0)
        scale = features.std(0, correction=0)
        scale = torch.where(scale > 0, scale, 1.0)
        z = (features - mean) / scale
        n, d = z.shape
        k = len(classes)
        columns = 1 if k == 2 else k
        target = torch.nn.functional.one_hot(
            torch.as_tensor(np.searchsorted(classes, y), device=device), k
        ).to(z.dtype)
        if start is None:
            weights = torch.zeros((d, columns), dtype=z.dtype, device=device)
            bias = torch.zeros(columns, dtype=z.dtype, device=device)
        else:  # the same function in this standardisation
            weights = start.weights * (scale / start.scale)[:, None]
            bias = start.bias + ((mean - start.mean) / start.scale) @ start.weights
        penalty = 1.0 / (C * n)
        p = _softmax(z @ weights + bias)
        variance = (p * (1 - p)).sum(1) / max(k, 2)
        curvature = (z * variance[:, None]).T @ z / n
        eigenvalues, eigenvectors = torch.linalg.eigh(curvature)
        root = (eigenvalues.clamp_min(0) + penalty).sqrt()
        precondition = (eigenvectors / root) @ eigenvectors.T  # M^-1/2
        z_pre = z @ precondition
        theta = torch.cat([((eigenvectors * root) @ eigenvectors.T @ weights).ravel(), bias])
        theta.requires_grad_(True)
        squared = precondition @ precondition
        n_weights = d * columns

        def objective() -> torch.Tensor:
            v, b = theta.detach()[:n_weights].view(d, columns), theta.detach()[n_weights:]
            logits = z_pre @ v + b
            log_p = torch.log_softmax(_with_zero_logit(logits), dim=1)
            w = precondition @ v
            loss = -(log_p * target).sum() / n + 0.5 * penalty * (w * w).sum()
            residual = (log_p.exp() - target) / n
            if columns == 1:
                residual = residual[:, 1:]
            theta.grad = torch.cat([(z_pre.T @ residual + penalty * (squared @ v)).ravel(), residual.sum(0)])
            return loss

        optimizer = torch.optim.LBFGS(
            [theta], lr=1, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-14, history_size=20,
            line_search_fn="strong_wolfe",
        )  # fmt: skip
        optimizer.step(objective)
        n_iter = optimizer.state[optimizer._params[0]]["n_iter"]
        v, b = theta.detach()[:n_weights].view(d, columns), theta.detach()[n_weights:]
        return cls(mean, scale, precondition @ v, b, n_iter)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities over the classes, shape (n, n_classes), float64."""
        features = torch.as_tensor(x, dtype=torch.float64, device=self.mean.device)
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return _softmax(logits).cpu().numpy()


def _with_zero_logit(logits: torch.Tensor) -> torch.Tensor:
    """One logit column per class: a single column is the second class's against a zero first."""
    if logits.shape[1] == 1:
        return torch.cat([torch.zeros_like(logits), logits], dim=1)
    return logits


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(_with_zero_logit(logits), dim=1)


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

    def _n_candidates(self) -> int:
        return len(self.alphas)

    def _validation_bits(
        self, x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> list[float]:
        return [_cross_entropy_bits(c.fit(x_fit, y_fit), x_val, y_val) for c in self._candidates()]

    def _refit(self, x: np.ndarray, y: np.ndarray, best: int) -> Pipeline:
        return self._candidates()[best].fit(x, y)

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


def make_probe(kind: str, seed: int = 0, device: str | torch.device = "cpu") -> Probe:
    """A `kind` probe with its defaults. The linear probe fits on `device`; the MLP probe (scikit-learn)
    on the CPU wherever the features came from."""
    if kind not in PROBES:
        raise ValueError(f"kind must be one of {', '.join(map(repr, PROBES))}, got {kind!r}")
    return LinearProbe(seed=seed, device=device) if kind == "linear" else PROBES[kind](seed=seed)


def probe_score(
    kind: str,
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    seed: int = 0,
) -> ProbeScore:
    """Fit a `kind` probe ("linear" or "mlp") on the training data and score it on the test data."""
    return make_probe(kind, seed).fit(train_features, train_labels).score(test_features, test_labels)


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
