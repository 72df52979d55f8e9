"""Exact BROJA partial information decomposition of discrete tables p[x1, x2, y], fast and batched.

BROJA (Bertschinger, Rauh, Olbrich, Jost & Ay, "Quantifying unique information", Entropy 2014) defines
the atoms through  min I_q(X1, X2; Y)  over the couplings q that keep p's (x1, y) and (x2, y) marginals:
U1 = I_q*(X1; Y | X2), U2 = I_q*(X2; Y | X1), R = I(X1; Y) - U1, S = I(X1, X2; Y) - I_q*(X1, X2; Y).

The solver works on the convex dual of that program. Writing the objective as
sum q log q(y | x1, x2) (the rest is the constant H(Y)), its conjugate turns the problem into

    maximise  sum p(x1, y) lam[x1, y] + sum p(x2, y) mu[x2, y]
    subject to  logsumexp_y (lam[x1, y] + mu[x2, y]) <= 0   for every (x1, x2),

with (|X1| + |X2|) |Y| unknowns and one smooth constraint per (x1, x2). A log-barrier interior-point
method solves it with damped Newton steps; every barrier centre gives a primal coupling
q(x1, x2, y) = softmax_y(lam + mu) / (t * -logsumexp), whose marginals are exact up to the Newton residual
(a few iterative-proportional-fitting sweeps remove that). The primal value at that coupling and the
dual value bracket the optimum: their difference is the certified optimality gap reported with every
result. Arithmetic is torch float64, batched over tables of one shape, on any device.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from estimators.threads import one_thread
from estimators.validation import check_float

LN2 = math.log(2.0)
_BARRIER_GROWTH = 16.0
_CENTRED = 1e-10  # half the squared Newton decrement below which a barrier centre is accepted
_ON_THE_WAY = 1e-3  # the same, for the centres before the last: the last centre alone is certified
_QUADRATIC = 1e-2  # below this decrement the full Newton step is taken
_MAX_CENTRING = 50
_KEEP_SLACK = 0.3  # a step may shrink no constraint's slack below this fraction
_MAX_OUTER = 40
_IPF_SWEEPS = 30
_SCHUR_BLOCKS = 4


@dataclass(frozen=True)
class PIDResult:
    """BROJA PID atoms and the mutual informations they split, all in bits.

    `gap_bits` is the certified optimality gap of the solver: the optimum of min I_q(X1, X2; Y) lies within
    it of the value used, so every atom is exact to within `gap_bits`.
    """

    redundancy: float
    unique1: float
    unique2: float
    synergy: float
    mi_x1_y: float
    mi_x2_y: float
    mi_x1x2_y: float
    gap_bits: float

    @property
    def atoms(self) -> dict[str, float]:
        return {
            "redundancy": self.redundancy,
            "unique1": self.unique1,
            "unique2": self.unique2,
            "synergy": self.synergy,
        }


def broja_pid(p: np.ndarray, *, tol_bits: float = 1e-10, device: str | torch.device = "cpu") -> PIDResult:
    """BROJA PID (bits) of one table p[x1, x2, y] (nonnegative, summing to 1)."""
    return broja_pid_batch([p], tol_bits=tol_bits, device=device)[0]


def broja_pid_batch(
    tables: Sequence[np.ndarray] | np.ndarray,
    *,
    tol_bits: float = 1e-10,
    resamples_of_first: bool = False,
    device: str | torch.device = "cpu",
) -> list[PIDResult]:
    """BROJA PID of many tables. Tables of one shape are solved together in one batched Newton loop.

    `resamples_of_first=True` says the tables after the first are resamples of its rows (e.g. bootstrap
    replicates): all of one shape, each within the first's support. The first is then solved alone and the
    others start from its barrier centre at t = 16 m: on the PID of representations' tables a fifth to a
    quarter fewer Newton steps, the same atoms.
    On the CPU the solve runs on one thread: its small dense operations gain little from a second one on a
    quiet machine and lose several-fold when another process competes for the cores."""
    tol_bits = check_float("tol_bits", tol_bits, 0.0, strict=True)
    if tol_bits >= 1:
        raise ValueError(f"tol_bits must be a number in (0, 1), got {tol_bits!r}")
    arrays = [_validated(t) for t in tables]
    if resamples_of_first and arrays:
        if len({a.shape for a in arrays}) > 1:
            raise ValueError("resamples_of_first needs tables of one shape")
        if any(((a > 0) & (arrays[0] == 0)).any() for a in arrays[1:]):
            raise ValueError(
                "resamples_of_first: a table after the first has a cell outside the first's support"
            )
    results: list[PIDResult | None] = [None] * len(arrays)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.shape, []).append(i)
    with one_thread():
        for indices in groups.values():
            batch = torch.as_tensor(
                np.stack([arrays[i] for i in indices]), dtype=torch.float64, device=device
            )
            for i, result in zip(indices, _solve(batch, tol_bits * LN2, resamples_of_first), strict=True):
                results[i] = result
    return results  # type: ignore[return-value]


def _validated(p: np.ndarray) -> np.ndarray:
    try:
        p = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"p must be a numeric 3-D table p[x1, x2, y]: {error}") from None
    if p.ndim != 3 or min(p.shape) < 1:
        raise ValueError(f"p must be a 3-D table p[x1, x2, y] with every axis >= 1, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("p must hold finite nonnegative probabilities")
    if abs(p.sum() - 1.0) > 1e-8:
        raise ValueError(f"p must sum to 1 (within 1e-8), got {p.sum()!r}")
    return p / p.sum()


def _entropy(p: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Entropy in nats over `dims` (zero cells contribute nothing)."""
    return -torch.special.xlogy(p, p).sum(dim=dims)


def _mutual_informations(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """H(Y), I(X1;Y), I(X2;Y), I(X1,X2;Y) in nats, per table of the batch p[n, x1, x2, y]."""
    py, pac, pbc = p.sum((1, 2)), p.sum(2), p.sum(1)
    pa, pb, pab = pac.sum(-1), pbc.sum(-1), p.sum(-1)
    hy = _entropy(py, (1,))
    i1 = hy + _entropy(pa, (1,)) - _entropy(pac, (1, 2))
    i2 = hy + _entropy(pb, (1,)) - _entropy(pbc, (1, 2))
    i12 = hy + _entropy(pab, (1, 2)) - _entropy(p, (1, 2, 3))
    return hy, i1, i2, i12


def _coupling_information(q: torch.Tensor, hy: torch.Tensor) -> torch.Tensor:
    """I_q(X1,X2;Y) in nats for couplings q[n, x1, x2, y] that keep p(y) (so H(Y) = hy)."""
    return hy - (_entropy(q, (1, 2, 3)) - _entropy(q.sum(-1), (1, 2)))


def _conditional_independence_value(p: torch.Tensor, hy: torch.Tensor) -> torch.Tensor:
    """I_q(X1,X2;Y) in nats at the feasible q = p(x1|y) p(x2|y) p(y): an upper bound on the optimum."""
    py = p.sum((1, 2))
    pac, pbc = p.sum(2), p.sum(1)
    q = pac[:, :, None, :] * pbc[:, None, :, :] / torch.where(py > 0, py, 1.0)[:, None, None, :]
    return _coupling_information(q, hy)


@dataclass
class _Point:
    """A strictly feasible dual point, evaluated: the dual objective, sum log(slack), logsumexp, softmax."""

    theta: torch.Tensor
    dual: torch.Tensor
    log_slack: torch.Tensor
    g: torch.Tensor
    pi: torch.Tensor

    def phi(self, t: torch.Tensor) -> torch.Tensor:
        return -t * self.dual - self.log_slack

    def tables(self, keep: torch.Tensor) -> _Point:
        """The point of the tables `keep` only."""
        return _Point(*(getattr(self, f.name)[keep] for f in fields(self)))

    def updated(self, keep: torch.Tensor, other: _Point) -> _Point:
        """This point with the tables `keep` replaced by `other`'s."""
        return _Point(
            *(getattr(self, f.name).index_copy(0, keep, getattr(other, f.name)) for f in fields(self))
        )


class _Barrier:
    """The dual barrier problem of a batch: phi_t = -t * dual objective - sum log(-logsumexp).

    It works on the (x1, x2, y) triples allowed in some table of the batch (p(x1, y) > 0 and p(x2, y) > 0),
    not on the dense table: the empirical tables of a PID of representations allow a small fraction of
    their cells. A triple not allowed in one table is masked out of it."""

    def __init__(self, p: torch.Tensor) -> None:
        self.pac, self.pbc = p.sum(2), p.sum(1)
        self.n, self.a, self.b, self.c = n, a, b, c = p.shape
        allowed = (self.pac[:, :, None, :] > 0) & (self.pbc[:, None, :, :] > 0)
        # In lexicographic order, so the triples of each (x1, x2) cell are contiguous.
        x1, x2, y = allowed.any(0).nonzero(as_tuple=True)
        self.mask = allowed[:, x1, x2, y]
        self.cell = torch.unique_consecutive(x1 * b + x2, return_inverse=True)[1]
        n_cells = int(self.cell.max()) + 1
        allowed_per_cell = torch.zeros((n, n_cells), dtype=p.dtype, device=p.device)
        self.constrained = allowed_per_cell.index_add_(1, self.cell, self.mask.to(p.dtype)) > 0
        self.m = self.constrained.sum(1).to(p.dtype)
        self.index_a, self.mu = x1 * c + y, x2 * c + y  # the triple's lam and mu unknowns
        self.index_b = a * c + self.mu  # its mu unknown among all unknowns
        self.dense_index = (x1 * b + x2) * c + y
        self.live = torch.cat([(self.pac > 0).flatten(1), (self.pbc > 0).flatten(1)], dim=1)
        self.objective = torch.cat([self.pac.flatten(1), self.pbc.flatten(1)], dim=1)  # gradient of the dual
        # Ordered pairs of triples in one cell: where the Hessian's per-cell kernels have entries.
        sizes = torch.bincount(self.cell, minlength=n_cells)
        repeats = sizes[self.cell]
        self.first = torch.repeat_interleave(torch.arange(len(y), device=p.device), repeats)
        starts = torch.cumsum(sizes, 0) - sizes
        offsets = torch.cumsum(repeats, 0) - repeats
        self.second = starts[self.cell[self.first]] + (
            torch.arange(len(self.first), device=p.device) - torch.repeat_interleave(offsets, repeats)
        )
        self.rows = self.live[:, : a * c].any(0).nonzero()[:, 0]  # lam unknowns live in some table
        self.cols = self.live[:, a * c :].any(0).nonzero()[:, 0]  # mu unknowns live in some table
        column = torch.full((b * c,), -1, dtype=torch.long, device=p.device)
        column[self.cols] = torch.arange(len(self.cols), device=p.device)
        # Da's block of x1 only over the lam unknowns (x1, y) live in some table, padded to `slots` per x1:
        # a few of the |Y| labels per symbol on sparse tables. Slot x1 * slots + s is x1's s-th live label.
        row_x1 = self.rows // c
        per_x1 = torch.bincount(row_x1, minlength=a)
        self.slots = slots = max(int(per_x1.max()), 1)
        first_slot = torch.cumsum(per_x1, 0) - per_x1
        self.slot_rows = row_x1 * slots + torch.arange(len(self.rows), device=p.device) - first_slot[row_x1]
        slot_of = torch.full((a * c,), -1, dtype=torch.long, device=p.device)
        slot_of[self.rows] = self.slot_rows
        # Where a pair's kernel entry goes: Da's (x1, slot, slot') blocks, X's (x1 slot, live mu) rows and
        # columns, and Db over the live mu unknowns (straight into the Schur complement); then the same for a
        # triple with itself (the diagonal part of the kernel).
        lam_slot, mu_column, n_cols = slot_of[self.index_a], column[self.mu], len(self.cols)
        self.pair_block_a = lam_slot[self.first] * slots + lam_slot[self.second] % slots
        self.pair_cross = lam_slot[self.first] * n_cols + mu_column[self.second]
        self.pair_schur = mu_column[self.first] * n_cols + mu_column[self.second]
        self.self_block_a = lam_slot * slots + lam_slot % slots
        self.self_cross = lam_slot * n_cols + mu_column
        self.self_schur = mu_column * (n_cols + 1)

    def tables(self, keep: torch.Tensor) -> _Barrier:
        """The problem of the tables `keep` only. The index structures stay those of the whole batch: an
        unknown dead in every kept table is pinned like any dead unknown."""
        subset = copy.copy(self)
        for name in ("pac", "pbc", "mask", "constrained", "m", "live", "objective"):
            setattr(subset, name, getattr(self, name)[keep])
        subset.n = len(keep)
        return subset

    def point(self, theta: torch.Tensor) -> _Point:
        """Evaluate theta; an infeasible table gets log_slack = -inf (so phi = +inf)."""
        scores = (theta[:, self.index_a] + theta[:, self.index_b]).masked_fill(~self.mask, -math.inf)
        top = torch.full(self.constrained.shape, -math.inf, dtype=theta.dtype, device=theta.device)
        top = top.scatter_reduce(1, self.cell.expand_as(scores), scores, "amax")
        top = torch.where(self.constrained, top, 0.0)
        weights = torch.exp(scores - top[:, self.cell])
        total = torch.zeros_like(top).index_add_(1, self.cell, weights)
        g = torch.where(self.constrained, top + torch.log(total.clamp_min(1e-300)), -1.0)
        pi = torch.where(self.mask, weights / total.clamp_min(1e-300)[:, self.cell], 0.0)
        dual = (self.objective * theta).sum(1)
        infeasible = ((g >= 0) & self.constrained).any(dim=1)
        log_slack = torch.log(torch.where(self.constrained, -g, 1.0).clamp_min(1e-300)).sum(1)
        return _Point(theta, dual, log_slack.masked_fill(infeasible, -math.inf), g, pi)

    def newton_step(self, x: _Point, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, _Solver]:
        """Newton direction of phi_t, half the squared Newton decrement per table, the factorised Hessian."""
        w1 = torch.where(self.constrained, 1.0 / (-x.g), 0.0)
        wpi = w1[:, self.cell] * x.pi
        barrier_grad = torch.zeros_like(self.objective).index_add_(1, self.index_a, wpi)
        barrier_grad.index_add_(1, self.index_b, wpi)
        grad = torch.where(self.live, barrier_grad - t[:, None] * self.objective, 0.0)
        # Hessian of w1 * logsumexp + barrier curvature: K = w1 diag(pi) + (w1^2 - w1) pi pi^T per (x1, x2).
        solver = _Solver(self, x.pi, wpi, w1 * w1 - w1)
        step = -solver.solve(grad)
        return step, -(grad * step).sum(1) / 2, solver

    def coupling(self, x: _Point, t: torch.Tensor) -> torch.Tensor:
        """The primal coupling of a barrier centre, fitted to the marginals exactly by IPF sweeps."""
        mass = torch.where(self.constrained, 1.0 / (t[:, None] * -x.g), 0.0)[:, self.cell] * x.pi
        q = torch.zeros((self.n, self.a * self.b * self.c), dtype=mass.dtype, device=mass.device)
        q = q.index_copy(1, self.dense_index, mass).view(self.n, self.a, self.b, self.c)
        for _ in range(_IPF_SWEEPS):
            q = q * _ratio(self.pac, q.sum(2))[:, :, None, :]
            q = q * _ratio(self.pbc, q.sum(1))[:, None, :, :]
        return q


class _Solver:
    """Solves with the Hessian H = [[Da, X], [X^T, Db]] assembled from per-(x1, x2) kernels K[x1, x2], given
    at the ordered pairs of allowed triples of each cell.

    Da (lam side) and Db (mu side) are block diagonal (one block per symbol, over its live labels) and
    X[x1, :, x2, :] is K[x1, x2]. Da is eliminated block by block, leaving a Schur complement over the mu
    side only. Dead unknowns (zero marginals) touch nothing and are pinned; the Schur complement is formed
    over the mu unknowns live in some table of the batch only, from the live lam rows only, which is what
    makes the sparse tables of a PID of representations cheap (most (x, y) cells are empty there). The
    system is Jacobi-scaled (entry by entry, before assembly); a relative ridge covers the gauge
    lam[., y] + k_y, mu[., y] - k_y, along which phi is flat and gradients vanish.
    """

    def __init__(self, problem: _Barrier, pi: torch.Tensor, wpi: torch.Tensor, outer: torch.Tensor) -> None:
        """The kernel of each cell is wpi on the diagonal plus outer * pi pi^T (`outer` per cell)."""
        self.shape = (problem.n, problem.a, problem.b, problem.c)
        n, a, _, c = self.shape
        self.rows, self.cols, self.slot_rows = problem.rows, problem.cols, problem.slot_rows
        live_a, live_b = problem.live[:, : a * c], problem.live[:, a * c :]
        outer_pi = outer.index_select(1, problem.cell) * pi
        on_diagonal = wpi + outer_pi * pi
        zeros = torch.zeros_like(problem.objective)
        diagonal_a = zeros[:, : a * c].index_add(1, problem.index_a, on_diagonal)
        diagonal_b = zeros[:, a * c :].index_add(1, problem.mu, on_diagonal)
        scale_a = torch.where(live_a, diagonal_a, 1.0).clamp_min(1e-300).rsqrt()
        scale_b = torch.where(live_b, diagonal_b, 1.0).clamp_min(1e-300).rsqrt()
        self.scale = torch.cat([scale_a, scale_b], dim=1)
        # Jacobi scaling entry by entry: a pair's entry is outer * pi pi' times the scales of its unknowns.
        triple_a, triple_b = scale_a.index_select(1, problem.index_a), scale_b.index_select(1, problem.mu)
        left_a = (outer_pi * triple_a).index_select(1, problem.first)
        left_b = (outer_pi * triple_b).index_select(1, problem.first)
        right_a = (pi * triple_a).index_select(1, problem.second)
        right_b = (pi * triple_b).index_select(1, problem.second)
        n_cols = len(self.cols)

        def assembled(size: int, pairs: tuple[torch.Tensor, torch.Tensor], selves: tuple) -> torch.Tensor:
            matrix = torch.zeros((n, size), dtype=pi.dtype, device=pi.device).index_add_(1, *pairs)
            return matrix.index_add_(1, *selves)

        slots = problem.slots
        block_a = assembled(
            a * slots * slots,
            (problem.pair_block_a, left_a * right_a),
            (problem.self_block_a, wpi * triple_a**2),
        ).view(n, a, slots, slots)
        live_slots = torch.zeros((n, a * slots), dtype=torch.bool, device=pi.device)
        live_slots[:, problem.slot_rows] = live_a[:, self.rows]
        block_a.diagonal(dim1=-2, dim2=-1).add_(torch.where(live_slots, 1e-12, 1.0).view(n, a, slots))
        # The inverse Cholesky factors of Da's small blocks: plain batched products from here on.
        identity = torch.eye(slots, dtype=pi.dtype, device=pi.device).expand(n, a, slots, slots)
        self.inv_a = torch.linalg.solve_triangular(_cholesky(block_a), identity, upper=False)
        cross = assembled(
            a * slots * n_cols,
            (problem.pair_cross, left_a * right_b),
            (problem.self_cross, wpi * triple_a * triple_b),
        )
        self.y = self.inv_a @ cross.view(n, a, slots, n_cols)
        self.y_rows = self.y.view(n, a * slots, n_cols)[:, problem.slot_rows]  # La^-1 X, live rows
        block_b = assembled(
            n_cols * n_cols, (problem.pair_schur, left_b * right_b), (problem.self_schur, wpi * triple_b**2)
        )
        schur = block_b.view(n, n_cols, n_cols)
        # Db - Y^T Y, its lower triangle only (all the Cholesky factorisation reads): block row by block row,
        # 5/8 of the full product's work.
        for start in range(0, n_cols, -(-n_cols // _SCHUR_BLOCKS)):
            end = min(start + -(-n_cols // _SCHUR_BLOCKS), n_cols)
            schur[:, start:end, :end] -= (
                self.y_rows[:, :, start:end].transpose(1, 2) @ self.y_rows[:, :, :end]
            )
        schur.diagonal(dim1=1, dim2=2).add_(torch.where(live_b[:, self.cols], 1e-12, 1.0))
        self.chol_s = _cholesky(schur)

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        n, a, b, c = self.shape
        slots = self.inv_a.shape[-1]
        rhs = rhs * self.scale
        rhs_slots = torch.zeros((n, a * slots), dtype=rhs.dtype, device=rhs.device)
        rhs_slots[:, self.slot_rows] = rhs[:, self.rows]
        z_a = self.inv_a @ rhs_slots.view(n, a, slots, 1)
        r_b = (
            rhs[:, a * c :][:, self.cols]
            - (self.y_rows.transpose(1, 2) @ z_a.view(n, a * slots, 1)[:, self.slot_rows])[..., 0]
        )
        x_live = torch.cholesky_solve(r_b[..., None], self.chol_s)
        x_slots = self.inv_a.transpose(-2, -1) @ (z_a - self.y @ x_live[:, None, :, :])
        # A lam unknown dead in every table is pinned (its row of H is the identity after scaling).
        x_a = rhs[:, : a * c].clone()
        x_a[:, self.rows] = x_slots.view(n, a * slots)[:, self.slot_rows]
        x_b = torch.zeros((n, b * c), dtype=rhs.dtype, device=rhs.device)
        x_b[:, self.cols] = x_live[..., 0]
        return torch.cat([x_a, x_b], dim=1) * self.scale


def _cholesky(matrix: torch.Tensor) -> torch.Tensor:
    """Cholesky factor; retried with a slightly larger ridge where rounding left a pivot nonpositive."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    if bool((info > 0).any()):
        ridge = 1e-8 * matrix.diagonal(dim1=-2, dim2=-1).abs().amax(-1).clamp_min(1.0)
        factor = torch.linalg.cholesky(matrix + torch.diag_embed(ridge[..., None].expand(matrix.shape[:-1])))
    return factor


def _ratio(target: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    return torch.where(current > 0, target / torch.where(current > 0, current, 1.0), 0.0)


def _solve(p: torch.Tensor, tol_nats: float, resamples_of_first: bool = False) -> list[PIDResult]:
    # The Schur complement runs over the x2 side: give it the side with fewer live (x, y) cells.
    if int((p.sum(1) > 0).any(0).sum()) > int((p.sum(2) > 0).any(0).sum()):
        return [_swapped(r) for r in _solve(p.transpose(1, 2), tol_nats, resamples_of_first)]
    hy, i1, i2, i12 = _mutual_informations(p)
    upper = torch.minimum(i12, _conditional_independence_value(p, hy))
    lower = torch.maximum(i1, i2)
    n, a, b, c = p.shape
    if a == 1 or b == 1 or c == 1:  # the only coupling is p itself
        value, dual = i12, i12
    elif resamples_of_first and n > 1:
        # A resample's allowed triples are among the first table's, so the first's centres are strictly
        # feasible for it. From the first centre on, the centres move with the table: the second is the latest
        # from which the resamples still converge in fewer steps (measured: from the third on they take more).
        first_value, first_dual, centre = _barrier_optimum(_Barrier(p[:1]), hy[:1], tol_nats, keep_centre=1)
        value, dual, _ = _barrier_optimum(_Barrier(p[1:]), hy[1:], tol_nats, start=centre)
        value, dual = torch.cat([first_value, value]), torch.cat([first_dual, dual])
    else:
        value, dual, _ = _barrier_optimum(_Barrier(p), hy, tol_nats)
    value = torch.clamp(torch.minimum(value, upper), min=lower)
    gap = (value - torch.maximum(dual, lower)).clamp_min(0.0)
    i1, i2, i12, value, gap = (x.cpu().numpy() / LN2 for x in (i1, i2, i12, value, gap))
    return [
        PIDResult(
            redundancy=float(i1[k] + i2[k] - value[k]),
            unique1=float(value[k] - i2[k]),
            unique2=float(value[k] - i1[k]),
            synergy=float(i12[k] - value[k]),
            mi_x1_y=float(i1[k]),
            mi_x2_y=float(i2[k]),
            mi_x1x2_y=float(i12[k]),
            gap_bits=float(gap[k]),
        )
        for k in range(n)
    ]


def _swapped(r: PIDResult) -> PIDResult:
    return replace(r, unique1=r.unique2, unique2=r.unique1, mi_x1_y=r.mi_x2_y, mi_x2_y=r.mi_x1_y)


def _barrier_optimum(
    problem: _Barrier,
    hy: torch.Tensor,
    tol_nats: float,
    keep_centre: int | None = None,
    start: tuple[torch.Tensor, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, float] | None]:
    """Primal value (at a coupling fitted to the marginals) and dual value of min I_q(X1,X2;Y), in nats, and
    the `keep_centre`-th barrier centre (counted from 0) of the first table as (theta, t / m). `start` is such
    a centre: every table starts from its theta at the same t / m."""
    if start is None:
        theta = torch.zeros(problem.live.shape, dtype=hy.dtype, device=hy.device)
        theta[problem.live] = -(math.log(problem.c) + 1.0)
        t = problem.m.clamp_min(1.0).clone()
    else:
        theta = start[0].expand(problem.n, -1).clone()
        t = problem.m.clamp_min(1.0) * start[1]
    x = problem.point(theta)
    # The last t: its exact centre has a gap of m / t, 1% inside the tolerance to leave room for rounding.
    final = 1.01 * problem.m / tol_nats
    kept = None
    for centre in range(_MAX_OUTER):
        last = bool((t >= final).all())
        x, solver = _centre(
            problem, x, t, torch.full_like(t, math.inf), _CENTRED if last else _ON_THE_WAY, last
        )
        if centre == keep_centre:
            kept = (x.theta[0].clone(), float(t[0] / problem.m[0].clamp_min(1.0)))
        if last:
            break
        # Predictor along the central path, d theta / dt = H^-1 grad(dual objective), extrapolated in 1/t
        # (near the optimum theta(t) ~ theta* + c / t, so a step linear in t would overshoot). t grows to the
        # final t at most: a larger last t only costs Newton steps.
        grown = torch.minimum(t * _BARRIER_GROWTH, torch.maximum(final, t))
        move = (t - t * t / grown)[:, None] * solver.solve(problem.objective)
        x = _predict(problem, x, move, grown)
        t = grown
    return _coupling_information(problem.coupling(x, t), hy), hy + x.dual, kept


def _centre(
    problem: _Barrier, x: _Point, t: torch.Tensor, previous: torch.Tensor, tolerance: float, compact: bool
) -> tuple[_Point, _Solver]:
    """Damped Newton steps at t until every table's decrement is below `tolerance`; returns the point and the
    last factorised Hessian. With `compact`, once at most half the tables still move they go on alone (and
    the Hessian returned is theirs): the last tables to converge can take several more steps, and a step
    costs in proportion to the tables in the batch."""
    for _ in range(_MAX_CENTRING):
        step, decrement, solver = problem.newton_step(x, t)
        # Centred, or in the quadratic region yet no longer converging quadratically: rounding, not
        # curvature, now limits progress.
        stalled = (decrement < _QUADRATIC) & (decrement > 0.25 * previous)
        moving = ~((decrement <= tolerance) | stalled)
        if not bool(moving.any()):
            break
        x, moved = _line_search(problem, x, step, t, decrement)
        if not bool(moved.any()):
            break
        previous = decrement
        if compact and 2 * int(moving.sum()) <= len(moving):
            keep = moving.nonzero()[:, 0]
            centred, solver = _centre(
                problem.tables(keep), x.tables(keep), t[keep], previous[keep], tolerance, compact
            )
            return x.updated(keep, centred), solver
    return x, solver


def _line_search(
    problem: _Barrier, x: _Point, step: torch.Tensor, t: torch.Tensor, decrement: torch.Tensor
) -> tuple[_Point, torch.Tensor]:
    """Damped Newton step per table: backtracking until phi_t decreases enough (Armijo), every constraint
    stays strictly feasible and keeps at least a fraction of its slack. In the quadratic region (small
    decrement) the full step is taken whenever it is feasible, as rounding there can hide phi's decrease."""
    phi0 = x.phi(t)
    size = torch.ones_like(phi0)
    pending = decrement > _CENTRED
    for _ in range(60):
        trial = problem.point(x.theta + size[:, None] * step)
        armijo = trial.phi(t) <= phi0 - 0.5 * size * decrement
        kept = (torch.where(problem.constrained, trial.g / x.g, 1.0) >= _KEEP_SLACK).flatten(1).all(1)
        ok = torch.isfinite(trial.log_slack) & kept & (armijo | (decrement < _QUADRATIC))
        pending = pending & ~ok
        if not bool(pending.any()):
            break
        size = torch.where(pending, size * 0.5, size)
    moved = (decrement > _CENTRED) & ~pending
    if bool(moved.all()):
        return trial, moved
    return problem.point(x.theta + torch.where(moved, size, 0.0)[:, None] * step), moved


def _predict(problem: _Barrier, x: _Point, move: torch.Tensor, t: torch.Tensor) -> _Point:
    """x + s * move with the largest s in {1, 1/2, ...} that is strictly feasible and lowers phi_t."""
    phi0 = x.phi(t)
    size = torch.ones_like(phi0)
    for _ in range(60):
        trial = problem.point(x.theta + size[:, None] * move)
        pending = ~(trial.phi(t) < phi0)
        if not bool(pending.any()):
            return trial
        size = torch.where(pending, size * 0.5, size)
    return problem.point(x.theta + torch.where(pending, 0.0, size)[:, None] * move)
