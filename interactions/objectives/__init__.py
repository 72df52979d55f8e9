"""Objectives, one per file, registered by name. Importing this package registers the built-in ones."""

from interactions.objectives import (  # noqa: F401  (registration)
    cmc,
    comm,
    cross,
    cross_self,
    factorcl,
    infmasking,
    random,
    supervised,
)
from interactions.objectives.base import (
    Objective,
    Representations,
    Views,
    concatenated_representations,
    fused_representations,
)
from interactions.objectives.registry import (
    ENTRY_POINT_GROUP,
    available_objectives,
    build_objective,
    objective_class,
    register_objective,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Objective",
    "Representations",
    "Views",
    "available_objectives",
    "build_objective",
    "concatenated_representations",
    "fused_representations",
    "objective_class",
    "register_objective",
]
