"""Objective-agnostic training: AdamW, optional warm-up + cosine schedule, seeded, NaN guard, history,
checkpoints. It never looks at the objective's name."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from estimators.validation import check_choice, check_float, check_int
from generators.base import Sample
from interactions.augment import Augment, VectorAugment, augment_view
from interactions.device import resolve_device
from interactions.models import ModelConfig
from interactions.objectives import Objective, Views, build_objective

SCHEDULES = ("constant", "cosine")


class TrainingDiverged(RuntimeError):
    """A non-finite loss: training stopped at `epoch` (0-based) and `step` (within the epoch)."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(f"loss became {value} at epoch {epoch}, step {step}")
        self.epoch, self.step, self.value = epoch, step, value


PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """`augment` makes the two augmented views (`Views.first`, `.second`); `light_augment` the light view
    that cross-modal objectives align (`Views.light`; None: the clean batch). Either is one augmentation for
    every modality or one per modality. `precision="auto"` trains in bf16 autocast on CUDA, fp32 on CPU."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 0
    schedule: str = "constant"
    seed: int = 0
    device: str = "auto"
    augment: Augment | tuple[Augment, ...] = field(default_factory=VectorAugment)
    light_augment: Augment | tuple[Augment, ...] | None = None
    precision: str = "auto"
    progress: bool | None = None  # None: a progress bar only on a terminal

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, 0)
        check_int("batch_size", self.batch_size, 2)
        check_float("lr", self.lr, 0.0, strict=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_int("warmup_epochs", self.warmup_epochs, 0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("seed", self.seed, 0)
        check_choice("precision", self.precision, PRECISIONS)

    def augments(self, n_modalities: int) -> tuple[Augment, ...]:
        return _per_modality("augment", self.augment, n_modalities)

    def light_augments(self, n_modalities: int) -> tuple[Augment, ...] | None:
        if self.light_augment is None:
            return None
        return _per_modality("light_augment", self.light_augment, n_modalities)


def _per_modality(
    name: str, augment: Augment | tuple[Augment, ...], n_modalities: int
) -> tuple[Augment, ...]:
    if not isinstance(augment, tuple):
        return (augment,) * n_modalities
    if len(augment) != n_modalities:
        raise ValueError(f"{name} must be one augmentation or {n_modalities} of them, got {len(augment)}")
    return augment


@dataclass
class TrainResult:
    objective: Objective
    history: list[dict]
    seconds: float


@dataclass(frozen=True)
class Resume:
    """Where `train` keeps its state so that an interrupted run goes on where it stopped: after each epoch
    count in `epochs` it writes `path` atomically (weights, optimiser, schedule, random streams, history,
    training seconds so far, and `extra()`: the caller's own payload, e.g. the scores of past checkpoints);
    if `path` exists when training starts, training resumes from it. On CPU a resumed run ends with the
    same weights as an uninterrupted one."""

    path: Path
    epochs: frozenset[int]
    extra: Callable[[], dict] = dict


def read_training_state(path: str | Path) -> dict | None:
    """The state a `Resume` wrote (None if there is none); ValueError naming a damaged file."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        raise ValueError(
            f"{path} is not a training state ({type(error).__name__}); delete it to train from the start"
        ) from None


def parameter_groups(objective: Objective, weight_decay: float) -> list[dict]:
    """AdamW groups: weights of dimension >= 2 decay; biases, norm parameters and scalars do not."""
    decay = [p for p in objective.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in objective.parameters() if p.requires_grad and p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_factor(step: int, warmup_steps: int, total_steps: int, schedule: str) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _views(
    objective: Objective,
    clean: list[torch.Tensor],
    labels: dict[str, torch.Tensor],
    augments: tuple[Augment, ...],
    light: tuple[Augment, ...] | None,
    generator: torch.Generator,
) -> Views:
    """The views the objective trains on (`trains_on`), and only those."""
    wanted = objective.trains_on

    def view(name: str, augment: tuple[Augment, ...]) -> list[torch.Tensor] | None:
        return augment_view(clean, augment, generator) if name in wanted else None

    return Views(
        clean=clean,
        first=view("first", augments),
        second=view("second", augments),
        labels=labels,
        light=view("light", light) if light is not None else None,
    )


def _channels_last(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Image batches in channels-last layout on CUDA (faster convolutions under autocast); else as is."""
    if device.type == "cuda" and x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def train(
    objective: Objective,
    sample: Sample,
    config: TrainConfig,
    on_epoch_end: Callable[[int, Objective], None] | None = None,
    resume: Resume | None = None,
) -> TrainResult:
    """Train `objective` on `sample` (its modalities and labels). Raises `TrainingDiverged` on a non-finite
    loss. `on_epoch_end(epoch, objective)` runs after every epoch (e.g. to score checkpoints); `resume` keeps
    a state to go on from after an interruption (see `Resume`).

    The whole sample is moved to the device once (no host batches to copy or pin), and the loop never waits
    for the device: losses are summed on it and read, and checked for non-finite values, once per epoch."""
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    device = resolve_device(config.device)
    objective.check_sample(sample.modalities, sample.labels)
    if len(sample) < 2:
        raise ValueError(
            f"sample must hold at least 2 samples (contrastive batches need 2), got {len(sample)}"
        )
    objective.to(device)
    history: list[dict] = []
    start = time.perf_counter()
    if not objective.trainable or config.epochs == 0:
        return TrainResult(objective, history, time.perf_counter() - start)
    if device.type == "cuda":
        objective.to(memory_format=torch.channels_last)
    torch.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    xs = [_channels_last(torch.as_tensor(x, device=device), device) for x in sample.modalities]
    labels = {k: torch.as_tensor(v, device=device) for k, v in sample.labels.items()}
    augments, light = config.augments(len(xs)), config.light_augments(len(xs))
    n = len(xs[0])
    batch = min(config.batch_size, n)
    steps_per_epoch = max(1, n // batch)
    optimizer = torch.optim.AdamW(parameter_groups(objective, config.weight_decay), lr=config.lr)
    total = steps_per_epoch * config.epochs
    warmup = steps_per_epoch * config.warmup_epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _lr_factor(s, warmup, total, config.schedule)
    )
    bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    first_epoch, past_seconds = 0, 0.0
    state = read_training_state(resume.path) if resume is not None else None
    if state is not None:
        objective.load_state_dict(state["objective"])
        objective.load_own_optimizer_states(state["own_optimizers"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
        history, first_epoch, past_seconds = state["history"], state["epochs_done"], state["seconds"]
    show = sys.stderr.isatty() if config.progress is None else config.progress
    epochs = range(first_epoch, config.epochs)
    for epoch in tqdm(epochs, desc=objective.name, disable=not show, leave=False):
        objective.train()
        objective.start_epoch(epoch, config.epochs)
        order = torch.randperm(n, generator=generator, device=device)
        step_losses = torch.zeros(steps_per_epoch, device=device)
        sums: dict[str, torch.Tensor] = {}
        epoch_start = time.perf_counter()
        for step in range(steps_per_epoch):
            index = order[step * batch : (step + 1) * batch]
            views = _views(objective, [x[index] for x in xs], {k: v[index] for k, v in labels.items()},
                           augments, light, generator)  # fmt: skip
            objective.before_step(views)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out = objective.loss(views)
            loss = out["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step_losses[step] = loss.detach()
            for key, value in out.items():
                sums[key] = sums.get(key, 0.0) + value.detach().float()
        finite = torch.isfinite(step_losses)
        if not finite.all():  # the one read of the epoch: a diverged run stops here
            bad = int((~finite).nonzero()[0, 0])
            raise TrainingDiverged(epoch, bad, float(step_losses[bad]))
        record = {key: float(value) / steps_per_epoch for key, value in sums.items()}
        record.update(
            epoch=epoch, lr=optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - epoch_start
        )
        history.append(record)
        if on_epoch_end is not None:
            on_epoch_end(epoch, objective)
        if resume is not None and epoch + 1 in resume.epochs and epoch + 1 < config.epochs:
            _save_training_state(resume, objective, optimizer, scheduler, generator, history,
                                 past_seconds + time.perf_counter() - start)  # fmt: skip
    return TrainResult(objective, history, past_seconds + time.perf_counter() - start)


def _save_training_state(
    resume: Resume, objective, optimizer, scheduler, generator, history: list[dict], seconds: float
) -> None:
    state = {
        "objective": objective.state_dict(),
        "own_optimizers": objective.own_optimizer_states(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(),
        "rng": torch.get_rng_state(),
        "history": history,
        "epochs_done": len(history),
        "seconds": seconds,
        "extra": resume.extra(),
    }
    resume.path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(resume.path, lambda f: torch.save(state, f))


def save_checkpoint(path: str | Path, objective: Objective, extra: dict | None = None) -> Path:
    """Write `path/weights.pt` and `path/config.json` (objective, modality dims, model and options),
    each atomically."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "objective": objective.name,
        "modality_dims": objective.modality_dims,
        "model": asdict(objective.model_config),
        "options": objective.options(),
        **(extra or {}),
    }
    _atomic_write(path / "config.json", lambda f: f.write(json.dumps(config, indent=2).encode()))
    state = {k: v.detach().cpu() for k, v in objective.state_dict().items()}
    _atomic_write(path / "weights.pt", lambda f: torch.save(state, f))
    return path


def load_checkpoint(path: str | Path, device: str = "auto") -> Objective:
    """Rebuild the objective saved by `save_checkpoint` and load its weights (weights-only loading). A
    missing, truncated or foreign file raises ValueError naming it."""
    path = Path(path)
    config_file, weights_file = path / "config.json", path / "weights.pt"
    for file in (config_file, weights_file):
        if not file.is_file():
            raise ValueError(f"checkpoint {path}: {file.name} is missing (save_checkpoint writes both files)")
    try:
        config = json.loads(config_file.read_text())
        objective = build_objective(
            config["objective"], config["modality_dims"], ModelConfig(**config["model"]), **config["options"]
        )
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise ValueError(
            f"{config_file} is not a checkpoint configuration ({type(error).__name__}: {error}); it may be "
            "truncated: save the checkpoint again"
        ) from None
    device = resolve_device(device)
    try:
        state = torch.load(weights_file, map_location="cpu", weights_only=True)
        objective.load_state_dict(state)
    except Exception as error:  # torch raises several types for a damaged file (EOFError, RuntimeError, ...)
        detail = str(error).splitlines()[0] if str(error) else "empty or truncated"
        raise ValueError(
            f"{weights_file} cannot be loaded as this objective's weights ({type(error).__name__}: "
            f"{detail}); save the checkpoint again"
        ) from None
    return objective.to(device)


def _atomic_write(target: Path, write: Callable) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
