"""When a stored run is current: the fingerprint of the code that computed its scores.

A run's key hashes its configuration, not the code, so each run also stores `run_fingerprint(spec)`: the
code fingerprint of this project's scoring code and dependency versions, and a digest of the source of each
plug-in module the run used (the module that registered its objective or generator preset, the calling
script included). A run stored under another fingerprint is stale.

The code fingerprint covers what computes scores (generators, estimators, models, trainer, augmentations, the
objectives' shared base, `interactions.scoring`) and nothing that only schedules, stores or reports runs, so
that editing the grid's driver, the CLI or the report leaves stored runs current. Each objective's own modules
are kept apart (`objective_digests`): a run records the digests of the modules its objective comes from, so
editing one objective stales its runs (and those of objectives derived from it) and no other.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import sys
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from interactions.scoring import RunSpec

ROOT = Path(__file__).resolve().parent.parent
# Modules that cannot change a run's scores: scheduling, storing, reporting, this module, the studies beside
# the grid (the estimator validation and leaderboard, the Trifeature ceilings: each caches its results under
# its own `source_fingerprint`), the PID estimator registry and its entry for this suite's estimator (a grid
# run calls `representation_pid` itself), and the presets (whose sizes enter
# every run's configuration, and so its key, anyway).
NOT_SCORING = frozenset(
    f"interactions/{name}.py"
    for name in (
        "ceilings", "cli", "estimator_validation", "executor", "fingerprint", "gpu_slot", "grid",
        "leaderboard", "maps", "presets", "profiling", "store",
    )
) | {"estimators/registry.py", "estimators/builtin.py"}  # fmt: skip
# The reports (drawn from stored scores), and the estimators no grid run uses: the peers that the estimator
# leaderboard compares with `representation_pid`.
NOT_SCORING_FOLDERS = ("interactions/report/", "estimators/peers/")
OBJECTIVES = "interactions/objectives/"
# What every objective is built on; the other modules in `OBJECTIVES` belong to the objectives they define.
SHARED_OBJECTIVE_CODE = frozenset(f"{OBJECTIVES}{name}.py" for name in ("__init__", "base", "registry"))


def _objective_module(relative: str) -> bool:
    return relative.startswith(OBJECTIVES) and relative not in SHARED_OBJECTIVE_CODE


@cache
def code_fingerprint(packages: tuple[str, ...] = ("generators", "estimators", "interactions")) -> str:
    """A hash of everything in this project that determines every run's scores besides its configuration:
    the source of `packages` except the modules in `NOT_SCORING` and the objectives' own modules (a run adds
    its objective's: `objective_digests`), and the versions of torch, numpy, scipy and scikit-learn.
    `packages` narrows it to what a result depends on (e.g. the estimator validation: no harness)."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = _relative(path)
            scoring = relative not in NOT_SCORING and not relative.startswith(NOT_SCORING_FOLDERS)
            if scoring and not _objective_module(relative):
                digest.update(relative.encode() + b"\0" + path.read_bytes())
    digest.update(_versions())
    return digest.hexdigest()[:16]


def _versions() -> bytes:
    import scipy
    import sklearn

    return "".join(f"{m.__name__}={m.__version__}" for m in (torch, np, scipy, sklearn)).encode()


PROJECT_PACKAGES = ("generators", "estimators", "interactions")


def _relative(file: Path) -> str:
    return file.relative_to(ROOT).as_posix()


def _project_file(module: str) -> Path | None:
    """The source file of a module of this project (a package's `__init__.py`), None for any other."""
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    for file in (base.with_suffix(".py"), base / "__init__.py"):
        if file.is_file():
            return file
    return None


def _imported_modules(file: Path, module: str) -> set[str]:
    """Modules named by a file's import statements (function-level ones included), relative ones resolved;
    `from package import name` counts `package.name` too, in case it is a module."""
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(file.read_bytes())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def module_closure(
    modules: Iterable[str], exclude: Iterable[str] = (), within: Callable[[str], bool] | None = None
) -> list[Path]:
    """The source files of `modules` and of every module of this project they import, directly or through
    others (read from their import statements), except the modules in `exclude` (and what only they import).
    A package named here (`"generators"`) brings the modules its `__init__` imports. `within`, given a file's
    path relative to the project, keeps the walk to the files it accepts."""
    files: set[Path] = set()
    seen: set[str] = set(exclude)
    pending = list(modules)
    while pending:
        name = pending.pop()
        file = _project_file(name)
        if file is None or name in seen or (within is not None and not within(_relative(file))):
            continue
        seen.add(name)
        files.add(file)
        pending += _imported_modules(file, name)
    return sorted(files)


@cache
def source_fingerprint(modules: tuple[str, ...], exclude: tuple[str, ...] = ()) -> str:
    """A hash of the files of `module_closure(modules, exclude)` and of the versions of torch, numpy, scipy
    and scikit-learn: what a result computed by those modules depends on, and nothing else."""
    digest = hashlib.sha256()
    for file in module_closure(modules, exclude):
        digest.update(_relative(file).encode() + b"\0" + file.read_bytes())
    digest.update(_versions())
    return digest.hexdigest()[:16]


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    if module is None:
        try:
            module = importlib.import_module(name)
        except ImportError:
            return None
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _source_digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()[:16]


def plugin_fingerprint(modules: list[str]) -> dict[str, str]:
    """Digest of each plug-in module's source, keyed by its file (by `module:` name when it has none, e.g.
    code typed into an interpreter: then its source, where Python can find it)."""
    digests = {}
    for name in modules:
        file = _module_file("__main__" if name == "__mp_main__" else name)
        if file is not None and file.is_file():
            digests[str(file)] = _source_digest(file.read_bytes())
        else:
            try:
                source = inspect.getsource(sys.modules[name]).encode()
            except (KeyError, OSError, TypeError):
                source = b""
            digests[f"module:{name}"] = _source_digest(source)
    return digests


@cache
def objective_digests(arm: str) -> dict[str, str]:
    """Digest of each of this project's objective modules that a run of `arm` (a grid arm or a registered
    objective) takes its objective from, keyed by path relative to the project: the module of the objective's
    class, those of the classes it derives from, and the objective modules they import."""
    from interactions.objectives import objective_class
    from interactions.scoring import ARMS

    cls = objective_class(ARMS.get(arm, (arm,))[0])
    files = module_closure([c.__module__ for c in cls.__mro__], within=_objective_module)
    return {_relative(file): _source_digest(file.read_bytes()) for file in files}


def run_fingerprint(spec: RunSpec) -> dict:
    """What a run's scores depend on besides its configuration:
    {"code": ..., "objective": {module: digest}, "plugins": {file: digest}}."""
    return {
        "code": code_fingerprint(),
        "objective": objective_digests(spec.arm),
        "plugins": plugin_fingerprint(spec.plugin_modules()),
    }


def is_stale(meta: str | dict | None, spec: RunSpec | None = None) -> bool:
    """Whether a stored run's metadata (JSON or dict) names another fingerprint, or none.

    With the run's `spec`, its objective modules and plug-ins are compared with what the spec uses now.
    Without it (the report), each recorded objective module and plug-in file is read again: a changed or
    vanished file makes the run stale; a plug-in without a file cannot be checked and is taken as current."""
    if isinstance(meta, str):
        meta = json.loads(meta)
    if not meta or meta.get("code") != code_fingerprint() or "objective" not in meta:
        return True
    plugins = meta.get("plugins", {})
    if spec is not None:
        now = run_fingerprint(spec)
        return meta["objective"] != now["objective"] or plugins != now["plugins"]
    recorded = {str(ROOT / module): digest for module, digest in meta["objective"].items()} | plugins
    for key, digest in recorded.items():
        if key.startswith("module:"):
            continue
        file = Path(key)
        if not file.is_file() or _source_digest(file.read_bytes()) != digest:
            return True
    return False
