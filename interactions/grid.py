"""The benchmark grid: generator presets x objectives x seeds, each run trained once and scored.

A run's full configuration is hashed into its store key, so finished runs are reused, a diverging or
crashing run is recorded as failed with its reason (and retried by the next grid, since its cause may have
been fixed), and an interrupted grid resumes where it stopped. Runs are spread over an executor
(`interactions.executor`: this process, a local process pool, or Ray); each run is a pure function of its
spec (`interactions.scoring.run_one`) and runs on one thread, so its scores do not depend on where it ran.
This module only schedules and records runs: editing it leaves stored runs current.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

import interactions
from estimators.threads import one_thread, thread_counts, usable_cores
from estimators.validation import check_int
from generators import available_generators, generator_preset
from generators.registry import GeneratorPreset, register_generator
from interactions.device import resolve_device
from interactions.executor import DeadlineReached, SerialExecutor, WorkerLost, guard_main, make_executor
from interactions.fingerprint import code_fingerprint, is_stale, run_fingerprint
from interactions.objectives import available_objectives, build_objective, objective_class, register_objective
from interactions.presets import Preset
from interactions.presets import preset as resolve_preset
from interactions.scoring import ARMS, SCORING_VERSION, RunSpec, run_one
from interactions.store import ResultsStore, run_id
from interactions.train import TrainingDiverged, train

__all__ = [
    "ARMS",
    "SCORING_VERSION",
    "STALE_POLICIES",
    "RunOutcome",
    "RunSpec",
    "code_fingerprint",
    "execute",
    "grid",
    "is_stale",
    "parse_duration",
    "parse_seeds",
    "partial_dir",
    "run_grid",
    "truth_table",
]
STALE_POLICIES = ("keep", "recompute")


def _unique(knob: str, values: Sequence) -> tuple:
    """`values` without repeats, in order; a repeat is merged with a warning naming it."""
    repeated = [str(v) for v, n in Counter(values).items() if n > 1]
    if repeated:
        warnings.warn(f"{knob}: {', '.join(repeated)} given more than once; each runs once", stacklevel=3)
    return tuple(dict.fromkeys(values))


def grid(
    preset: str | Preset,
    generators: Sequence[str] | None = None,
    objectives: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    device: str = "auto",
) -> list[RunSpec]:
    """Run specs of a preset, optionally narrowed (or extended by registered objectives and generator
    presets). Every objective of a generator and seed sees the same data (paired comparisons). A repeated
    generator, objective or seed is merged with a warning."""
    preset = resolve_preset(preset)
    for knob, selection in (("generators", generators), ("objectives", objectives), ("seeds", seeds)):
        if selection is not None and len(selection) == 0:
            raise ValueError(f"{knob} must name at least one, got an empty selection")
    gens = _unique("generators", generators) if generators is not None else preset.generators
    for g in gens:
        if g not in available_generators():
            raise ValueError(f"generators must be among {', '.join(available_generators())}, got {g!r}")
    arms = _unique("objectives", objectives) if objectives is not None else preset.objectives
    for arm in arms:
        if arm not in ARMS and arm not in available_objectives():
            raise ValueError(
                f"objective must be one of the grid arms ({', '.join(ARMS)}) or a registered objective "
                f"({', '.join(available_objectives())}), got {arm!r}"
            )
    seeds = [check_int("seeds", s, 0) for s in (seeds if seeds is not None else preset.seeds)]
    return [RunSpec(g, a, s, preset, device) for g in gens for a in arms for s in _unique("seeds", seeds)]


def parse_seeds(text: str) -> list[int]:
    """Seeds from the command line: comma-separated integers and ranges, e.g. `0-4` or `0,2,5-7`."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ValueError(
                f"seeds must be integers >= 0 or ranges such as 0-4, comma-separated, got {part!r}"
            )
        first = int(match[1])
        seeds += range(first, int(match[2] or first) + 1)
    return seeds


@dataclass(frozen=True)
class RunOutcome:
    """What a worker sends back: the run's score rows, training seconds, status and where it ran."""

    rows: list[tuple]
    seconds: float | None
    status: str  # "done" or "failed"
    reason: str | None
    meta: dict


_DEVICE_LOST = re.compile(r"no CUDA GPUs|CUDA (error|driver)|device.*(not available|unavailable)", re.I)


def failure_reason(error: BaseException) -> str:
    """One line naming why a run failed, and where: a full disk, a device that went away, a run that called
    `sys.exit`, or the error's type and message."""
    if isinstance(error, TrainingDiverged):
        return " ".join(str(error).split())
    frames = traceback.extract_tb(error.__traceback__)
    at = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = " ".join(str(error).split())
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"disk full: {message}{at}; free some space, then run the grid again"
    if isinstance(error, SystemExit):
        return f"the run called sys.exit({error.code!r}){at}"
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return f"device out of memory: {message}{at}"
    if isinstance(error, RuntimeError) and _DEVICE_LOST.search(message):
        return f"device unavailable: {message}{at}"
    return f"{type(error).__name__}: {message}{at}"


def execute(spec: RunSpec) -> RunOutcome:
    """Run one spec on one thread, catching its failure: a diverging loss, any other error or a plug-in's
    `sys.exit` becomes a failed outcome with its reason (the grid goes on). Ctrl-C is not caught."""
    meta = {
        "host": platform.node(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    start = time.perf_counter()
    with one_thread():
        meta["threads"] = thread_counts()
        try:
            rows, seconds = run_one(spec)
        except (Exception, SystemExit) as error:  # a bug or a bad plug-in must not stop the grid
            return RunOutcome([], None, "failed", failure_reason(error), meta)
    meta["wall_seconds"] = time.perf_counter() - start  # training and scoring: what a time budget plans with
    return RunOutcome(rows, seconds, "done", None, meta)


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


def _worker_modules(specs: Sequence[RunSpec]) -> list[str]:
    """Modules that registered the specs' objectives and generator presets outside this project, for
    workers that do not share the driver's registries (the calling script's own, `__main__`, excluded: a
    pool worker runs it again, and Ray gets its plug-ins by value, `_main_plugins`)."""
    modules = {m for spec in specs for m in spec.plugin_modules()}
    return sorted(modules - {"__main__", "__mp_main__"})


def _main_plugins(specs: Sequence[RunSpec]) -> tuple[dict[str, type], tuple[GeneratorPreset, ...]]:
    """Objectives and generator presets that the calling script registered itself (module `__main__`)."""
    objectives = {}
    for spec in specs:
        name = ARMS.get(spec.arm, (spec.arm,))[0]
        if objective_class(name).__module__ == "__main__":
            objectives[name] = objective_class(name)
    presets = {s.generator: generator_preset(s.generator) for s in specs}.values()
    return objectives, tuple(p for p in presets if p.factory.__module__ == "__main__")


def register_plugins(objectives: dict[str, type], presets: tuple[GeneratorPreset, ...]) -> None:
    """Register the calling script's plug-ins in a Ray worker (unless it already has them)."""
    for name, cls in objectives.items():
        if name not in available_objectives():
            register_objective(name)(cls)
    for preset in presets:
        if preset.name not in available_generators():
            register_generator(preset)


def partial_dir(store: ResultsStore) -> Path:
    """Where a store's unfinished runs keep their training state: `<store stem>.partial/` beside it, one
    file per run key, removed when the run is recorded."""
    return store.path.parent / f"{store.path.stem}.partial"


def cache_dir(store: ResultsStore) -> Path:
    """The `ScoreCache` of a store's grid: `<store stem>.cache/` beside it, removed when a grid has
    recorded all its runs."""
    return store.path.parent / f"{store.path.stem}.cache"


def scale_sizes(preset: Preset) -> list[dict]:
    """The sizes a preset trains and scores its runs at, as runs store them (`config()["scoring"]`, less
    the scoring version): its vector scale, then its image scale if it has one."""
    scales = [preset] if preset.images is None else [preset, preset.images]
    return [json.loads(json.dumps(RunSpec.scale_config(scale))) for scale in scales]


def _check_one_scale(specs: Sequence[RunSpec], store: ResultsStore) -> None:
    """Refuse a grid that would mix scales in `store`: specs of several presets, or of another preset (or
    other sizes of the same one) than the store's runs. A store remembers its preset on first use; an older
    store's runs are checked against the specs' preset instead."""
    presets = {spec.preset for spec in specs}
    if len(presets) > 1:
        names = ", ".join(sorted(repr(p.name) for p in presets))
        raise ValueError(f"one grid runs one preset, got specs of {names}")
    (preset,) = presets
    sizes = scale_sizes(preset)
    scale = {"preset": preset.name, "sizes": hashlib.sha256(json.dumps(sizes).encode()).hexdigest()[:16]}
    if store.scale() is None:  # a new store, or one written before stores remembered their scale
        for _, run in store.runs().iterrows():
            stored = json.loads(run["config"])["scoring"]
            stored.pop("version", None)
            if stored not in sizes:
                raise ValueError(
                    f"results store {store.path} holds runs at another scale than preset {preset.name!r} "
                    f"(e.g. {run['generator']} / {run['objective']} / seed {run['seed']}: "
                    f"{stored.get('n_pretrain')} samples, {stored.get('epochs')} epochs): "
                    "pass another --store, so that one report never compares runs of two scales"
                )
    held = store.claim_scale(scale)
    if held != scale:
        other = "other sizes of the same preset" if held["preset"] == preset.name else "another preset"
        raise ValueError(
            f"results store {store.path} holds preset {held['preset']!r} runs; this grid is preset "
            f"{preset.name!r} ({other}): pass another --store, so that one report never compares runs of "
            "two scales (by default each preset has its own: reports/<preset>/results.sqlite)"
        )


def parse_duration(text: str | float) -> float:
    """Seconds from `540`, `540s`, `9m`, `1h30m` or `1.5h`; ValueError naming the knob otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", str(text).strip().lower())
        joined = "".join(f"{number}{unit}" for number, unit in parts)
        if not parts or joined != re.sub(r"\s+", "", str(text).strip().lower()):
            raise ValueError(f"time budget must be a duration such as 540, 540s, 9m or 1h30m, got {text!r}")
        seconds = sum(float(number) * {"h": 3600, "m": 60, "s": 1, "": 1}[unit] for number, unit in parts)
    if not seconds > 0:
        raise ValueError(f"time budget must be more than 0 seconds, got {text!r}")
    return seconds


def _kind(config: dict) -> str:
    """A run's configuration without its seed: runs of one kind cost the same."""
    return run_id({**config, "seed": None, "train": {**config["train"], "seed": None}})


def _measured_seconds(spec: RunSpec) -> float:
    """A run's training time from its measured step time (3 steps timed after 2 warm-up steps, on the run's
    device and one thread, as the grid runs it) times its number of steps. Scoring is not included: the
    first run of a kind is planned with its training alone."""
    gen = spec.build_generator()
    p = spec.scale
    name, options = spec.objective(gen)
    warm, timed = (gen.sample(k * p.batch_size, seed=spec.seed, split="pretrain") for k in (2, 3))
    dims = [x.shape[1] if x.ndim == 2 else tuple(x.shape[1:]) for x in timed.modalities]
    objective = build_objective(name, dims, spec.model(), seed=spec.seed, **options)
    if not objective.trainable:
        return 0.0
    config = replace(spec.train_config(), epochs=1, progress=False)
    with one_thread():
        train(objective, warm, config)
        step = train(objective, timed, config).seconds / 3
    return step * max(1, p.n_pretrain // p.batch_size) * p.epochs


def _plan(
    todo: dict[str, tuple[RunSpec, dict]], store: ResultsStore, slots: int, budget: float
) -> tuple[list[str], dict[str, float]]:
    """The runs to start within `budget` seconds on `slots` parallel workers, in a stable order (seed by
    seed; within a seed, objectives and then generators in the order given), each planned with the median
    wall time of finished runs of its kind in the store, else its measured training time. A run that would
    not finish in time is left for a later call; a shorter one after it may still start."""
    runs = store.runs()
    history: dict[str, list[float]] = {}
    for _, run in runs[runs["status"] == "done"].iterrows():
        meta = json.loads(run["meta"]) if run["meta"] else {}
        wall = meta.get("wall_seconds", run["seconds"])
        if wall is not None and not np.isnan(wall):
            history.setdefault(_kind(json.loads(run["config"])), []).append(float(wall))
    arms = list(dict.fromkeys(spec.arm for spec, _ in todo.values()))
    generators = list(dict.fromkeys(spec.generator for spec, _ in todo.values()))
    order = sorted(todo, key=lambda k: (todo[k][0].seed, arms.index(todo[k][0].arm),
                                        generators.index(todo[k][0].generator)))  # fmt: skip
    estimates: dict[str, float] = {}
    measured: dict[str, float] = {}
    for key in order:
        spec, config = todo[key]
        kind = _kind(config)
        if kind in history:
            estimates[key] = float(np.median(history[kind]))
        else:
            if kind not in measured:
                measured[kind] = _measured_seconds(spec)
            estimates[key] = measured[kind]
    free = [0.0] * slots  # when each worker is next free, in seconds from now
    chosen = []
    for key in order:
        slot = min(range(slots), key=free.__getitem__)
        if free[slot] + estimates[key] <= budget:
            free[slot] += estimates[key]
            chosen.append(key)
    return chosen, estimates


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
    retry_failed: bool = True,
    time_budget: float | str | None = None,
) -> dict[str, int]:
    """Run every spec not yet in the store (all of them with `force`); returns counts by outcome.

    A run that failed before is retried (`retried` counts them; `retry_failed=False` keeps the failures).
    A stored run computed by other code (`interactions.fingerprint`: this project's scoring code, or a
    plug-in module it used) is kept and counted as `stale` by default; `stale="recompute"` trains it again.
    Before anything runs, every device is checked and the store must hold runs of the specs' preset only.

    `time_budget` (seconds, or a duration such as "9m"): start only the runs that the plan says finish
    within it (`_plan`: seed by seed, from measured times), and at its end stop whatever still runs; those
    runs are not recorded, keep their training state from their last checkpoint and resume next time, and
    `postponed` counts every run left for a later call.

    `backend="local"` runs `workers` processes (default: every usable core; 1 runs in this process);
    `backend="ray"` runs Ray tasks (one CPU each, one GPU each on CUDA). The driver alone writes the store,
    one transaction per run as results arrive, so a killed grid loses only the runs in flight.
    """
    guard_main()
    if stale not in STALE_POLICIES:
        raise ValueError(f"stale must be one of {', '.join(map(repr, STALE_POLICIES))}, got {stale!r}")
    counts = {"trained": 0, "cached": 0, "failed": 0, "stale": 0, "retried": 0}
    if time_budget is not None:
        counts["postponed"] = 0
        time_budget = parse_duration(time_budget)
    deadline = None if time_budget is None else time.monotonic() + time_budget
    if not specs:
        return counts
    for device in sorted({spec.device for spec in specs}):
        resolve_device(device)
    _check_one_scale(specs, store)
    todo: dict[str, tuple[RunSpec, dict]] = {}
    failed_before: list[str] = []
    for spec in specs:
        config = spec.config()
        key = run_id(config)
        if key in todo:
            continue
        stored = None if force else store.run(key)
        if stored is not None and stored["status"] == "failed" and retry_failed:
            failed_before.append(f"{_label(spec)} ({stored['reason']})")
            stored = None
        outdated = stored is not None and is_stale(stored["meta"], spec)
        if stored is None or (outdated and stale == "recompute"):
            todo[key] = (spec, config)
        else:
            counts["cached"] += 1
            counts["stale"] += outdated
    counts["retried"] = len(failed_before)
    if log is not None and failed_before:
        print(f"[grid] retrying {len(failed_before)} runs that failed before: " + "; ".join(failed_before),
              file=log, flush=True)  # fmt: skip
    if time_budget is not None and todo:
        slots = 1 if workers is None and len(todo) == 1 else (workers or usable_cores())
        chosen, estimates = _plan(todo, store, slots, deadline - time.monotonic())
        counts["postponed"] = len(todo) - len(chosen)
        if log is not None:
            planned = sum(estimates[key] for key in chosen)
            print(f"[grid] time budget {time_budget:.0f} s: starting {len(chosen)} of {len(todo)} runs "
                  f"(planned {planned:.0f} s of work on {slots} workers)", file=log, flush=True)  # fmt: skip
        todo = {key: todo[key] for key in chosen}
    if not todo:
        return counts
    states = partial_dir(store)
    if force:
        for key in todo:
            (states / f"{key}.pt").unlink(missing_ok=True)
    cache = cache_dir(store)
    runs = [
        (replace(spec, partial=str(states / f"{key}.pt"), cache=str(cache)), key, config)
        for key, (spec, config) in todo.items()
    ]
    cuda = any(spec.device.startswith("cuda") for spec, _, _ in runs)
    specs_todo = [spec for spec, _, _ in runs]
    executor = make_executor(
        backend,
        1 if workers is None and len(runs) == 1 else workers,
        ray_address=ray_address,
        num_gpus=1 if cuda else 0,
        modules=_worker_modules(specs_todo),
        setup=functools.partial(register_plugins, *_main_plugins(specs_todo)) if backend == "ray" else None,
    )
    driver = {
        "backend": "serial" if isinstance(executor, SerialExecutor) else backend,
        "package": interactions.__version__,
        "commit": _git_commit(),
    }
    show = log is not None and hasattr(log, "isatty") and log.isatty()
    bar = tqdm(total=len(todo) + counts["cached"], initial=counts["cached"], desc="grid", unit="run",
               disable=not show)  # fmt: skip
    say = tqdm.write if show else (lambda text: print(text, file=log, flush=True))
    try:
        for index, outcome in executor.map_unordered(execute, specs_todo, deadline):
            spec, key, config = runs[index]
            lost = isinstance(outcome, WorkerLost)
            if lost:
                outcome = RunOutcome([], None, "failed", outcome.reason, {})
            meta = {**outcome.meta, **driver, **run_fingerprint(spec)}
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
            if outcome.status == "done":
                counts["trained"] += 1
                message = f"[grid] {_label(spec)}: done in {outcome.seconds:.1f} s"
            else:
                counts["failed"] += 1
                message = f"[grid] {_label(spec)}: failed ({outcome.reason})"
            if log is not None:
                say(message)
            bar.set_postfix(finished=counts["trained"], cached=counts["cached"], failed=counts["failed"])
            bar.update()
    except DeadlineReached:
        unfinished = len(runs) - counts["trained"] - counts["failed"]
        counts["postponed"] += unfinished
        if log is not None:
            say(f"[grid] time budget reached: {unfinished} runs stopped; they resume from their last "
                "checkpoint next time")  # fmt: skip
    finally:
        bar.close()
    if counts["trained"] + counts["failed"] == len(runs):
        shutil.rmtree(cache, ignore_errors=True)
    return counts


def _label(spec: RunSpec) -> str:
    return f"{spec.generator} / {spec.arm} / seed {spec.seed}"


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
