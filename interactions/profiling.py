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
    from interactions.report import atomic_write

    text = profile_markdown(rows, preset, machine)
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
