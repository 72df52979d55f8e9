"""What a grid run computes: a run spec (generator preset, arm, seed, scale) and `run_one`, which trains
the run and scores it (linear and MLP probes, the PID of the per-modality representations, the checkpoint
scores). With the generators, estimators, models, objectives and trainer, this module is what the code
fingerprint covers (`interactions.fingerprint`): scheduling, storing and reporting runs is elsewhere, so
that editing those never marks stored runs stale."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from estimators.probes import probe_score
from estimators.representation_pid import ATOMS, representation_pid
from generators import generator_preset
from generators.registry import Generator
from interactions.augment import LIGHT_CROP, ImageAugment
from interactions.extract import extract
from interactions.fingerprint import run_fingerprint
from interactions.models import ModelConfig
from interactions.objectives import build_objective, objective_class
from interactions.presets import Preset
from interactions.train import Resume, TrainConfig, read_training_state, train

SCORING_VERSION = 3  # bump when scoring changes, so that stored runs are recomputed

# Grid arm -> (registered objective, architecture its score is compared with at initialisation).
ARMS = {
    "comm": ("comm", "fused"),
    "comm_fused": ("comm", "fused"),
    "cross": ("cross", "encoders"),
    "cross_self": ("cross_self", "encoders"),
    "supervised": ("supervised", "fused"),
    "cmc": ("cmc", "encoders"),
    "factorcl": ("factorcl", "encoders"),
    "infmasking": ("infmasking", "fused"),
    "random_fused": ("random", "fused"),
    "random_encoders": ("random", "encoders"),
}


def arm_objective(arm: str, generator: Generator) -> tuple[str, dict]:
    """The registered objective and options of a grid arm; any other name is a registered objective."""
    if arm not in ARMS:
        return arm, {}
    name, architecture = ARMS[arm]
    if arm == "comm_fused":
        return name, {"weights": [0.0] * generator.n_modalities + [1.0]}
    if arm == "supervised":
        task = generator.joint_task
        return name, {"task": task, "n_classes": generator.truth(task).n_classes}
    if name == "random":
        return name, {"architecture": architecture}
    return name, {}


@dataclass(frozen=True)
class RunSpec:
    generator: str
    arm: str
    seed: int
    preset: Preset
    device: str = "auto"
    partial: str | None = None  # where the run keeps its training state between checkpoints (not in the key)

    @property
    def is_image(self) -> bool:
        return generator_preset(self.generator).is_image

    @property
    def scale(self) -> Preset:
        """The preset's sizes for this run's generator (its image scale for an image generator)."""
        if self.preset.images is not None and self.is_image:
            return self.preset.images
        return self.preset

    def plugin_modules(self) -> list[str]:
        """Modules outside this project that registered the run's objective or generator preset (the
        calling script's `__main__` included): their source is part of the run's fingerprint."""
        name = ARMS.get(self.arm, (self.arm,))[0]
        modules = {objective_class(name).__module__, generator_preset(self.generator).factory.__module__}
        return sorted(m for m in modules if not m.startswith(("interactions.", "generators.", "estimators.")))

    def build_generator(self) -> Generator:
        return generator_preset(self.generator).build(self.scale.image_size)

    def model(self) -> ModelConfig:
        overrides = dict(self.scale.image_model) if self.is_image else {}
        return ModelConfig(**{**generator_preset(self.generator).model, **overrides})

    def train_config(self) -> TrainConfig:
        p = self.scale
        return TrainConfig(
            epochs=p.epochs,
            batch_size=p.batch_size,
            lr=p.lr,
            weight_decay=p.weight_decay,
            seed=self.seed,
            device=self.device,
            **({"augment": ImageAugment(), "light_augment": LIGHT_CROP} if self.is_image else {}),
        )

    @staticmethod
    def scale_config(scale: Preset) -> dict:
        """A scale's sizes as a run's configuration records them (`config()["scoring"]`, less its version)."""
        return {
            k: v
            for k, v in asdict(scale).items()
            if k not in ("name", "generators", "objectives", "seeds", "images")
        }

    def config(self) -> dict:
        """Everything that determines the run's scores (the device does not enter the key)."""
        generator = self.build_generator()
        name, options = arm_objective(self.arm, generator)
        train_cfg = asdict(self.train_config())
        train_cfg.pop("device")
        train_cfg.pop("progress")
        scoring = self.scale_config(self.scale)
        return {
            "generator": {"preset": self.generator, **generator.config()},
            "objective": {
                "arm": self.arm,
                "name": name,
                "options": options,
                "trains_on": list(objective_class(name).trains_on),
            },
            "model": asdict(self.model()),
            "train": train_cfg,
            "scoring": {**scoring, "version": SCORING_VERSION},
            "seed": self.seed,
        }


def _probe_rows(kind: str, train_z: np.ndarray, test_z: np.ndarray, train, test, tasks, epoch, seed) -> list:
    rows = []
    for task in tasks:
        score = probe_score(kind, train_z, train.labels[task], test_z, test.labels[task], seed=seed)
        rows += [(task, kind, metric, epoch, value) for metric, value in score.as_dict().items()]
    return rows


def run_one(spec: RunSpec) -> tuple[list[tuple], float]:
    """Train and score one run: (score rows, training seconds)."""
    gen = spec.build_generator()
    p = spec.scale
    pretrain = gen.sample(p.n_pretrain, seed=spec.seed, split="pretrain")
    probe_train = gen.sample(p.n_probe_train, seed=spec.seed, split="train")
    probe_test = gen.sample(p.n_probe_test, seed=spec.seed, split="test")
    name, options = arm_objective(spec.arm, gen)
    dims = [x.shape[1] if x.ndim == 2 else tuple(x.shape[1:]) for x in pretrain.modalities]
    objective = build_objective(name, dims, spec.model(), seed=spec.seed, **options)
    tasks = [t for t in gen.tasks if gen.truth(t).n_classes > 1]
    rows: list[tuple] = []

    info_tasks = [t for t in tasks if t != "all"]

    def checkpoint(epoch: int, obj) -> None:
        """Learning dynamics: linear probes of the information types, and the PID, at a few epochs. The last
        epoch's are the final scores, copied below rather than computed twice."""
        if epoch in p.checkpoints and epoch != p.epochs:
            z_train, z_test = extract(obj, probe_train)[0], extract(obj, probe_test)[0]
            rows.extend(
                _probe_rows("linear", z_train, z_test, probe_train, probe_test, info_tasks, epoch, spec.seed)
            )
            rows.extend(_pid_rows(spec, gen, obj, epoch))

    resume, state = None, None
    if spec.partial is not None and objective.trainable:

        def progress() -> dict:  # saved with the training state at each checkpoint
            return {"rows": rows, "code": fingerprint}

        fingerprint = run_fingerprint(spec)
        resume = Resume(Path(spec.partial), frozenset(p.checkpoints), progress)
        state = read_training_state(resume.path)
        if state is not None and state["extra"]["code"] != fingerprint:
            resume.path.unlink()  # saved by other code: train from the start
            state = None
    if state is not None:
        rows.extend(tuple(row) for row in state["extra"]["rows"])
    elif objective.trainable:
        checkpoint(0, objective)
    trained = train(objective, pretrain, spec.train_config(), lambda e, obj: checkpoint(e + 1, obj), resume)
    seconds = trained.seconds
    z_train, z_test = extract(objective, probe_train)[0], extract(objective, probe_test)[0]
    final: list[tuple] = []
    for kind in ("linear", "mlp") if p.mlp_probe else ("linear",):
        final += _probe_rows(kind, z_train, z_test, probe_train, probe_test, tasks, None, spec.seed)
    final += _pid_rows(spec, gen, objective, None)
    if objective.trainable and p.epochs in p.checkpoints:
        last = [r for r in final if r[1] == "pid" or (r[1] == "linear" and r[0] in info_tasks)]
        rows += [(task, probe, metric, p.epochs, value) for task, probe, metric, _, value in last]
    return rows + final, seconds


def _pid_rows(spec: RunSpec, gen: Generator, objective, epoch: int | None) -> list[tuple]:
    """Bias-corrected PID of (modality-1 representation, the other modalities' representations; the
    generator's joint task: `all` for the factor generators)."""
    p = spec.scale
    sample = gen.sample(p.n_pid, seed=spec.seed, split="val")
    _, per_modality = extract(objective, sample)
    rest = np.concatenate(per_modality[1:], axis=1)
    result = representation_pid(
        per_modality[0],
        rest,
        sample.labels[gen.joint_task],
        n_permutations=p.n_permutations,
        n_bootstrap=p.n_bootstrap,
        seed=spec.seed,
    )
    rows = []
    for atom in ATOMS:
        estimate = result.atoms[atom]
        for kind in ("corrected", "raw", "bias", "low", "high"):
            rows.append((gen.joint_task, "pid", f"{atom}_{kind}", epoch, getattr(estimate, kind)))
    rows.append((gen.joint_task, "pid", "discretization_loss_bits", epoch, result.discretization_loss_bits))
    return rows
