"""A flat registry of generator presets, mirroring the objective registry: `register_generator(preset)` plus
third-party presets discovered through the entry-point group `interactions.generators` (each entry point
names a module that registers its presets when imported, or a `GeneratorPreset` object).

A preset is a named, fixed generator configuration that the benchmark grid trains on. It declares what the
grid and the reports need to know about it, so that neither names a preset: a description, its scale
(`vector` or `image`: image presets are built at the grid preset's image size and trained at its image
scale), model overrides, and optionally published numbers to compare with (`PaperComparison`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Protocol

from estimators.validation import check_choice
from generators.base import Sample, Truth

ENTRY_POINT_GROUP = "interactions.generators"
SCALES = ("vector", "image")


class Generator(Protocol):
    """What the grid uses of a generator."""

    n_modalities: int
    tasks: tuple[str, ...]
    joint_task: str

    def sample(self, n: int, seed: int = 0, split: str = "pretrain") -> Sample: ...

    def truth(self, task: str) -> Truth: ...

    def config(self) -> dict: ...


def with_knobs(generator: Generator, knobs: Mapping[str, object]) -> Generator:
    """`generator` with some of its knobs changed (a sweep's value), validated as a new generator: through
    its own `with_knobs(**knobs)` if it has one, else as a frozen dataclass (`dataclass_with_knobs`)."""
    if not knobs:
        return generator
    if hasattr(generator, "with_knobs"):
        return generator.with_knobs(**knobs)
    return dataclass_with_knobs(generator, knobs)


def dataclass_with_knobs(generator: Generator, knobs: Mapping[str, object]) -> Generator:
    """A dataclass generator with some fields replaced; its `seed` (which fixes the structure, not the draw)
    is not a knob. An unknown knob is refused with the generator's knobs named."""
    if not dataclasses.is_dataclass(generator):
        raise ValueError(f"{type(generator).__name__} has no knobs to vary (it is not a dataclass)")
    names = [f.name for f in dataclasses.fields(generator) if f.name != "seed"]
    for knob in knobs:
        if knob not in names:
            raise ValueError(
                f"{knob!r} is not a knob of {type(generator).__name__} (its knobs: {', '.join(names)})"
            )
    return dataclasses.replace(generator, **knobs)


@dataclass(frozen=True)
class GeneratorPreset:
    """One named generator configuration of the benchmark.

    `factory()` builds the generator of a `vector` preset; an `image` preset's factory takes the image
    side in pixels, `factory(size)`, chosen by the grid preset's image scale. `model` holds `ModelConfig`
    overrides for every run on this preset (e.g. a representation narrower than the factors).
    """

    name: str
    factory: Callable[..., Generator]
    description: str
    scale: str = "vector"
    model: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        check_choice("scale", self.scale, SCALES)
        object.__setattr__(self, "model", MappingProxyType(dict(self.model)))

    @property
    def is_image(self) -> bool:
        return self.scale == "image"

    def build(self, image_size: int | None = None) -> Generator:
        """The generator; `image_size` (pixels) is used by image presets and must then be given."""
        if not self.is_image:
            return self.factory()
        if image_size is None:
            raise ValueError(f"generator preset {self.name!r} is an image preset: image_size is required")
        return self.factory(image_size)


@dataclass(frozen=True)
class PaperComparison:
    """Published scores to show next to ours: linear-probe balanced accuracy (%) per objective, one column per
    (label, generator preset, task). `pattern(score, objectives)` may return report lines that check the
    paper's qualitative claims, given `score(objective, preset, task)` -> our mean accuracy in % (None if
    absent) and the objectives that were run."""

    title: str
    description: str
    columns: tuple[tuple[str, str, str], ...]
    published: Mapping[str, tuple[tuple[float, ...], str]]  # objective -> (one value per column, source)
    pattern: Callable[[Callable[[str, str, str], float | None], list[str]], list[str]] | None = None

    @property
    def generators(self) -> set[str]:
        return {generator for _, generator, _ in self.columns}


_PRESETS: dict[str, GeneratorPreset] = {}
_COMPARISONS: list[PaperComparison] = []


def register_generator(preset: GeneratorPreset) -> GeneratorPreset:
    """Make `preset` selectable by its name (in the grid, `pytest benchmarks/ --generators`, the CLI)."""
    if not isinstance(preset, GeneratorPreset):
        raise TypeError(f"register_generator needs a GeneratorPreset, got {preset!r}")
    if preset.name in _PRESETS and _PRESETS[preset.name] != preset:
        raise ValueError(f"a generator preset named {preset.name!r} is already registered")
    _PRESETS[preset.name] = preset
    return preset


def register_comparison(comparison: PaperComparison) -> PaperComparison:
    """Add published numbers that the report shows next to ours when their presets were run."""
    if comparison not in _COMPARISONS:
        _COMPARISONS.append(comparison)
    return comparison


def _load_entry_points() -> None:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry.load()  # importing the module runs its register_generator calls
        if isinstance(loaded, GeneratorPreset):
            register_generator(loaded)


def available_generators() -> list[str]:
    """Registered preset names, built-in ones first in their declaration order."""
    _load_entry_points()
    return list(_PRESETS)


def builtin_generators() -> tuple[str, ...]:
    """The presets this package declares (not plug-ins): what the `quick` and `paper` grids run."""
    return tuple(name for name, p in _PRESETS.items() if p.factory.__module__.startswith("generators."))


def generator_preset(name: str) -> GeneratorPreset:
    if name not in _PRESETS:
        _load_entry_points()
    if name not in _PRESETS:
        raise ValueError(f"generator must be one of {', '.join(map(repr, _PRESETS))}, got {name!r}")
    return _PRESETS[name]


def comparisons() -> list[PaperComparison]:
    return list(_COMPARISONS)
