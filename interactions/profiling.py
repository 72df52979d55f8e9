"""Where a grid run's time goes: `interactions profile` runs one run per arm and generator, in this process
on one thread as a grid worker runs it, and times each stage of the real `run_one` by wrapping the
functions it calls (nothing is re-implemented here). Each stage's time excludes the timed stages it calls,
so the stages add up to the run's wall time; what no stage covers is `other`.

Stages: data generation (`sample`), model construction, training (the optimiser steps, checkpoint scoring
excluded), representation extraction, the linear and MLP probes, and the PID split into its codes (probes
of the posteriors, label cells, KL k-means: `_posterior_codes`), its tables and the BROJA solver over the
data and its bootstrap replicates (one batch); and the usable-information PID (`usable pid`: its unimodal
readouts, codes and solver together, so that its cost reads in one column).
"""

from __future__ import annotations

import functools
import importlib
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import interactions.scoring as scoring
from estimators.probes import Probe
from estimators.threads import one_thread
from generators import builtin_generators, generator_preset
from interactions.presets import Preset
from interactions.scoring import RunSpec

STAGES = (
    "data", "model", "training", "extraction", "linear probe", "mlp probe", "pid codes", "pid tables",
    "pid solver", "usable pid", "other",
)  # fmt: skip
_ABSORBING = "usable pid"  # a stage that counts the timed stages it calls as its own


@dataclass
class _Clock:
    """Exclusive seconds per stage: a stage's time minus the timed stages it calls."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    stack: list[float] = field(default_factory=list)  # time spent in nested stages, per open stage
    absorbed: int = 0  # open `_ABSORBING` stages

    def wrap(self, stage: str | Callable[..., str], function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if self.absorbed:
                return function(*args, **kwargs)
            name = stage(*args, **kwargs) if callable(stage) else stage
            self.absorbed += name == _ABSORBING
            self.stack.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.absorbed -= name == _ABSORBING
                nested = self.stack.pop()
                self.seconds[name] += elapsed - nested
                if self.stack:
                    self.stack[-1] += elapsed

        return timed


@contextmanager
def _timed_stages(clock: _Clock, generator_class: type) -> Iterator[None]:
    rp = importlib.import_module("estimators.representation_pid")  # the package exports a function so named
    patches = [
        (generator_class, "sample", "data"),
        (scoring, "build_objective", "model"),
        (scoring, "train", "training"),
        (scoring, "extract", "extraction"),
        (Probe, "fit", lambda probe, *args, **kwargs: f"{probe.kind} probe"),
        (Probe, "score", lambda probe, *args, **kwargs: f"{probe.kind} probe"),
        (scoring, "usable_pid", _ABSORBING),
        (rp, "_posterior_codes", "pid codes"),
        (rp, "joint_table", "pid tables"),
        (rp, "broja_pid_batch", "pid solver"),
    ]
    with ExitStack() as stack:
        for owner, name, stage in patches:
            stack.enter_context(mock.patch.object(owner, name, clock.wrap(stage, getattr(owner, name))))
        yield


def default_generators() -> list[str]:
    """The first built-in vector generator preset and the first image one: one run of each kind."""
    presets = [generator_preset(name) for name in builtin_generators()]
    return [next(p.name for p in presets if p.is_image == image) for image in (False, True)]


def profile_run(spec: RunSpec) -> dict[str, float]:
    """Seconds per stage of one run (`STAGES`), and `total`: its wall time."""
    clock = _Clock()
    generator_class = type(spec.build_generator())
    with one_thread(), _timed_stages(clock, generator_class):
        start = time.perf_counter()
        scoring.run_one(spec)
        total = time.perf_counter() - start
    clock.seconds["other"] = total - sum(clock.seconds.values())
    return {**clock.seconds, "total": total}


def profile_table(
    preset: Preset, generators: Sequence[str], arms: Sequence[str], seed: int = 0
) -> list[dict]:
    """One row per (generator, arm): seconds per stage and in total. The runs share a `ScoreCache`, in
    this order, as a grid's runs do: an arm whose epoch-0 network another arm already scored reads those
    scores."""
    with tempfile.TemporaryDirectory() as cache:
        return [
            {"generator": g, "arm": a, **profile_run(RunSpec(g, a, seed, preset, "cpu", cache=cache))}
            for g in generators
            for a in arms
        ]


def training_table(
    preset: Preset, generators: Sequence[str], arms: Sequence[str], seed: int = 0
) -> list[dict]:
    """Seconds of training alone per (generator, trained arm): the data, objective and `train` call of
    `run_one`, without its checkpoint scoring or anything after, on one thread as a grid worker trains. The
    sum over a grid's runs, divided by its workers, is the least time any schedule of that grid can take."""
    rows = []
    with one_thread():
        for g in generators:
            for a in arms:
                spec = RunSpec(g, a, seed, preset, "cpu")
                generator, scale = spec.build_generator(), spec.scale
                pretrain = generator.sample(scale.n_pretrain, seed=seed, split="pretrain")
                dims = [x.shape[1] if x.ndim == 2 else tuple(x.shape[1:]) for x in pretrain.modalities]
                name, options = spec.objective(generator)
                objective = scoring.build_objective(name, dims, spec.model(), seed=seed, **options)
                if objective.trainable:
                    start = time.perf_counter()
                    scoring.train(objective, pretrain, spec.train_config())
                    rows.append({"generator": g, "arm": a, "training": time.perf_counter() - start})
    return rows


def training_markdown(rows: list[dict], preset: Preset, machine: str, workers: int) -> str:
    """The training seconds per generator and arm, and the floor of a grid over the preset's seeds."""
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    generators = list(dict.fromkeys(r["generator"] for r in rows))
    seconds = {(r["generator"], r["arm"]): r["training"] for r in rows}
    total = sum(seconds.values())
    floor = total * len(preset.seeds) / workers
    lines = [
        f"# Training alone: the floor of a `{preset.name}` grid",
        "",
        f"Seconds of training per run (seed 0, no scoring), on one thread as a grid worker trains, on "
        f"{machine} (`interactions.profiling.training_table`). Regenerate: `interactions profile --preset "
        f"{preset.name} --training-only --generators {','.join(generators)}`.",
        "",
        "| generator | " + " | ".join(arms) + " | all arms |",
        "|---" * (len(arms) + 2) + "|",
    ]
    for g in generators:
        cells = [f"{seconds[g, a]:.1f}" if (g, a) in seconds else "" for a in arms]
        mine = sum(v for (generator, _), v in seconds.items() if generator == g)
        lines.append(f"| {g} | " + " | ".join(cells) + f" | {mine:.1f} |")
    per_arm = [sum(v for (_, arm), v in seconds.items() if arm == a) for a in arms]
    lines += [
        "| all generators | " + " | ".join(f"{v:.1f}" for v in per_arm) + f" | {total:.1f} |",
        "",
        f"One seed trains for {total:.0f} s; the preset's {len(preset.seeds)} seeds for "
        f"{total * len(preset.seeds):.0f} s, so with {workers} workers no schedule of these runs ends in "
        f"less than {floor / 60:.1f} minutes, before any scoring.",
        "",
    ]
    return "\n".join(lines)


def profile_markdown(rows: list[dict], preset: str, machine: str) -> str:
    """The profile as a markdown table per generator, with a line of shares over all rows."""
    lines = [
        f"# Where a `{preset}` run's time goes",
        "",
        f"One run per arm and generator (seed 0), in one process on one thread as a grid worker runs it, on "
        f"{machine}; seconds per stage, each excluding the timed stages it calls (`interactions.profiling`). "
        "The runs share a score cache in this order, as a grid's do: an arm's epoch-0 scores are read where "
        "an arm of the same architecture computed them. "
        f"Regenerate: `interactions profile --preset {preset} --generators "
        f"{','.join(dict.fromkeys(r['generator'] for r in rows))}`.",
        "",
    ]
    for generator in dict.fromkeys(r["generator"] for r in rows):
        mine = [r for r in rows if r["generator"] == generator]
        lines += [f"## {generator}", "", "| arm | " + " | ".join(STAGES) + " | total |",
                  "|---" * (len(STAGES) + 2) + "|"]  # fmt: skip
        for r in mine:
            lines.append(f"| {r['arm']} | " + " | ".join(f"{r[s]:.2f}" for s in (*STAGES, "total")) + " |")
        total = sum(r["total"] for r in mine)
        shares = ", ".join(f"{s} {100 * sum(r[s] for r in mine) / total:.0f}%" for s in STAGES)
        lines += ["", f"All arms: {total:.1f} s; {shares}.", ""]
    return "\n".join(lines)


def write_profile(rows: list[dict], preset: str, machine: str, out: Path) -> Path:
    return _write(profile_markdown(rows, preset, machine), out)


def write_training(rows: list[dict], preset: Preset, machine: str, workers: int, out: Path) -> Path:
    return _write(training_markdown(rows, preset, machine, workers), out)


def _write(text: str, out: Path) -> Path:
    from interactions.report import atomic_write

    atomic_write(out, lambda p: Path(p).write_text(text))
    return out


def machine_name() -> str:
    """The CPU model and the cores this process may use (what the profile's seconds depend on)."""
    import platform

    from estimators.threads import usable_cores

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        model = names[0] if names else model
    return f"{model}, {usable_cores()} usable cores"
