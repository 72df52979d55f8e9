"""A flat registry of objectives: `@register_objective("name")` plus third-party objectives discovered
through the entry-point group `interactions.objectives` (each entry point names a module or a class)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

import torch

from interactions.models import ModalityShape, ModelConfig
from interactions.objectives.base import Objective

ENTRY_POINT_GROUP = "interactions.objectives"
_REGISTRY: dict[str, type[Objective]] = {}


def register_objective(name: str):
    """Class decorator: make an `Objective` subclass available by `name`."""

    def decorate(cls: type[Objective]) -> type[Objective]:
        if not (isinstance(cls, type) and issubclass(cls, Objective)):
            raise TypeError(f"@register_objective({name!r}) needs an Objective subclass, got {cls!r}")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(
                f"an objective named {name!r} is already registered ({_REGISTRY[name].__qualname__})"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_entry_points() -> None:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry.load()  # importing the module runs its @register_objective decorators
        if isinstance(loaded, type) and issubclass(loaded, Objective) and loaded not in _REGISTRY.values():
            register_objective(entry.name)(loaded)


def available_objectives() -> list[str]:
    _load_entry_points()
    return sorted(_REGISTRY)


def objective_class(name: str) -> type[Objective]:
    if name not in _REGISTRY:
        _load_entry_points()
    if name not in _REGISTRY:
        raise ValueError(f"objective must be one of {', '.join(map(repr, sorted(_REGISTRY)))}, got {name!r}")
    return _REGISTRY[name]


def build_objective(
    name: str,
    modality_dims: Sequence[ModalityShape],
    model: ModelConfig | None = None,
    seed: int = 0,
    **options: object,
) -> Objective:
    """Construct objective `name` with weights initialised from `seed` (the global RNG is left untouched)."""
    cls = objective_class(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(modality_dims, model, **options)
