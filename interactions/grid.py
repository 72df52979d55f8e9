"""The benchmark grid: generator presets x objectives x seeds, each run trained once and scored.

This is the only module that knows presets. A run's full configuration is hashed into its store key, so
finished runs are reused, a diverging run is recorded as failed with its reason, and an interrupted grid
resumes where it stopped.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from tqdm.auto import tqdm

from estimators.probes import probe_score
from estimators.representation_pid import ATOMS, representation_pid
from generators import FactorGenerator, TrifeatureGenerator, bimodal
from interactions.augment import ImageAugment
from interactions.extract import extract
from interactions.models import ModelConfig
from interactions.objectives import build_objective, objective_class
from interactions.store import ResultsStore, run_id
from interactions.train import TrainConfig, TrainingDiverged, train

SCORING_VERSION = 3  # bump when scoring changes, so that stored runs are recomputed

Generator = FactorGenerator | TrifeatureGenerator

GENERATORS: dict[str, Callable[[], Generator]] = {
    "bimodal_1bit": lambda: bimodal(),
    "synergy_heavy": lambda: bimodal(redundancy=2, unique1=1, unique2=1, synergy=4),
    "biased_synergy": lambda: bimodal(synergy=2, biased_pairing=True),
    "trimodal": lambda: FactorGenerator(n_modalities=3),
    "narrow_nuisance": lambda: bimodal(nuisance_dim=24, nuisance_std=2.0, dim=48),
    "trifeature": lambda: TrifeatureGenerator(),
    "trifeature_biased": lambda: TrifeatureGenerator(biased_pairing=True),
}

GENERATOR_DESIGN = {
    "bimodal_1bit": "1 bit each of R, U1, U2 and S (XOR): the reference point, every type present.",
    "synergy_heavy": "1 bit R, no uniqueness, 2 bits of synergy (sum mod 4): whether an objective keeps a "
    "multi-class synergy that a random network does not hand it.",
    "biased_synergy": "CoMM's biased pairing: pre-training pairs obey s2 = pi(s1), probing is on unbiased "
    "pairs with the label 1[s2 = pi(s1)]; synergy can only be learned jointly (fused objectives).",
    "trimodal": "3 modalities, 1 bit each of R, U1, U2, U3 and S = s1 + s2 + s3 mod 2: the n-modal case.",
    "narrow_nuisance": "1 bit each of R, U1, U2, S, 24 loud nuisance dimensions (std 2) per modality and an "
    "8-wide representation: objectives cannot keep everything and must choose.",
    "trifeature": "CoMM's bimodal Trifeature, unbiased pairs: two images sharing their shape (R = shape, "
    "U1 / U2 = texture of image 1 / 2); probed on unseen attribute combinations. The R / U run of the paper.",
    "trifeature_biased": "CoMM's bimodal Trifeature with biased pairing: pre-training pairs obey "
    "colour(image 2) = M(texture(image 1)); S = 1[pair obeys M] on unbiased test pairs. The S run of the "
    "paper.",
}

PUBLISHED_TRIFEATURE = {  # linear probe accuracy (%) at 224 px, AlexNet, 100 epochs: R, U1, S
    "cross": (100.0, 11.6, 50.0, "CoMM paper Fig. 4"),
    "cross_self": (99.7, 86.9, 50.0, "CoMM paper Fig. 4"),
    "factorcl": (99.8, 62.5, 46.5, "CoMM paper Fig. 4"),
    "comm": (99.9, 87.8, 71.9, "CoMM paper Fig. 4"),
    "infmasking": (99.9, 90.6, 77.0, "InfMasking README, 5 seeds"),
}

# Architecture overrides per generator preset (the representation is narrower than the factors).
GENERATOR_MODELS = {"narrow_nuisance": {"embed_dim": 8, "fusion_heads": 2}}

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
class Preset:
    """Sizes of one benchmark scale. `images` holds the sizes of its image generators (Trifeature), which
    train slower than the vector ones; its own name, generators, objectives and seeds are not used."""

    name: str
    generators: tuple[str, ...]
    objectives: tuple[str, ...]
    seeds: tuple[int, ...]
    n_pretrain: int
    n_probe_train: int
    n_probe_test: int
    n_pid: int
    epochs: int
    checkpoints: tuple[
        int, ...
    ]  # epochs after which the learning dynamics are scored (0 = at initialisation)
    mlp_probe: bool = True
    n_permutations: int = 20
    n_bootstrap: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-2
    image_size: int = 32
    image_model: tuple[tuple[str, object], ...] = ()  # ModelConfig overrides for image generators
    images: Preset | None = None


def _images(**sizes: object) -> Preset:
    """An image scale: a Preset whose selection fields are unused."""
    return Preset(name="images", generators=(), objectives=(), seeds=(), weight_decay=1e-4, **sizes)


ALL_ARMS = tuple(ARMS)
_QUICK = Preset(
    name="quick",
    generators=tuple(GENERATORS),
    objectives=ALL_ARMS,
    seeds=(0,),
    n_pretrain=4000,
    n_probe_train=2000,
    n_probe_test=2000,
    n_pid=6000,
    epochs=15,
    checkpoints=(0, 5, 15),
    images=_images(  # 32 px, small CNN, linear probe only: both Trifeature generators in 10 minutes
        n_pretrain=1280,
        n_probe_train=2000,
        n_probe_test=2000,
        n_pid=2000,
        epochs=10,
        checkpoints=(0, 10),
        batch_size=64,
        mlp_probe=False,
        image_model=(("image_channels", 32),),
    ),
)
PRESETS = {
    "smoke": Preset(
        name="smoke",
        generators=("bimodal_1bit", "biased_synergy", "trifeature_biased"),
        objectives=ALL_ARMS,
        seeds=(0,),
        n_pretrain=1500,
        n_probe_train=1000,
        n_probe_test=1000,
        n_pid=3000,
        epochs=4,
        checkpoints=(0, 2, 4),
        n_permutations=5,
        n_bootstrap=10,
        images=_images(
            n_pretrain=256, n_probe_train=500, n_probe_test=500, n_pid=1000, epochs=2, checkpoints=(0, 2),
            batch_size=64, n_permutations=5, n_bootstrap=10, mlp_probe=False,
        ),
    ),
    "quick": _QUICK,
    "medium": replace(  # the Trifeature scale study on a CPU (an estimated 1.5 hours on 2 cores)
        _QUICK,
        name="medium",
        generators=("trifeature", "trifeature_biased"),
        objectives=("comm", "cross", "cross_self", "random_fused", "random_encoders"),
        images=_images(
            n_pretrain=10000, n_probe_train=2000, n_probe_test=2000, n_pid=2000, epochs=28,
            checkpoints=(0, 7, 14, 21, 28), batch_size=128, mlp_probe=False,
        ),
    ),
    "paper": Preset(
        name="paper",
        generators=tuple(GENERATORS),
        objectives=ALL_ARMS,
        seeds=(0, 1, 2, 3, 4),
        n_pretrain=20000,
        n_probe_train=10000,
        n_probe_test=5000,
        n_pid=20000,
        epochs=100,
        checkpoints=(0, 10, 25, 50, 100),
        images=_images(  # CoMM's Trifeature protocol (comm.md §4.3): meant for a GPU
            n_pretrain=10000, n_probe_train=10000, n_probe_test=4000, n_pid=4000, epochs=100,
            checkpoints=(0, 10, 25, 50, 100), batch_size=64, lr=3e-4, image_size=224,
            image_model=(
                ("image_encoder", "alexnet"), ("image_grid", 6), ("embed_dim", 512), ("fusion_heads", 8),
                ("head_hidden", 512), ("head_out", 256),
            ),
        ),
    ),
}  # fmt: skip


def is_image_generator(name: str) -> bool:
    return isinstance(GENERATORS[name](), TrifeatureGenerator)


@dataclass(frozen=True)
class RunSpec:
    generator: str
    arm: str
    seed: int
    preset: Preset
    device: str = "auto"

    @property
    def scale(self) -> Preset:
        """The preset's sizes for this run's generator (its image scale for an image generator)."""
        if self.preset.images is not None and is_image_generator(self.generator):
            return self.preset.images
        return self.preset

    def build_generator(self) -> Generator:
        if self.generator not in GENERATORS:
            raise ValueError(
                f"generator must be one of {', '.join(map(repr, GENERATORS))}, got {self.generator!r}"
            )
        generator = GENERATORS[self.generator]()
        if isinstance(generator, TrifeatureGenerator):
            generator = replace(generator, size=self.scale.image_size)
        return generator

    def model(self) -> ModelConfig:
        overrides = dict(self.scale.image_model) if is_image_generator(self.generator) else {}
        return ModelConfig(**{**GENERATOR_MODELS.get(self.generator, {}), **overrides})

    def train_config(self) -> TrainConfig:
        p = self.scale
        image = is_image_generator(self.generator)
        return TrainConfig(
            epochs=p.epochs,
            batch_size=p.batch_size,
            lr=p.lr,
            weight_decay=p.weight_decay,
            seed=self.seed,
            device=self.device,
            **({"augment": ImageAugment()} if image else {}),
        )

    def config(self) -> dict:
        """Everything that determines the run's scores (the device does not enter the key)."""
        generator = self.build_generator()
        name, options = arm_objective(self.arm, generator)
        train_cfg = asdict(self.train_config())
        train_cfg.pop("device")
        train_cfg.pop("progress")
        scoring = {
            k: v
            for k, v in asdict(self.scale).items()
            if k not in ("name", "generators", "objectives", "seeds", "images")
        }
        return {
            "generator": {"preset": self.generator, **generator.config()},
            "objective": {"arm": self.arm, "name": name, "options": options},
            "model": asdict(self.model()),
            "train": train_cfg,
            "scoring": {**scoring, "version": SCORING_VERSION},
            "seed": self.seed,
        }


def grid(
    preset: str | Preset,
    generators: Sequence[str] | None = None,
    objectives: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    device: str = "auto",
) -> list[RunSpec]:
    """Run specs of a preset, optionally narrowed (or, for objectives, extended by registered ones)."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {preset!r}")
        preset = PRESETS[preset]
    gens = tuple(generators) if generators else preset.generators
    for g in gens:
        if g not in GENERATORS:
            raise ValueError(f"generators must be among {', '.join(GENERATORS)}, got {g!r}")
    arms = tuple(objectives) if objectives else preset.objectives
    for arm in arms:
        if arm not in ARMS:
            objective_class(arm)  # a registered (or plug-in) objective, else ValueError naming the choices
    return [
        RunSpec(g, a, int(s), preset, device) for g in gens for a in arms for s in (seeds or preset.seeds)
    ]


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

    if objective.trainable:
        checkpoint(0, objective)
    started = time.perf_counter()
    train(objective, pretrain, spec.train_config(), on_epoch_end=lambda e, obj: checkpoint(e + 1, obj))
    seconds = time.perf_counter() - started
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
    return rows


def run_grid(
    specs: Sequence[RunSpec], store: ResultsStore, force: bool = False, log=sys.stderr
) -> dict[str, int]:
    """Run every spec not yet in the store (all of them with `force`); returns counts by outcome."""
    counts = {"trained": 0, "cached": 0, "failed": 0}
    show = log is not None and hasattr(log, "isatty") and log.isatty()
    for spec in tqdm(specs, desc="grid", disable=not show):
        config = spec.config()
        key = run_id(config)
        if not force and store.status(key) is not None:
            counts["cached"] += 1
            continue
        label = f"{spec.generator} / {spec.arm} / seed {spec.seed}"
        try:
            rows, seconds = run_one(spec)
        except TrainingDiverged as error:
            store.record(key, config, [], status="failed", reason=str(error))
            counts["failed"] += 1
            if log is not None:
                print(f"[grid] {label}: failed ({error})", file=log)
            continue
        store.record(key, config, rows, seconds=seconds)
        counts["trained"] += 1
        if log is not None:
            print(f"[grid] {label}: done in {seconds:.1f} s", file=log, flush=True)
    return counts


def truth_table(generators: Sequence[str]) -> list[dict]:
    """Chance, Bayes ceiling and exact atoms per generator preset and task (what the report compares to)."""
    rows = []
    for name in generators:
        gen = GENERATORS[name]()
        for task in gen.tasks:
            truth = gen.truth(task)
            if gen.n_modalities > 2:  # modality 1 against the rest, as the PID of representations is taken
                rest = sum(v for k, v in truth.atoms.items() if k.startswith("unique") and k != "unique1")
                atoms = {**{k: truth.atoms[k] for k in ("redundancy", "unique1", "synergy")}, "unique2": rest}
            else:
                atoms = dict(truth.atoms)
            rows.append(
                {"generator": name, "task": task, "chance": truth.chance, "bayes": truth.bayes, **atoms}
            )
    return rows
