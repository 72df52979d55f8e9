"""FactorCL, self-supervised: Liang, Deng, Ma, Zou, Morency & Salakhutdinov, "Factorized contrastive learning:
going beyond multi-view redundancy", NeurIPS 2023 (arXiv 2306.05268), eqs. 8-9 and 15-16.

Each modality's encoder feeds a shared head and a unique head (two-layer MLPs, embed_dim -> head_hidden ->
embed_dim): Z_S1, Z_S2 and Z_U1, Z_U2. With X the clean modalities and X' one augmented view,

    S  = I_NCE(Z_S1; Z_S2) - I_NCE-CLUB(Z_S1; Z_S2 | Z_S1', Z_S2')
    Ui = I_NCE(Z_Ui; Z_Ui') - I_NCE-CLUB(Z_U1; Z_U2) + I_NCE(Z_U1; Z_U2 | Z_U1', Z_U2')
    loss = -(S + U1 + U2)   (nats)

I_NCE is InfoNCE (log B + mean of diagonal score minus row log-sum-exp) and I_NCE-CLUB the mean positive score
minus the mean off-diagonal score of the *optimal* NCE critic (an upper bound, the paper's Theorem 2).
Critics are concat-MLPs f(a, b) = w . ReLU(W [a; b] + c) + d (hidden `critic_hidden`, FactorCL's 512)
scored on every pair of the batch; a conditional critic takes [clean, augmented] on each side (the public
code feeds the clean embedding twice to the conditional CLUB term; here it gets both). The InfoNCE critics
train with the loss. The CLUB critics train by their own objective, maximising their InfoNCE on detached
embeddings with Adam (`club_lr`), `club_steps` steps per batch before the loss is scored with them frozen.
Probed: the concatenation of the factorised embeddings; per modality: [Z_Si, Z_Ui].

For n > 2 modalities (not in the paper) the bimodal objective is applied to every pair, as CMC extends CLIP:
S is the mean of the pairwise S terms, and U_i = I_NCE(Z_Ui; Z_Ui') plus the mean over the pairs holding i
of -I_NCE-CLUB(Z_Ui; Z_Uj) + I_NCE(Z_Ui; Z_Uj | Z_Ui', Z_Uj'); for n = 2 this is the paper's objective.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from estimators.validation import check_int
from interactions.models import EncoderNetwork, ModalityShape, ModelConfig
from interactions.objectives.base import Objective, Representations, Views, check_positive
from interactions.objectives.registry import register_objective


class ConcatCritic(nn.Module):
    """Scores (B, B) of f(a_i, b_j) for a concat-MLP critic; its first layer is split into a and b parts, so
    all pairs cost B^2 x hidden rather than B^2 x hidden x (dim a + dim b)."""

    def __init__(self, a_dim: int, b_dim: int, hidden: int) -> None:
        super().__init__()
        self.a = nn.Linear(a_dim, hidden)
        self.b = nn.Linear(b_dim, hidden, bias=False)
        self.out = nn.Linear(hidden, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.a(a)[:, None] + self.b(b)[None])).squeeze(-1)


def info_nce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE lower bound (nats) from (B, B) critic scores with positives on the diagonal."""
    return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(len(scores))


def nce_club(scores: torch.Tensor) -> torch.Tensor:
    """NCE-CLUB upper bound (nats): mean positive score minus mean score over the other pairs."""
    n = len(scores)
    off_diagonal = (scores.sum() - scores.diagonal().sum()) / (n * (n - 1))
    return scores.diagonal().mean() - off_diagonal


def _head(width: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, width))


@register_objective("factorcl")
class FactorCL(Objective):
    trains_on = ("clean", "first")

    def __init__(
        self,
        modality_dims: Sequence[ModalityShape],
        model: ModelConfig | None = None,
        critic_hidden: int = 64,
        club_steps: int = 1,
        club_lr: float = 1e-3,
    ) -> None:
        super().__init__(modality_dims, model)
        self.critic_hidden = check_int("critic_hidden", critic_hidden, 1)
        self.club_steps = check_int("club_steps", club_steps, 1)
        self.club_lr = check_positive("club_lr", club_lr)
        cfg = self.model_config
        e, h, n = cfg.embed_dim, self.critic_hidden, len(self.modality_dims)
        self.pairs = list(combinations(range(n), 2))
        self.encoders = EncoderNetwork(self.modality_dims, cfg)
        self.shared_heads = nn.ModuleList(_head(e, cfg.head_hidden) for _ in range(n))
        self.unique_heads = nn.ModuleList(_head(e, cfg.head_hidden) for _ in range(n))
        critics = {f"unique{i + 1}": ConcatCritic(e, e, h) for i in range(n)}
        club_critics = {}
        for i, j in self.pairs:
            pair = f"{i + 1}{j + 1}"
            critics[f"shared{pair}"] = ConcatCritic(e, e, h)
            critics[f"unique_conditional{pair}"] = ConcatCritic(2 * e, 2 * e, h)
            club_critics[f"shared_conditional{pair}"] = ConcatCritic(2 * e, 2 * e, h)
            club_critics[f"unique{pair}"] = ConcatCritic(e, e, h)
        self.critics = nn.ModuleDict(critics)
        self.club_critics = nn.ModuleDict(club_critics)
        self.club_optimizer = torch.optim.Adam(self.club_critics.parameters(), lr=self.club_lr)

    def own_optimizer_states(self) -> dict:
        return {"club": self.club_optimizer.state_dict()}

    def load_own_optimizer_states(self, states: dict) -> None:
        self.club_optimizer.load_state_dict(states["club"])

    def factors(self, xs: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """([Z_S1, ..., Z_Sn], [Z_U1, ..., Z_Un])."""
        h = self.encoders(xs)
        return (
            [head(z) for head, z in zip(self.shared_heads, h, strict=True)],
            [head(z) for head, z in zip(self.unique_heads, h, strict=True)],
        )

    def _club_inputs(self, s, u, s_aug) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        inputs = {}
        for i, j in self.pairs:
            pair = f"{i + 1}{j + 1}"
            inputs[f"shared_conditional{pair}"] = (
                torch.cat([s[i], s_aug[i]], 1),
                torch.cat([s[j], s_aug[j]], 1),
            )
            inputs[f"unique{pair}"] = (u[i], u[j])
        return inputs

    def before_step(self, views: Views) -> None:
        """Fit the CLUB critics on this batch's (detached) factors before the loss is taken (FactorCL's
        order); `loss` then scores them frozen and changes nothing."""
        with torch.no_grad():
            (s, u), (s_aug, _) = self.factors(views.clean), self.factors(views.first)
        with torch.enable_grad():
            self._fit_club_critics(self._club_inputs(s, u, s_aug))

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        s, u = self.factors(views.clean)
        s_aug, u_aug = self.factors(views.first)
        club_inputs, nce = self._club_inputs(s, u, s_aug), {}
        for m in range(len(u)):
            nce[f"unique{m + 1}"] = info_nce(self.critics[f"unique{m + 1}"](u[m], u_aug[m]))
        for i, j in self.pairs:
            pair = f"{i + 1}{j + 1}"
            nce[f"shared{pair}"] = info_nce(self.critics[f"shared{pair}"](s[i], s[j]))
            conditional = self.critics[f"unique_conditional{pair}"]
            nce[f"unique_conditional{pair}"] = info_nce(
                conditional(torch.cat([u[i], u_aug[i]], 1), torch.cat([u[j], u_aug[j]], 1))
            )
        club = {}
        for name, (a, b) in club_inputs.items():
            frozen = {k: v.detach() for k, v in self.club_critics[name].named_parameters()}
            club[name] = nce_club(functional_call(self.club_critics[name], frozen, (a, b)))
        shared = {
            f"{i + 1}{j + 1}": nce[f"shared{i + 1}{j + 1}"] - club[f"shared_conditional{i + 1}{j + 1}"]
            for i, j in self.pairs
        }
        unique = []
        for m in range(len(u)):
            rest = [f"{i + 1}{j + 1}" for i, j in self.pairs if m in (i, j)]
            beyond = sum(nce[f"unique_conditional{p}"] - club[f"unique{p}"] for p in rest) / len(rest)
            unique.append(nce[f"unique{m + 1}"] + beyond)
        total_shared = sum(shared.values()) / len(shared)
        diagnostics = {f"nce_{k}": v for k, v in nce.items()} | {f"club_{k}": v for k, v in club.items()}
        return {
            "loss": -(total_shared + sum(unique)),
            "shared_nats": total_shared.detach(),
            **{f"unique{m + 1}_nats": v.detach() for m, v in enumerate(unique)},
            **{k: v.detach() for k, v in diagnostics.items()},
        }

    def _fit_club_critics(self, inputs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """`club_steps` Adam steps on the CLUB critics' own InfoNCE, with the embeddings detached; their
        gradients are cleared afterwards, so the trainer's optimiser never moves them."""
        for _ in range(self.club_steps):
            learning = -sum(
                info_nce(self.club_critics[name](a.detach(), b.detach())) for name, (a, b) in inputs.items()
            )
            self.club_optimizer.zero_grad(set_to_none=True)
            learning.backward()
            self.club_optimizer.step()
        self.club_optimizer.zero_grad(set_to_none=True)

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        s, u = self.factors(xs)
        per_modality = [torch.cat([a, b], 1) for a, b in zip(s, u, strict=True)]
        return Representations(joint=torch.cat(per_modality, 1), per_modality=per_modality)
