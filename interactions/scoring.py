"""What a grid run computes: a run spec (generator preset, arm, seed, scale) and `run_one`, which trains
the run and scores it (linear and MLP probes, the presence and usable-information PIDs of the per-modality
representations, the checkpoint scores). With the generators, estimators, models, objectives and
trainer, this module is what the code fingerprint covers (`interactions.fingerprint`): scheduling,
storing and reporting runs is elsewhere, so that editing those never marks stored runs stale."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from estimators.probes import Probe, make_probe
from estimators.representation_pid import RepresentationPID, representation_pid
from estimators.usable_pid import Representations, usable_pid
from generators import generator_preset
from generators.registry import Generator, with_knobs
from interactions.augment import LIGHT_CROP, ImageAugment
from interactions.device import resolve_device
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


def split_knobs(vary: Sequence[tuple[str, object]]) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    """A run's knob settings split into generator knobs (`noise`) and objective knobs by objective
    (`cross_self.cross_weight` -> {"cross_self": {"cross_weight": ...}})."""
    generator: dict[str, object] = {}
    objectives: dict[str, dict[str, object]] = {}
    for knob, value in vary:
        owner, _, name = knob.rpartition(".")
        if owner:
            objectives.setdefault(owner, {})[name] = value
        else:
            generator[name] = value
    return generator, objectives


@dataclass(frozen=True)
class RunSpec:
    generator: str
    arm: str
    seed: int
    preset: Preset
    device: str = "auto"
    partial: str | None = None  # where the run keeps its training state between checkpoints (not in the key)
    cache: str | None = None  # a `ScoreCache` folder shared by the runs of a grid (not in the key)
    # knob settings of an interaction map: generator knobs (`("noise", 0.6)`) and objective knobs
    # (`("cross_self.cross_weight", 0.5)`); they enter the key through the generator's and objective's config
    vary: tuple[tuple[str, object], ...] = ()

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
        generator = generator_preset(self.generator).build(self.scale.image_size)
        return with_knobs(generator, split_knobs(self.vary)[0])

    def objective(self, generator: Generator) -> tuple[str, dict]:
        """The registered objective and options of the run's arm on `generator`, with the run's knobs of
        that objective."""
        name, options = arm_objective(self.arm, generator)
        return name, {**options, **split_knobs(self.vary)[1].get(name, {})}

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
        name, options = self.objective(generator)
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


class ScoreCache:
    """Scores of identical inputs computed once: a folder of score rows keyed by a digest of everything they
    depend on (the features and labels scored, the scoring sizes and seed, and the run fingerprint), written
    atomically and shared by the processes of a grid. A trained arm's epoch-0 checkpoint scores the
    untrained network that the random arm of its architecture scores at the end (same seed, same
    initialisation, the same features bit for bit): with the cache that is computed once per generator and
    seed, not once per arm. `folder=None` caches nothing."""

    def __init__(self, folder: str | Path | None, salt: object = None) -> None:
        self.folder = None if folder is None else Path(folder)
        self.salt = json.dumps(salt, sort_keys=True, default=str).encode()

    def rows(self, parts: Sequence[object], compute: Callable[[], list[tuple]]) -> list[tuple]:
        """The rows `compute()` gives for these `parts` (arrays or JSON-able values): read if stored."""
        if self.folder is None:
            return compute()
        digest = hashlib.sha256(self.salt)
        for part in parts:
            if isinstance(part, np.ndarray):
                digest.update(f"{part.dtype}{part.shape}".encode())
                digest.update(np.ascontiguousarray(part).tobytes())
            else:
                digest.update(json.dumps(part, sort_keys=True).encode())
        file = self.folder / f"{digest.hexdigest()}.json"
        if file.is_file():
            return [tuple(row) for row in json.loads(file.read_text())]
        rows = compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=file.name + ".")
        with os.fdopen(fd, "w") as f:
            json.dump(rows, f)
        os.replace(tmp, file)
        return rows


def _probe_rows(
    kind: str,
    train_z: np.ndarray,
    test_z: np.ndarray,
    train,
    test,
    tasks,
    epoch,
    seed: int,
    device: str,
    cache: ScoreCache,
    keep: str | None = None,
) -> tuple[list, dict[str, Probe]]:
    """Score rows of a `kind` probe per task (from the cache where another run scored the same features),
    and the probe of task `keep`, which is always fitted here."""
    rows, probes = [], {}
    for task in tasks:

        def scored(task: str = task) -> list[tuple]:
            probe = make_probe(kind, seed=seed, device=device).fit(train_z, train.labels[task])
            if task == keep:
                probes[task] = probe
            score = probe.score(test_z, test.labels[task])
            return [(task, kind, metric, None, value) for metric, value in score.as_dict().items()]

        parts = ("probe", kind, task, seed, train_z, test_z, train.labels[task], test.labels[task])
        task_rows = scored() if task == keep else cache.rows(parts, scored)
        rows += [(*row[:3], epoch, row[4]) for row in task_rows]
    return rows, probes


def run_one(spec: RunSpec) -> tuple[list[tuple], float]:
    """Train and score one run: (score rows, training seconds)."""
    gen = spec.build_generator()
    p = spec.scale
    pretrain = gen.sample(p.n_pretrain, seed=spec.seed, split="pretrain")
    probe_train = gen.sample(p.n_probe_train, seed=spec.seed, split="train")
    probe_test = gen.sample(p.n_probe_test, seed=spec.seed, split="test")
    name, options = spec.objective(gen)
    dims = [x.shape[1] if x.ndim == 2 else tuple(x.shape[1:]) for x in pretrain.modalities]
    objective = build_objective(name, dims, spec.model(), seed=spec.seed, **options)
    tasks = [t for t in gen.tasks if gen.truth(t).n_classes > 1]
    rows: list[tuple] = []
    seed = spec.seed
    info_tasks = [t for t in tasks if t != "all"]
    device = str(resolve_device(spec.device))
    # Scores depend on the features, not on the objective that made them: the cache is shared by the arms.
    cache = ScoreCache(spec.cache, salt={k: v for k, v in run_fingerprint(spec).items() if k != "objective"})

    def checkpoint(epoch: int, obj) -> None:
        """Learning dynamics: linear probes of the information types, and the PID, at a few epochs. The last
        epoch's are the final scores, copied below rather than computed twice."""
        if epoch in p.checkpoints and epoch != p.epochs:
            z_train, z_test = extract(obj, probe_train)[0], extract(obj, probe_test)[0]
            linear = _probe_rows(
                "linear", z_train, z_test, probe_train, probe_test, info_tasks, epoch, seed, device, cache
            )
            rows.extend(linear[0])
            rows.extend(_pid_rows(spec, gen, obj, epoch, cache))

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
    (z_train, per_train), z_test = extract(objective, probe_train), extract(objective, probe_test)[0]
    final: list[tuple] = []
    for kind in ("linear", "mlp") if p.mlp_probe else ("linear",):
        kind_rows, probes = _probe_rows(
            kind, z_train, z_test, probe_train, probe_test, tasks, None, seed, device, cache, gen.joint_task
        )
        final += kind_rows
        if kind == "linear":
            joint_readout = probes[gen.joint_task]
    readout_train = Representations(
        per_train[0], np.concatenate(per_train[1:], axis=1), probe_train.labels[gen.joint_task], joint=z_train
    )
    final += _pid_rows(spec, gen, objective, None, cache, (readout_train, joint_readout))
    if objective.trainable and p.epochs in p.checkpoints:
        last = [r for r in final if r[1] == "pid" or (r[1] == "linear" and r[0] in info_tasks)]
        rows += [(task, probe, metric, p.epochs, value) for task, probe, metric, _, value in last]
    return rows + final, seconds


def _pid_rows(
    spec: RunSpec,
    gen: Generator,
    objective,
    epoch: int | None,
    cache: ScoreCache,
    usable: tuple[Representations, Probe] | None = None,
) -> list[tuple]:
    """Bias-corrected PID of (modality-1 representation, the other modalities' representations; the
    generator's joint task: `all` for the factor generators), as rows of probe `pid`. With `usable` (the
    probe-training sample's representations and the linear probe of the joint task fitted on them), also
    the usable-information PID of linear readouts, as rows of probe `usable_pid`."""
    p = spec.scale
    sample = gen.sample(p.n_pid, seed=spec.seed, split="val")
    joint, per_modality = extract(objective, sample)
    rest = np.concatenate(per_modality[1:], axis=1)
    labels = sample.labels[gen.joint_task]
    device = str(resolve_device(spec.device))

    def presence() -> list[tuple]:
        result = representation_pid(
            per_modality[0],
            rest,
            labels,
            n_permutations=p.n_permutations,
            n_bootstrap=p.n_bootstrap,
            seed=spec.seed,
        )
        return _atom_rows(gen.joint_task, "pid", result, None)

    parts = ("pid", p.n_permutations, p.n_bootstrap, spec.seed, per_modality[0], rest, labels)
    rows = [(*row[:3], epoch, row[4]) for row in cache.rows(parts, presence)]
    if usable is not None:
        train, joint_readout = usable
        test = Representations(per_modality[0], rest, labels, joint=joint)
        result = usable_pid(
            train, test, joint_readout=joint_readout, n_bootstrap=p.n_bootstrap, seed=spec.seed, device=device
        )
        rows += _atom_rows(gen.joint_task, "usable_pid", result, epoch)
    return rows


def _atom_rows(task: str, probe: str, result: RepresentationPID, epoch: int | None) -> list[tuple]:
    rows = [
        (task, probe, f"{atom}_{kind}", epoch, getattr(estimate, kind))
        for atom, estimate in result.atoms.items()
        for kind in ("corrected", "raw", "bias", "low", "high")
    ]
    return [*rows, (task, probe, "discretization_loss_bits", epoch, result.discretization_loss_bits)]
