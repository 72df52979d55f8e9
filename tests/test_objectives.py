"""Objectives: losses match naive loop references, decrease when trained, represent what they declare."""

from __future__ import annotations

import math

import pytest
import torch

from generators import FactorGenerator, TrifeatureGenerator, bimodal
from interactions.augment import ImageAugment, VectorAugment, augment_view
from interactions.losses import clip_loss, nt_xent
from interactions.models import ModelConfig
from interactions.objectives import Views, available_objectives, build_objective
from interactions.train import TrainConfig, train

SMALL = ModelConfig(embed_dim=16, encoder_hidden=24, fusion_heads=2, head_hidden=32, head_out=8)
OPTIONS = {
    "comm": {},
    "cross": {},
    "cross_self": {},
    "supervised": {"task": "all", "n_classes": 16},
    "cmc": {},
    "infmasking": {},
    "factorcl": {"critic_hidden": 32},
}


def naive_nt_xent(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    z = [v / v.norm() for v in torch.cat([a, b])]
    n, total = len(a), 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        logits = [z[i] @ z[j] / tau for j in range(2 * n) if j != i]
        others = [j for j in range(2 * n) if j != i]
        total -= logits[others.index(positive)] - torch.logsumexp(torch.stack(logits), 0)
    return total / (2 * n)


def naive_clip(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    a, b = [v / v.norm() for v in a], [v / v.norm() for v in b]
    n, rows, cols = len(a), 0.0, 0.0
    for i in range(n):
        row = torch.stack([scale * a[i] @ b[j] for j in range(n)])
        col = torch.stack([scale * a[j] @ b[i] for j in range(n)])
        rows -= row[i] - torch.logsumexp(row, 0)
        cols -= col[i] - torch.logsumexp(col, 0)
    return 0.5 * (rows + cols) / n


def _views(n: int = 12, seed: int = 0) -> Views:
    sample = bimodal(dim=10, factor_dim=2, nuisance_dim=1).sample(n, seed=seed)
    clean = [torch.as_tensor(x, dtype=torch.float64) for x in sample.modalities]
    gen = torch.Generator().manual_seed(seed)
    aug = (VectorAugment(),) * 2
    labels = {k: torch.as_tensor(v) for k, v in sample.labels.items()}
    return Views(clean, augment_view(clean, aug, gen), augment_view(clean, aug, gen), labels)


def test_loss_functions_match_loops() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    assert nt_xent(a, b, 0.1).item() == pytest.approx(naive_nt_xent(a, b, 0.1).item(), abs=1e-6)
    assert nt_xent(a, b, 0.5).item() == pytest.approx(nt_xent(b, a, 0.5).item(), abs=1e-12)
    scale = torch.tensor(1 / 0.07, dtype=torch.float64)
    assert clip_loss(a, b, scale).item() == pytest.approx(naive_clip(a, b, scale).item(), abs=1e-6)


def test_comm_loss_matches_a_per_subset_reference() -> None:
    obj = build_objective("comm", [10, 10], SMALL, seed=1).double()
    views = _views()
    out = obj.loss(views)
    net, head = obj.network, obj.head
    z1 = [head(z) for z in net.fusion.forward_each(net.tokens(views.first), net.subsets)]
    z2 = [head(z) for z in net.fusion.forward_each(net.tokens(views.second), net.subsets)]
    terms = [0.5 * (naive_nt_xent(z1[t], z2[-1], 0.1) + naive_nt_xent(z2[t], z1[-1], 0.1)) for t in range(3)]
    assert [out[k].item() for k in ("loss_1", "loss_2", "loss_all")] == pytest.approx(
        [t.item() for t in terms], abs=1e-6
    )
    assert out["loss"].item() == pytest.approx(sum(t.item() for t in terms) / 3, abs=1e-6)
    fused_only = build_objective("comm", [10, 10], SMALL, seed=1, weights=[0, 0, 1]).double()
    assert fused_only.loss(views)["loss"].item() == pytest.approx(terms[2].item(), abs=1e-6)


def test_cross_and_cross_self_losses_match_references() -> None:
    views = _views(seed=2)
    cross = build_objective("cross", [10, 10], SMALL, seed=3).double()
    h = cross.encoders(views.clean)
    expected = naive_clip(cross.projections[0](h[0]), cross.projections[1](h[1]), cross.logit_scale())
    assert cross.loss(views)["loss"].item() == pytest.approx(expected.item(), abs=1e-6)
    cs = build_objective("cross_self", [10, 10], SMALL, seed=4).double()

    def project(xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [head(z) for head, z in zip(cs.heads, cs.encoders(xs), strict=True)]

    clean, first, second = project(views.clean), project(views.first), project(views.second)
    self_terms = [naive_nt_xent(first[m], second[m], 0.1) for m in range(2)]
    expected = naive_clip(clean[0], clean[1], cs.logit_scale()) + 0.5 * sum(self_terms)
    assert cs.loss(views)["loss"].item() == pytest.approx(expected.item(), abs=1e-6)
    for weight in (0.0, 2.5):  # the alignment strength weighs the cross-modal term only
        weighted = build_objective("cross_self", [10, 10], SMALL, seed=4, cross_weight=weight).double()
        weighted.load_state_dict(cs.state_dict())
        expected = weight * naive_clip(clean[0], clean[1], cs.logit_scale()) + 0.5 * sum(self_terms)
        assert weighted.loss(views)["loss"].item() == pytest.approx(expected.item(), abs=1e-6)


def test_supervised_loss_is_cross_entropy_on_the_task() -> None:
    views = _views(seed=5)
    sup = build_objective("supervised", [10, 10], SMALL, seed=6, task="unique1", n_classes=2).double()
    logits = sup.classifier(sup.network.fusion.forward_each(sup.network.tokens(views.clean), [(0, 1)])[0])
    y = views.labels["unique1"]
    expected = -sum(logits[i, y[i]] - torch.logsumexp(logits[i], 0) for i in range(len(y))) / len(y)
    assert sup.loss(views)["loss"].item() == pytest.approx(expected.item(), abs=1e-6)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_training_lowers_the_loss(name: str) -> None:
    sample = bimodal(dim=12, factor_dim=2, nuisance_dim=2).sample(256, seed=0, split="pretrain")
    obj = build_objective(name, [12, 12], SMALL, seed=0, **OPTIONS[name])
    history = train(obj, sample, TrainConfig(epochs=12, batch_size=64, lr=3e-3, device="cpu")).history
    assert len(history) == 12
    assert history[-1]["loss"] < 0.9 * history[0]["loss"]
    assert all(math.isfinite(h["loss"]) for h in history)


def test_comm_unimodal_representation_ignores_the_other_modality() -> None:
    obj = build_objective("comm", [10, 10], SMALL, seed=0).eval()
    x1, x2 = torch.randn(20, 10), torch.randn(20, 10)
    a = obj.represent([x1, x2])
    b = obj.represent([x1, x2 + 5 * torch.randn(20, 10)])
    assert torch.allclose(a.per_modality[0], b.per_modality[0], atol=1e-6)
    assert not torch.allclose(a.per_modality[1], b.per_modality[1])
    assert not torch.allclose(a.joint, b.joint)
    assert a.joint.shape == (20, SMALL.embed_dim)


def test_declared_representations() -> None:
    xs = [torch.randn(5, 10), torch.randn(5, 10)]
    for name, options in [*OPTIONS.items(), ("random", {"architecture": "encoders"}), ("random", {})]:
        obj = build_objective(name, [10, 10], SMALL, **options).eval()
        rep = obj.represent(xs)
        assert len(rep.per_modality) == 2
        concatenated = (
            name in ("cross", "cross_self", "cmc", "factorcl") or options.get("architecture") == "encoders"
        )
        width = {"factorcl": 4}.get(
            name, 2 if concatenated else 1
        )  # FactorCL: shared and unique per modality
        assert rep.joint.shape[1] == width * SMALL.embed_dim
        if concatenated:
            assert torch.equal(rep.joint, torch.cat(rep.per_modality, dim=1))
    assert set(OPTIONS) | {"random"} <= set(available_objectives())


def test_random_objective_is_not_trained_and_same_seed_same_weights() -> None:
    sample = bimodal(dim=10, factor_dim=2, nuisance_dim=1).sample(64, seed=0)
    obj = build_objective("random", [10, 10], SMALL, seed=3)
    before = {k: v.clone() for k, v in obj.state_dict().items()}
    assert train(obj, sample, TrainConfig(epochs=3, device="cpu")).history == []
    assert all(torch.equal(before[k], v) for k, v in obj.state_dict().items())
    again = build_objective("random", [10, 10], SMALL, seed=3)
    assert all(torch.equal(before[k], v) for k, v in again.state_dict().items())


def test_invalid_objective_options() -> None:
    with pytest.raises(ValueError, match="weights"):
        build_objective("comm", [4, 4], SMALL, weights=[1, 1])
    with pytest.raises(ValueError, match="temperature"):
        build_objective("comm", [4, 4], SMALL, temperature=0.0)
    with pytest.raises(ValueError, match="objective must be one of"):
        build_objective("simclr9000", [4, 4])
    with pytest.raises(ValueError, match="modality_dims"):
        build_objective("cross", [4])
    with pytest.raises(ValueError, match="architecture"):
        build_objective("random", [4, 4], architecture="cnn")
    with pytest.raises(ValueError, match="n_classes"):
        build_objective("supervised", [4, 4], n_classes=1)
    with pytest.raises(ValueError, match="mask_ratio"):
        build_objective("infmasking", [4, 4], mask_ratio=1.0)
    with pytest.raises(ValueError, match="n_masks"):
        build_objective("infmasking", [4, 4], n_masks=1)
    with pytest.raises(ValueError, match="cross_weight must be a finite number >= 0"):
        build_objective("cross_self", [4, 4], cross_weight=-1.0)
    with pytest.raises(ValueError, match="club_steps"):
        build_objective("factorcl", [4, 4], club_steps=0)
    with pytest.raises(ValueError, match="modality_dims"):
        build_objective("cmc", [4, (3, 8)])


def test_cmc_loss_is_the_mean_pairwise_nt_xent() -> None:
    sample = FactorGenerator(n_modalities=3, dim=10, factor_dim=2, nuisance_dim=1).sample(10, seed=0)
    xs = [torch.as_tensor(x, dtype=torch.float64) for x in sample.modalities]
    cmc = build_objective("cmc", [10, 10, 10], SMALL, seed=1).double()
    z = [head(h) for head, h in zip(cmc.heads, cmc.encoders(xs), strict=True)]
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(naive_nt_xent(z[i], z[j], 0.1) for i, j in pairs) / 3
    assert cmc.loss(Views(xs, xs, xs, {}))["loss"].item() == pytest.approx(expected.item(), abs=1e-6)


def naive_mask_term(q: torch.Tensor, masked: torch.Tensor, lam: float, tau: float) -> torch.Tensor:
    """Expected InfoNCE over masks under the Gaussian bound, one anchor at a time, explicit covariances."""
    q = [v / v.norm() for v in q]
    m = masked / masked.norm(dim=-1, keepdim=True)
    k, n = m.shape[0], m.shape[1]
    mu = [m[:, j].mean(0) for j in range(n)]
    total = 0.0
    for i in range(n):
        sigma = sum(torch.outer(m[c, i] - mu[i], m[c, i] - mu[i]) for c in range(k)) / k
        positive = q[i] @ mu[i] / tau + 0.5 * lam * q[i] @ sigma @ q[i] / tau**2
        negatives = [q[i] @ mu[j] / tau for j in range(n) if j != i] + [
            q[i] @ q[j] / tau for j in range(n) if j != i
        ]
        total += -(positive - torch.logsumexp(torch.stack([positive, *negatives]), 0))
        total += 0.5 * lam * q[i] @ sigma @ q[i] / tau**2
    return total / n


def test_infmasking_loss_matches_a_reference() -> None:
    obj = build_objective("infmasking", [10, 10], SMALL, seed=1, n_masks=3, mask_lambda=0.5).double()
    views = _views(seed=3)
    torch.manual_seed(7)
    out = obj.loss(views)
    torch.manual_seed(7)
    net, head = obj.network, obj.head
    tokens = obj.view_tokens(views)
    masked = obj.masked_fusion(tokens)  # the same masks: the same random draws
    b = views.first[0].shape[0]
    z = [
        [head(zz) for zz in net.fusion.forward_each(net.tokens(v), net.subsets)]
        for v in (views.first, views.second)
    ]
    zm = [torch.stack([head(masked[c, view * b : (view + 1) * b]) for c in range(3)]) for view in (0, 1)]
    comm_terms = [
        0.5 * (naive_nt_xent(z[0][t], z[1][-1], 0.1) + naive_nt_xent(z[1][t], z[0][-1], 0.1))
        for t in range(3)
    ]
    mask = 0.5 * (naive_mask_term(z[0][-1], zm[1], 0.5, 0.1) + naive_mask_term(z[1][-1], zm[0], 0.5, 0.1))
    assert out["loss_mask"].item() == pytest.approx(mask.item(), abs=1e-6)
    assert out["loss"].item() == pytest.approx(
        (sum(t.item() for t in comm_terms) + mask.item()) / 4, abs=1e-6
    )
    annealed = build_objective("infmasking", [10, 10], SMALL, anneal=True, mask_lambda=2.0)
    annealed.start_epoch(0, 4)
    assert annealed.current_lambda == pytest.approx(0.5)
    annealed.start_epoch(3, 4)
    assert annealed.current_lambda == pytest.approx(2.0)


def naive_critic(critic, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """f(a_i, b_j) from the concatenated input, pair by pair."""
    weight = torch.cat([critic.a.weight, critic.b.weight], dim=1)
    rows = []
    for i in range(len(a)):
        rows.append(
            torch.stack(
                [
                    critic.out(torch.relu(weight @ torch.cat([a[i], b[j]]) + critic.a.bias))[0]
                    for j in range(len(b))
                ]
            )
        )
    return torch.stack(rows)


def naive_info_nce(f: torch.Tensor) -> torch.Tensor:
    n = len(f)
    return sum(f[i, i] - torch.logsumexp(f[i], 0) for i in range(n)) / n + math.log(n)


def naive_club(f: torch.Tensor) -> torch.Tensor:
    n = len(f)
    return sum(f[i, i] for i in range(n)) / n - sum(f[i, j] for i in range(n) for j in range(n) if i != j) / (
        n * (n - 1)
    )


def test_factorcl_loss_matches_a_reference_and_club_critics_train_apart() -> None:
    obj = build_objective("factorcl", [10, 10], SMALL, seed=2, critic_hidden=16).double()
    views = _views(n=8, seed=4)
    club_before = {k: v.clone() for k, v in obj.club_critics.state_dict().items()}
    rest_before = {k: v.clone() for k, v in obj.state_dict().items() if not k.startswith("club_critics")}
    obj.before_step(views)  # the trainer's hook: the CLUB critics take their own step, nothing else moves
    assert any(not torch.equal(club_before[k], v) for k, v in obj.club_critics.state_dict().items())
    assert all(
        torch.equal(rest_before[k], v)
        for k, v in obj.state_dict().items()
        if not k.startswith("club_critics")
    )
    # The loss itself changes nothing, in training or eval mode, with or without gradients.
    state = {k: v.clone() for k, v in obj.state_dict().items()}
    for mode in (obj.eval, obj.train):
        mode()
        with torch.no_grad():
            obj.loss(views)
    assert all(torch.equal(state[k], v) for k, v in obj.state_dict().items())
    out = obj.loss(views)
    (s1, s2), (u1, u2) = obj.factors(views.clean)
    (s1a, s2a), (u1a, u2a) = obj.factors(views.first)
    c, club = obj.critics, obj.club_critics
    shared = naive_info_nce(naive_critic(c["shared12"], s1, s2)) - naive_club(
        naive_critic(club["shared_conditional12"], torch.cat([s1, s1a], 1), torch.cat([s2, s2a], 1))
    )
    beyond = naive_info_nce(
        naive_critic(c["unique_conditional12"], torch.cat([u1, u1a], 1), torch.cat([u2, u2a], 1))
    ) - naive_club(naive_critic(club["unique12"], u1, u2))
    unique1 = naive_info_nce(naive_critic(c["unique1"], u1, u1a)) + beyond
    unique2 = naive_info_nce(naive_critic(c["unique2"], u2, u2a)) + beyond
    assert out["loss"].item() == pytest.approx(-(shared + unique1 + unique2).item(), abs=1e-6)
    out["loss"].backward()  # the loss trains encoders, heads and InfoNCE critics, never the CLUB critics
    assert all(p.grad is None for p in obj.club_critics.parameters())
    assert all(p.grad is not None for p in obj.critics.parameters())


def test_new_objectives_take_images_and_three_modalities() -> None:
    images = [torch.rand(6, 3, 32, 32), torch.rand(6, 3, 32, 32)]
    vectors = [torch.randn(6, 10) for _ in range(3)]
    for name in ("cmc", "infmasking", "factorcl"):
        for xs in (images, vectors):
            dims = [tuple(x.shape[1:]) if x.ndim == 4 else x.shape[1] for x in xs]
            obj = build_objective(name, dims, SMALL, seed=0, **OPTIONS[name])
            assert torch.isfinite(obj.loss(Views(xs, xs, xs, {}))["loss"])
            assert len(obj.eval().represent(xs).per_modality) == len(xs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["comm", "cmc", "infmasking", "factorcl"])
def test_objectives_train_on_cuda_unchanged(name: str) -> None:
    sample = TrifeatureGenerator().sample(64, seed=0, split="pretrain")
    obj = build_objective(name, [(3, 32, 32)] * 2, SMALL, seed=0, **OPTIONS[name])
    config = TrainConfig(epochs=1, batch_size=32, device="cuda", augment=ImageAugment())
    history = train(obj, sample, config).history
    assert math.isfinite(history[-1]["loss"])
    rep = obj.eval().represent([torch.as_tensor(x[:8], device="cuda") for x in sample.modalities])
    assert rep.joint.is_cuda


def test_comm_terms_with_shared_similarity_blocks_equal_separate_nt_xent_calls() -> None:
    from interactions.losses import nt_xent, nt_xent_against_anchors

    torch.manual_seed(5)
    z1, z2 = torch.randn(4, 16, 8, dtype=torch.float64), torch.randn(4, 16, 8, dtype=torch.float64)
    expected = [0.5 * (nt_xent(z1[t], z2[3], 0.2) + nt_xent(z2[t], z1[3], 0.2)) for t in range(3)]
    expected.append(nt_xent(z1[3], z2[3], 0.2))
    assert torch.allclose(nt_xent_against_anchors(z1, z2, 0.2), torch.stack(expected), atol=1e-12)
