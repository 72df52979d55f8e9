"""Bayes-optimal balanced accuracies for factors observed through equidistant prototypes in Gaussian noise.

A factor with K equally likely values is observed as `separation * e_value + noise * eps` (after a rotation,
which changes nothing), so only `snr = separation / noise` matters: the log-likelihood of value j is
`snr * x_j` up to a constant, with `x` the observation in units of the noise. Single-factor accuracies
are 1-D integrals; sums modulo K and the biased-pairing match label use the closed form for K = 2 and a
fixed-seed Monte Carlo over exact posteriors otherwise (2**20 draws, standard error below 5e-4).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from scipy import integrate, special, stats

MONTE_CARLO_DRAWS = 2**20
_MONTE_CARLO_SEED = 20250124


def snr(separation: float, noise: float) -> float:
    return math.inf if noise == 0.0 else separation / noise


@cache
def factor_accuracy(k: int, snr: float) -> float:
    """P(correct) of the MAP decision for one factor: the integral of phi(t) Phi(t + snr)^(k-1)."""
    if k == 1 or math.isinf(snr):
        return 1.0

    def integrand(t: float) -> float:
        return stats.norm.pdf(t) * stats.norm.cdf(t + snr) ** (k - 1)

    value, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-12, epsrel=1e-10)
    return float(min(1.0, value))


def _parity_accuracy(snrs: tuple[float, ...]) -> float:
    """K = 2: the parity of independently decoded bits is right when an even number of them is wrong."""
    return 0.5 * (1.0 + math.prod(2.0 * factor_accuracy(2, s) - 1.0 for s in snrs))


def _posteriors(rng: np.random.Generator, k: int, snr: float, values: np.ndarray) -> np.ndarray:
    """Exact posteriors p(value | x) for noisy observations of the given factor values, shape (n, k)."""
    x = rng.standard_normal((len(values), k))
    x[np.arange(len(values)), values] += snr
    return special.softmax(snr * x, axis=1)


def _sum_posterior(posteriors: list[np.ndarray]) -> np.ndarray:
    """Posterior of (sum of the factors) mod k: the circular convolution of independent posteriors."""
    spectrum = np.prod([np.fft.fft(p, axis=1) for p in posteriors], axis=0)
    return np.fft.ifft(spectrum, axis=1).real


@cache
def sum_mod_accuracy(k: int, snrs: tuple[float, ...]) -> float:
    """Bayes accuracy for s = (s_1 + ... + s_M) mod k, each s_m seen by its own modality with its own snr."""
    if k == 1 or all(math.isinf(s) for s in snrs):
        return 1.0
    if k == 2:
        return _parity_accuracy(snrs)
    return _sum_mod_monte_carlo(k, snrs)


def _sum_mod_monte_carlo(k: int, snrs: tuple[float, ...]) -> float:
    rng = np.random.default_rng(_MONTE_CARLO_SEED)
    # A cyclic relabelling of every factor changes nothing, so conditioning on all-zero factors is exact.
    zeros = np.zeros(MONTE_CARLO_DRAWS, dtype=np.int64)
    posteriors = [_posteriors(rng, k, s, zeros) for s in snrs]
    return float(np.mean(np.argmax(_sum_posterior(posteriors), axis=1) == 0))


@cache
def matching_balanced_accuracy(k: int, snrs: tuple[float, ...], permutation: tuple[int, ...]) -> float:
    """Bayes balanced accuracy for y = 1[s_M == pi((s_1 + ... + s_{M-1}) mod k)] on unbiased data.

    The balanced-accuracy-optimal rule says 1 when p(y = 1 | x) exceeds the prior 1/k.
    """
    if all(math.isinf(s) for s in snrs):
        return 1.0
    if k == 2:
        return _parity_accuracy(snrs)
    return _matching_monte_carlo(k, snrs, permutation)


def _matching_monte_carlo(k: int, snrs: tuple[float, ...], permutation: tuple[int, ...]) -> float:
    rng = np.random.default_rng(_MONTE_CARLO_SEED)
    pi = np.asarray(permutation)
    n = MONTE_CARLO_DRAWS
    rates = []
    for positive in (True, False):
        others = rng.integers(k, size=(len(snrs) - 1, n))
        target = pi[others.sum(axis=0) % k]
        last = target if positive else (target + rng.integers(1, k, size=n)) % k
        posteriors = [_posteriors(rng, k, s, v) for s, v in zip(snrs[:-1], others, strict=True)]
        sum_post = _sum_posterior(posteriors)
        last_post = _posteriors(rng, k, snrs[-1], last)
        p_match = np.sum(sum_post * last_post[:, pi], axis=1)
        says_match = p_match > 1.0 / k
        rates.append(np.mean(says_match if positive else ~says_match))
    return float(np.mean(rates))


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    """Row entropies in bits of probability rows p[n, k]."""
    return -np.sum(special.xlogy(p, p), axis=-1) / math.log(2.0)


def factor_information(k: int, snr: float) -> float:
    """I(X; F) in bits for a factor F uniform over k values seen through one view of the given snr: the sum
    of one factor (fixed-seed Monte Carlo over exact posteriors; standard error below 1e-3 bit)."""
    return sum_mod_information(k, (snr,))


@cache
def sum_mod_information(k: int, snrs: tuple[float, ...]) -> float:
    """I(X_1, ..., X_M; s) in bits for s = (s_1 + ... + s_M) mod k, each s_m seen by its own modality."""
    if k == 1:
        return 0.0
    if all(math.isinf(s) for s in snrs):
        return math.log2(k)
    rng = np.random.default_rng(_MONTE_CARLO_SEED)
    zeros = np.zeros(MONTE_CARLO_DRAWS, dtype=np.int64)
    posterior = _sum_posterior([_posteriors(rng, k, s, zeros) for s in snrs]).clip(0.0, 1.0)
    return float(math.log2(k) - _entropy_bits(posterior).mean())


@cache
def matching_information(k: int, snrs: tuple[float, ...], permutation: tuple[int, ...]) -> float:
    """I(X_1, ..., X_M; y) in bits for the biased-pairing label y = 1[s_M == pi((s_1 + ... + s_{M-1}) mod k)]
    on unbiased data (y = 1 with probability 1 / k)."""
    prior = 1.0 / k
    h_y = float(_entropy_bits(np.array([prior, 1.0 - prior])))
    if all(math.isinf(s) for s in snrs):
        return h_y
    rng = np.random.default_rng(_MONTE_CARLO_SEED)
    pi = np.asarray(permutation)
    n = MONTE_CARLO_DRAWS
    factors = rng.integers(k, size=(len(snrs), n))
    posteriors = [_posteriors(rng, k, s, v) for s, v in zip(snrs, factors, strict=True)]
    p_match = np.sum(_sum_posterior(posteriors[:-1]) * posteriors[-1][:, pi], axis=1).clip(0.0, 1.0)
    return float(h_y - _entropy_bits(np.stack([p_match, 1.0 - p_match], axis=1)).mean())
