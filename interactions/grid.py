"""The benchmark grid: generator presets x objectives x seeds, each run trained once and scored.

A run's full configuration is hashed into its store key, so finished runs are reused, a diverging or
crashing run is recorded as failed with its reason, and an interrupted grid resumes where it stopped. Runs
are spread over an executor (`interactions.executor`: this process, a local process pool, or Ray); each run
is a pure function of its spec and runs on one thread, so its scores do not depend on where it ran.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

import interactions
from estimators.probes import probe_score
from estimators.representation_pid import ATOMS, representation_pid
from estimators.threads import one_thread, thread_counts
from estimators.validation import check_int
from generators import available_generators, generator_preset
from generators.registry import Generator
from interactions.augment import LIGHT_CROP, ImageAugment
from interactions.executor import SerialExecutor, WorkerLost, make_executor
from interactions.extract import extract
from interactions.models import ModelConfig
from interactions.objectives import build_objective, objective_class
from interactions.presets import Preset
from interactions.presets import preset as resolve_preset
from interactions.store import ResultsStore, run_id
from interactions.train import Resume, TrainConfig, TrainingDiverged, read_training_state, train

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


def grid(
    preset: str | Preset,
    generators: Sequence[str] | None = None,
    objectives: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    device: str = "auto",
) -> list[RunSpec]:
    """Run specs of a preset, optionally narrowed (or extended by registered objectives and generator
    presets). Every objective of a generator and seed sees the same data (paired comparisons)."""
    preset = resolve_preset(preset)
    for knob, selection in (("generators", generators), ("objectives", objectives), ("seeds", seeds)):
        if selection is not None and len(selection) == 0:
            raise ValueError(f"{knob} must name at least one, got an empty selection")
    gens = tuple(generators) if generators is not None else preset.generators
    for g in gens:
        if g not in available_generators():
            raise ValueError(f"generators must be among {', '.join(available_generators())}, got {g!r}")
    arms = tuple(objectives) if objectives is not None else preset.objectives
    for arm in arms:
        if arm not in ARMS:
            objective_class(arm)  # a registered (or plug-in) objective, else ValueError naming the choices
    seeds = [check_int("seeds", s, 0) for s in (seeds if seeds is not None else preset.seeds)]
    return [RunSpec(g, a, s, preset, device) for g in gens for a in arms for s in seeds]


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
            return {"rows": rows, "code": code_fingerprint()}

        resume = Resume(Path(spec.partial), frozenset(p.checkpoints), progress)
        state = read_training_state(resume.path)
        if state is not None and state["extra"]["code"] != code_fingerprint():
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


@dataclass(frozen=True)
class RunOutcome:
    """What a worker sends back: the run's score rows, training seconds, status and where it ran."""

    rows: list[tuple]
    seconds: float | None
    status: str  # "done" or "failed"
    reason: str | None
    meta: dict


def execute(spec: RunSpec) -> RunOutcome:
    """Run one spec on one thread, catching its failure: a diverging loss or any other error becomes a
    failed outcome with its reason (the grid goes on). Ctrl-C is not caught."""
    meta = {
        "host": platform.node(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    with one_thread():
        meta["threads"] = thread_counts()
        try:
            rows, seconds = run_one(spec)
        except TrainingDiverged as error:
            return RunOutcome([], None, "failed", str(error), meta)
        except Exception as error:  # a bug or a bad plug-in must not stop the grid: record it
            where = traceback.extract_tb(error.__traceback__)[-1]
            reason = f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
            return RunOutcome([], None, "failed", reason, meta)
    return RunOutcome(rows, seconds, "done", None, meta)


# Modules that cannot change a run's scores: how runs are scheduled, stored and reported, and the presets,
# whose sizes enter every run's configuration (and so its key) anyway.
_NOT_SCORING = {"report.py", "cli.py", "store.py", "executor.py", "presets.py"}
STALE_POLICIES = ("keep", "recompute")


@cache
def code_fingerprint(packages: tuple[str, ...] = ("generators", "estimators", "interactions")) -> str:
    """A hash of everything that determines a run's scores besides its configuration: the source of the
    generators, estimators and harness (not the report, CLI, store, executor or presets) and the versions of
    torch, numpy, scipy and scikit-learn. Stored with every run; a run stored under another fingerprint is
    stale.
    `packages` narrows it to what a result depends on (e.g. the estimator validation: no harness)."""
    import scipy
    import sklearn

    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if path.name not in _NOT_SCORING:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for module in (torch, np, scipy, sklearn):
        digest.update(f"{module.__name__}={module.__version__}".encode())
    return digest.hexdigest()[:16]


def is_stale(meta: str | dict | None) -> bool:
    """Whether a stored run's metadata (JSON or dict) names another code fingerprint, or none."""
    if isinstance(meta, str):
        meta = json.loads(meta)
    return not meta or meta.get("code") != code_fingerprint()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def _plugin_modules(specs: Sequence[RunSpec]) -> list[str]:
    """Modules that registered the specs' objectives and generator presets outside this project, for
    workers that do not share the driver's registries."""
    modules = {objective_class(ARMS.get(s.arm, (s.arm,))[0]).__module__ for s in specs}
    modules |= {generator_preset(s.generator).factory.__module__ for s in specs}
    own = ("interactions.", "generators.", "estimators.")
    return sorted(m for m in modules if not m.startswith(own) and m != "__main__")


def partial_dir(store: ResultsStore) -> Path:
    """Where a store's unfinished runs keep their training state: `<store stem>.partial/` beside it, one
    file per run key, removed when the run is recorded."""
    return store.path.parent / f"{store.path.stem}.partial"


def run_grid(
    specs: Sequence[RunSpec],
    store: ResultsStore,
    force: bool = False,
    log=sys.stderr,
    *,
    workers: int | None = None,
    backend: str = "local",
    ray_address: str | None = None,
    stale: str = "keep",
) -> dict[str, int]:
    """Run every spec not yet in the store (all of them with `force`); returns counts by outcome.

    A stored run computed by other code (`code_fingerprint`) is kept and counted as `stale` by default;
    `stale="recompute"` trains it again.

    `backend="local"` runs `workers` processes (default: every usable core; 1 runs in this process);
    `backend="ray"` runs Ray tasks (one CPU each, one GPU each on CUDA). The driver alone writes the store,
    one transaction per run as results arrive, so a killed grid loses only the runs in flight.
    """
    if stale not in STALE_POLICIES:
        raise ValueError(f"stale must be one of {', '.join(map(repr, STALE_POLICIES))}, got {stale!r}")
    counts = {"trained": 0, "cached": 0, "failed": 0, "stale": 0}
    todo: list[tuple[RunSpec, str, dict]] = []
    for spec in specs:
        config = spec.config()
        key = run_id(config)
        stored = None if force else store.run(key)
        if stored is not None and is_stale(stored["meta"]) and stale == "recompute":
            stored = None
        if stored is None:
            todo.append((spec, key, config))
        else:
            counts["cached"] += 1
            counts["stale"] += is_stale(stored["meta"])
    if not todo:
        return counts
    partial = partial_dir(store)
    if force:
        for _, key, _ in todo:
            (partial / f"{key}.pt").unlink(missing_ok=True)
    todo = [(replace(spec, partial=str(partial / f"{key}.pt")), key, config) for spec, key, config in todo]
    cuda = any(spec.device.startswith("cuda") for spec, _, _ in todo)
    executor = make_executor(
        backend,
        1 if workers is None and len(todo) == 1 else workers,
        ray_address=ray_address,
        num_gpus=1 if cuda else 0,
        modules=_plugin_modules([spec for spec, _, _ in todo]),
    )
    driver = {
        "backend": "serial" if isinstance(executor, SerialExecutor) else backend,
        "package": interactions.__version__,
        "commit": _git_commit(),
        "code": code_fingerprint(),
    }
    show = log is not None and hasattr(log, "isatty") and log.isatty()
    bar = tqdm(total=len(specs), initial=counts["cached"], desc="grid", unit="run", disable=not show)
    say = tqdm.write if show else (lambda text: print(text, file=log, flush=True))
    try:
        for index, outcome in executor.map_unordered(execute, [spec for spec, _, _ in todo]):
            spec, key, config = todo[index]
            lost = isinstance(outcome, WorkerLost)
            if lost:
                outcome = RunOutcome([], None, "failed", outcome.reason, {})
            meta = {**outcome.meta, **driver}
            store.record(
                key,
                config,
                outcome.rows,
                status=outcome.status,
                reason=outcome.reason,
                seconds=outcome.seconds,
                meta=meta,
            )
            if not lost:  # a lost worker's run resumes from its training state next time
                Path(spec.partial).unlink(missing_ok=True)
            label = f"{spec.generator} / {spec.arm} / seed {spec.seed}"
            if outcome.status == "done":
                counts["trained"] += 1
                message = f"[grid] {label}: done in {outcome.seconds:.1f} s"
            else:
                counts["failed"] += 1
                message = f"[grid] {label}: failed ({outcome.reason})"
            if log is not None:
                say(message)
            bar.set_postfix(finished=counts["trained"], cached=counts["cached"], failed=counts["failed"])
            bar.update()
    finally:
        bar.close()
    return counts


def truth_table(generators: Sequence[str]) -> list[dict]:
    """Chance, Bayes ceiling and exact atoms per generator preset and task (what the report compares to);
    atoms of n-modal generators as modality 1 against the rest, as the PID of representations is taken."""
    rows = []
    for name in generators:
        gen = generator_preset(name).build(image_size=32)  # the truth does not depend on the image size
        for task in gen.tasks:
            truth = gen.truth(task)
            rows.append(
                {
                    "generator": name,
                    "task": task,
                    "chance": truth.chance,
                    "bayes": truth.bayes,
                    **truth.against_rest(),
                }
            )
    return rows
