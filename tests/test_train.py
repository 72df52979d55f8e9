"""Training harness: determinism, divergence, schedules, checkpoints, extraction, plug-in objectives."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import install_entry_point

from generators import Sample, bimodal
from interactions.device import resolve_device
from interactions.extract import extract, probe_tasks
from interactions.models import ModelConfig
from interactions.objectives import available_objectives, build_objective
from interactions.train import (
    Resume,
    TrainConfig,
    TrainingDiverged,
    _lr_factor,
    load_checkpoint,
    parameter_groups,
    read_training_state,
    save_checkpoint,
    train,
)

SMALL = ModelConfig(embed_dim=16, encoder_hidden=24, fusion_heads=2, head_hidden=32, head_out=8)
GEN = bimodal(dim=12, factor_dim=2, nuisance_dim=2)


def _run(seed: int) -> tuple[list[dict], np.ndarray]:
    sample = GEN.sample(256, seed=0, split="pretrain")
    obj = build_objective("comm", [12, 12], SMALL, seed=seed)
    result = train(obj, sample, TrainConfig(epochs=3, batch_size=64, seed=seed, device="cpu"))
    return result.history, extract(obj, GEN.sample(50, seed=1))[0]


def test_same_seed_same_losses_and_representations_on_cpu() -> None:
    (h1, z1), (h2, z2), (h3, _) = _run(0), _run(0), _run(1)
    assert [h["loss"] for h in h1] == [h["loss"] for h in h2]
    assert np.array_equal(z1, z2)
    assert [h["loss"] for h in h1] != [h["loss"] for h in h3]
    assert {"loss", "loss_1", "loss_2", "loss_all", "epoch", "lr", "seconds"} <= set(h1[0])


def test_nan_input_raises_training_diverged_with_epoch_and_step() -> None:
    sample = GEN.sample(128, seed=0)
    poisoned = [x.copy() for x in sample.modalities]
    poisoned[1][5] = np.nan
    bad = Sample(tuple(poisoned), sample.labels, sample.factors)
    obj = build_objective("cross", [12, 12], SMALL)
    with pytest.raises(TrainingDiverged) as caught:
        train(obj, bad, TrainConfig(epochs=2, batch_size=32, device="cpu"))
    assert caught.value.epoch == 0 and 0 <= caught.value.step < 4
    assert "epoch 0" in str(caught.value)


def test_schedule_and_weight_decay_groups() -> None:
    assert _lr_factor(0, 10, 100, "cosine") == pytest.approx(0.1)
    assert _lr_factor(9, 10, 100, "cosine") == pytest.approx(1.0)
    assert _lr_factor(55, 10, 100, "cosine") == pytest.approx(0.5)
    assert _lr_factor(99, 0, 100, "constant") == 1.0
    obj = build_objective("comm", [12, 12], SMALL)
    decay, no_decay = parameter_groups(obj, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert any(p is obj.network.fusion.cls for p in decay["params"])  # the CLS token decays, as in CoMM
    sample = GEN.sample(128, seed=0)
    history = train(
        obj, sample, TrainConfig(epochs=4, batch_size=64, warmup_epochs=1, schedule="cosine", device="cpu")
    )
    lrs = [h["lr"] for h in history.history]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_train_config_validation_and_device() -> None:
    for knobs, knob in [
        ({"lr": 0.0}, "lr"),
        ({"batch_size": 1}, "batch_size"),
        ({"schedule": "step"}, "schedule"),
    ]:
        with pytest.raises(ValueError, match=knob):
            TrainConfig(**knobs)
    with pytest.raises(ValueError, match="augment"):
        TrainConfig(augment=(TrainConfig().augment,) * 3).augments(2)
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    obj = build_objective("cross_self", [12, 12], SMALL, seed=2, ssl_weight=0.5)
    train(obj, GEN.sample(128, seed=0), TrainConfig(epochs=1, batch_size=64, device="cpu"))
    save_checkpoint(tmp_path / "ckpt", obj, extra={"seed": 2})
    loaded = load_checkpoint(tmp_path / "ckpt", device="cpu")
    assert loaded.name == "cross_self" and loaded.ssl_weight == 0.5
    probe = GEN.sample(40, seed=3)
    assert np.array_equal(extract(obj, probe)[0], extract(loaded, probe)[0])
    assert not list((tmp_path / "ckpt").glob("*.json.*"))  # no temporary files left behind


def test_probe_tasks_scores_every_task() -> None:
    gen = bimodal()
    obj = build_objective("random", [32, 32], SMALL, architecture="encoders")
    scores = probe_tasks(
        obj, gen.sample(1500, seed=0), gen.sample(800, seed=1), tasks=["redundancy", "synergy"]
    )
    assert scores["redundancy"].balanced_accuracy > 0.9
    assert abs(scores["synergy"].balanced_accuracy - 0.5) < 0.06


PLUGIN = """
import torch
from interactions.objectives import Objective, Representations, register_objective
from interactions.objectives.base import concatenated_representations
from interactions.models import EncoderNetwork


@register_objective("plugin_align")
class PluginAlign(Objective):
    def __init__(self, modality_dims, model=None):
        super().__init__(modality_dims, model)
        self.encoders = EncoderNetwork(self.modality_dims, self.model_config)

    def loss(self, views):
        z1, z2 = self.encoders(views.first)
        return {"loss": ((z1 - z2) ** 2).mean() + (z1.var(0).mean() - 1) ** 2}

    def represent(self, xs):
        return concatenated_representations(self.encoders, xs)
"""


def test_an_out_of_tree_objective_is_discovered_through_entry_points(tmp_path: Path, monkeypatch) -> None:
    install_entry_point(
        tmp_path, "plugin_objective", textwrap.dedent(PLUGIN), "interactions.objectives", "plugin_align"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "plugin_align" in available_objectives()
    obj = build_objective("plugin_align", [12, 12], SMALL)
    history = train(obj, GEN.sample(256, seed=0), TrainConfig(epochs=5, batch_size=64, device="cpu")).history
    assert history[-1]["loss"] < history[0]["loss"]
    scores = probe_tasks(obj, GEN.sample(400, seed=1), GEN.sample(200, seed=2), tasks=["redundancy"])
    assert set(scores) == {"redundancy"} and scores["redundancy"].balanced_accuracy > 0.75  # chance 0.5
    sys.modules.pop("plugin_objective", None)


@pytest.mark.parametrize("name", ["comm", "infmasking", "factorcl"])
def test_interrupted_training_resumes_to_an_uninterrupted_run_s_weights(tmp_path: Path, name: str) -> None:
    """Weights, optimisers (FactorCL's own CLUB optimiser too), schedule and random streams (InfMasking draws
    its masks from the global one) are saved at the resume epochs: a run stopped after epoch 3 and resumed
    from its epoch-2 state ends bit-identical to one that never stopped."""
    sample = GEN.sample(192, seed=0, split="pretrain")
    options = {"factorcl": {"critic_hidden": 16}}.get(name, {})
    config = TrainConfig(epochs=4, batch_size=64, schedule="cosine", device="cpu")

    def fresh():
        return build_objective(name, [12, 12], SMALL, seed=0, **options)

    whole = train(fresh(), sample, config)
    resume = Resume(tmp_path / "state.pt", frozenset({2}), extra=lambda: {"note": "scores so far"})

    def stop_after_epoch_3(epoch: int, objective) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(fresh(), sample, config, stop_after_epoch_3, resume)
    state = read_training_state(resume.path)
    assert state["epochs_done"] == 2 and state["extra"] == {"note": "scores so far"}
    resumed = train(fresh(), sample, config, resume=resume)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in whole.history]
    after, before = resumed.objective.state_dict(), whole.objective.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_a_damaged_training_state_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.pt"
    path.write_bytes(b"not a state")
    with pytest.raises(ValueError, match=r"state\.pt is not a training state"):
        read_training_state(path)
    assert read_training_state(tmp_path / "missing.pt") is None


@pytest.mark.parametrize(("name", "built"), [("cross", {"light"}), ("comm", {"first", "second"})])
def test_the_trainer_builds_only_the_views_an_objective_trains_on(name: str, built: set[str]) -> None:
    """Cross aligns the light view (here a crop of the images), CoMM two SimCLR views; neither gets the
    views it does not read, and the light view is the clean batch when no light transform is set."""
    from generators.trifeature import TrifeatureGenerator
    from interactions.augment import LIGHT_CROP, ImageAugment

    sample = TrifeatureGenerator().sample(8, seed=0, split="pretrain")
    seen: list = []
    obj = build_objective(name, [(3, 32, 32)] * 2, SMALL)
    obj.before_step = seen.append
    config = TrainConfig(
        epochs=1, batch_size=8, device="cpu", augment=ImageAugment(), light_augment=LIGHT_CROP
    )
    train(obj, sample, config)
    views = seen[0]
    present = {v for v in ("first", "second") if getattr(views, v) is not None}
    assert present == built - {"light"}
    assert (views.light is not views.clean) == ("light" in built)
    if "light" in built:  # cropped: float pixels that differ from the clean uint8 ones
        assert views.light[0].dtype == torch.float32 and views.light[0].shape == views.clean[0].shape
        assert not torch.allclose(views.light[0], views.clean[0].float() / 255)
    obj = build_objective("cross", [(3, 32, 32)] * 2, SMALL)
    obj.before_step = seen.append
    train(obj, sample, TrainConfig(epochs=1, batch_size=8, device="cpu", augment=ImageAugment()))
    assert seen[-1].light is seen[-1].clean


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_channels_last_training_on_cuda() -> None:
    """The GPU path: bf16 autocast and channels-last image batches by default on CUDA, finite losses, and
    representations on the device."""
    from generators.trifeature import TrifeatureGenerator
    from interactions.augment import LIGHT_CROP, ImageAugment

    sample = TrifeatureGenerator().sample(128, seed=0, split="pretrain")
    for name in ("comm", "cross_self"):
        obj = build_objective(name, [(3, 32, 32)] * 2, SMALL, seed=0)
        config = TrainConfig(
            epochs=2, batch_size=64, device="cuda", augment=ImageAugment(), light_augment=LIGHT_CROP
        )
        history = train(obj, sample, config).history
        assert all(np.isfinite(h["loss"]) for h in history)
        assert extract(obj, sample)[0].shape[0] == len(sample)
