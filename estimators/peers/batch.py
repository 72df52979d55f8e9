"""A BATCH-style neural PID estimator, after Liang et al. ("Quantifying & Modeling Multimodal Interactions",
NeurIPS 2023, §3.2 and their 2024 code release; ../shared/research/pid.md §2.3), implemented from the paper.

BROJA's atoms follow from the smallest I_q(Z1, Z2; Y) over the distributions q that keep both pairwise
marginals p(z1, y) and p(z2, y). BATCH approximates that minimum without discretising:

1. Three classifiers (MLPs) give p(y | z1), p(y | z2) and p(y | z1, z2); each mutual information is the mean
   over samples of KL(p(y | .) || p(y)).
2. On a minibatch of n samples, an alignment network scores every pair (i, j) per label state,
   A[y, i, j] = <f1(z1_i)_y, f2(z2_j)_y> / sqrt(d); Sinkhorn scaling of exp(A[y]) makes its rows sum to
   p(y | z1_i) / n and its columns to p(y | z2_j) / n (the batch's version of "q keeps both marginals"), so q
   is a distribution on (i, j, y) with the data's two pairwise marginals. I_q(Z1, Z2; Y) on the batch is
   minimised with Adam over the alignment network.
3. With M = the minimised I_q averaged over held-out batches and the classifiers' I1, I2, I12 on the same
   held-out rows: R = I1 + I2 - M, U1 = M - I2, U2 = M - I1, S = I12 - M, negatives clipped to 0 as in the
   authors' notebook.

Settings (their defaults where the paper gives them): classifiers and alignment with 2 hidden layers of 64
units; classifiers fitted on half the rows (Adam, early stopping on a fifth of that half), every term
evaluated on the other half; batches of 256, alignment dimension 32, 5 alignment epochs, Sinkhorn until the
marginals are within 1e-3 or 100 sweeps. No interval. Where it breaks: the classifiers' posteriors carry
all of its information (an over- or under-confident classifier moves every atom), and the batch coupling
can only couple rows that share a batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from estimators.registry import PIDEstimate, PIDEstimator, register_estimator
from estimators.threads import one_thread
from estimators.validation import check_codes, check_int

_LOG2 = math.log(2)


def _mlp(inputs: int, outputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs)
    )


def _fit_classifier(
    x: np.ndarray, y: np.ndarray, n_classes: int, hidden: int, seed: int, max_epochs: int = 100
) -> nn.Module:
    """An MLP classifier by Adam on cross-entropy, early-stopped on a stratified fifth of the rows (the best
    validation epoch's weights, patience 10)."""
    torch.manual_seed(seed)
    fit, val = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
    xs, ys = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    model = _mlp(x.shape[1], n_classes, hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    best, best_state, patience = math.inf, None, 0
    for _ in range(max_epochs):
        model.train()
        for batch in torch.as_tensor(fit)[torch.randperm(len(fit), generator=generator)].split(128):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(xs[batch]), ys[batch]).backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            loss = nn.functional.cross_entropy(model(xs[val]), ys[val]).item()
        if loss < best - 1e-4:
            best, best_state, patience = loss, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            patience += 1
            if patience >= 10:
                break
    model.load_state_dict(best_state)
    return model.eval()


def _information_bits(posteriors: torch.Tensor) -> torch.Tensor:
    """Mean KL(p(y | row) || p(y)) in bits, with p(y) the rows' mean posterior."""
    prior = posteriors.mean(dim=0, keepdim=True)
    return (posteriors * (posteriors.clamp_min(1e-12).log() - prior.clamp_min(1e-12).log())).sum(
        1
    ).mean() / _LOG2


def _coupling(scores: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, sweeps: int) -> torch.Tensor:
    """Sinkhorn-scale exp(scores) [y, i, j] so that q[y, i, :] sums to p1[i, y] / n and q[y, :, j] to
    p2[j, y] / n (both rescaled per y to their mean total); returns log q, a distribution on (y, i, j)."""
    n = p1.shape[0]
    rows, cols = p1.T / n, p2.T / n
    total = (rows.sum(1, keepdim=True) + cols.sum(1, keepdim=True)) / 2
    log_rows = (rows * total / rows.sum(1, keepdim=True)).clamp_min(1e-12).log()
    log_cols = (cols * total / cols.sum(1, keepdim=True)).clamp_min(1e-12).log()
    log_q = scores
    for _ in range(sweeps):
        log_q = log_q + (log_rows - log_q.logsumexp(2)).unsqueeze(2)
        column_gap = log_cols - log_q.logsumexp(1)
        log_q = log_q + column_gap.unsqueeze(1)
        if column_gap.detach().abs().max() < 1e-3:
            break
    return log_q - log_q.logsumexp((0, 1, 2))


def _coupled_information_bits(log_q: torch.Tensor) -> torch.Tensor:
    """I_q(Z1, Z2; Y) in bits of a distribution q on (y, i, j) given by its logarithm."""
    q = log_q.exp()
    log_pair = log_q.logsumexp(0, keepdim=True)
    log_label = log_q.logsumexp((1, 2), keepdim=True)
    return (q * (log_q - log_pair - log_label)).sum() / _LOG2


class _Alignment(nn.Module):
    def __init__(self, dim1: int, dim2: int, n_classes: int, hidden: int, dim: int) -> None:
        super().__init__()
        self.f1, self.f2 = _mlp(dim1, n_classes * dim, hidden), _mlp(dim2, n_classes * dim, hidden)
        self.n_classes, self.dim = n_classes, dim

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        a = self.f1(x1).view(len(x1), self.n_classes, self.dim).transpose(0, 1)
        b = self.f2(x2).view(len(x2), self.n_classes, self.dim).transpose(0, 1)
        return a @ b.transpose(1, 2) / math.sqrt(self.dim)  # [y, i, j]


def batch_pid(
    z1: np.ndarray,
    z2: np.ndarray,
    labels: np.ndarray,
    *,
    hidden: int = 64,
    batch_size: int = 256,
    alignment_dim: int = 32,
    alignment_epochs: int = 5,
    sweeps: int = 100,
    seed: int = 0,
) -> PIDEstimate:
    """BATCH-style PID (bits) of continuous representations and discrete labels (see the module docstring)."""
    y = np.unique(check_codes("labels", labels), return_inverse=True)[1].ravel()
    for name, value in (("hidden", hidden), ("batch_size", batch_size), ("alignment_dim", alignment_dim)):
        check_int(name, value, 2)
    check_int("alignment_epochs", alignment_epochs, 1)
    check_int("sweeps", sweeps, 1)
    if not len(z1) == len(z2) == len(y):
        raise ValueError("z1, z2 and labels must have the same rows")
    n_classes = int(y.max()) + 1
    x1, x2 = (np.reshape(z, (len(y), -1)).astype(np.float64) for z in (z1, z2))
    x1, x2 = ((x - x.mean(0)) / np.maximum(x.std(0), 1e-12) for x in (x1, x2))
    fit, held_out = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
    with one_thread():
        both = np.concatenate([x1, x2], axis=1)
        classifiers = [_fit_classifier(x[fit], y[fit], n_classes, hidden, seed) for x in (x1, x2, both)]
        with torch.no_grad():
            posteriors = [
                torch.softmax(c(torch.as_tensor(x, dtype=torch.float32)), dim=1)
                for c, x in zip(classifiers, (x1, x2, both), strict=True)
            ]
        t1, t2 = (torch.as_tensor(x, dtype=torch.float32) for x in (x1, x2))
        torch.manual_seed(seed)
        alignment = _Alignment(x1.shape[1], x2.shape[1], n_classes, hidden, alignment_dim)
        optimiser = torch.optim.Adam(alignment.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(seed)

        def coupled(batch: torch.Tensor) -> torch.Tensor:
            log_q = _coupling(
                alignment(t1[batch], t2[batch]), posteriors[0][batch], posteriors[1][batch], sweeps
            )
            return _coupled_information_bits(log_q)

        for _ in range(alignment_epochs):
            for batch in torch.as_tensor(fit)[torch.randperm(len(fit), generator=generator)].split(
                batch_size
            ):
                if len(batch) < batch_size:
                    continue
                optimiser.zero_grad()
                coupled(batch).backward()
                optimiser.step()
        terms = []
        with torch.no_grad():
            for batch in torch.as_tensor(held_out).split(batch_size):
                if len(batch) < batch_size and terms:
                    continue
                terms.append(
                    [coupled(batch).item()] + [_information_bits(p[batch]).item() for p in posteriors]
                )
    smallest, i1, i2, i12 = np.mean(terms, axis=0)
    atoms = (i1 + i2 - smallest, smallest - i2, smallest - i1, i12 - smallest)
    return PIDEstimate(*(max(0.0, float(atom)) for atom in atoms))


register_estimator(
    PIDEstimator(
        "batch",
        batch_pid,
        "BATCH-style neural estimator: MLP classifiers for p(y | z1), p(y | z2), p(y | z1, z2) and a "
        "Sinkhorn-constrained alignment of the two sources per label state within batches of 256, minimising "
        "I_q(Z1, Z2; Y); no discretisation, no interval",
        "Liang et al., NeurIPS 2023 (Quantifying & Modeling Multimodal Interactions), §3.2",
        {"hidden": 64, "batch_size": 256, "alignment_dim": 32, "alignment_epochs": 5, "sweeps": 100},
    )
)
