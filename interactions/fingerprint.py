"""When a stored run is current: the fingerprint of the code that computed its scores.

A run's key hashes its configuration, not the code, so each run also stores `run_fingerprint(spec)`: the
code fingerprint of this project's scoring code and dependency versions, and a digest of the source of each
plug-in module the run used (the module that registered its objective or generator preset, the calling
script included). A run stored under another fingerprint is stale.

The code fingerprint covers what computes scores (generators, estimators, models, objectives, trainer,
augmentations, `interactions.scoring`) and nothing that only schedules, stores or reports runs, so that
editing the grid's driver, the CLI or the report leaves stored runs current.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from interactions.scoring import RunSpec

ROOT = Path(__file__).resolve().parent.parent
# Modules that cannot change a run's scores: scheduling, storing, reporting, this module, the estimator
# validation, the estimator leaderboard and the PID estimator registry, and the presets (whose sizes enter
# every run's configuration, and so its key, anyway).
NOT_SCORING = frozenset(
    f"interactions/{name}.py"
    for name in (
        "cli", "estimator_validation", "executor", "fingerprint", "gpu_slot", "grid", "leaderboard", "maps",
        "presets", "profiling", "store",
    )
) | {"estimators/registry.py"}  # fmt: skip
# The reports (drawn from stored scores), and the estimators no grid run uses: the peers that the estimator
# leaderboard compares with `representation_pid`.
NOT_SCORING_FOLDERS = ("interactions/report/", "estimators/peers/")


@cache
def code_fingerprint(packages: tuple[str, ...] = ("generators", "estimators", "interactions")) -> str:
    """A hash of everything in this project that determines a run's scores besides its configuration: the
    source of `packages` except the modules in `NOT_SCORING`, and the versions of torch, numpy, scipy and
    scikit-learn. `packages` narrows it to what a result depends on (e.g. the estimator validation: no
    harness)."""
    import scipy
    import sklearn

    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in NOT_SCORING and not relative.startswith(NOT_SCORING_FOLDERS):
                digest.update(relative.encode() + b"\0" + path.read_bytes())
    for module in (torch, np, scipy, sklearn):
        digest.update(f"{module.__name__}={module.__version__}".encode())
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


def run_fingerprint(spec: RunSpec) -> dict:
    """What a run's scores depend on besides its configuration: {"code": ..., "plugins": {...}}."""
    return {"code": code_fingerprint(), "plugins": plugin_fingerprint(spec.plugin_modules())}


def is_stale(meta: str | dict | None, spec: RunSpec | None = None) -> bool:
    """Whether a stored run's metadata (JSON or dict) names another fingerprint, or none.

    With the run's `spec`, its plug-ins are compared with what the spec uses now. Without it (the report),
    each recorded plug-in file is read again: a changed or vanished file makes the run stale; a plug-in
    without a file cannot be checked and is taken as current."""
    if isinstance(meta, str):
        meta = json.loads(meta)
    if not meta or meta.get("code") != code_fingerprint():
        return True
    stored = meta.get("plugins", {})
    if spec is not None:
        return stored != plugin_fingerprint(spec.plugin_modules())
    for key, digest in stored.items():
        if key.startswith("module:"):
            continue
        file = Path(key)
        if not file.is_file() or _source_digest(file.read_bytes()) != digest:
            return True
    return False
