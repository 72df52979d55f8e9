"""Interaction maps: what each objective captures as one knob of the data or of an objective changes.

A map sweeps one knob over a few values, every objective and seed at each value, through the grid (runs
keyed, cached, resumable, parallel and fingerprinted like any other). A generator knob (`noise`,
`biased_fraction`, `mlp_depth`: `generators.registry.with_knobs`) changes the data of every run at that
value; an objective knob, written `<objective>.<knob>` (`cross_self.cross_weight`), changes only the runs of
that objective, and the other objectives' runs are shared by all values. A value equal to the knob's
default is the plain run, so maps share runs with each other. Everything is validated before any run
starts.

For each value the report gives each objective's captured fraction of every information type (linear-probe
balanced accuracy from chance, 0, to the Bayes ceiling at that value, 1) and its usable-information PID in
bits beside the data's exact atoms, with 95% t-intervals over seeds.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from interactions.grid import grid
from interactions.objectives import build_objective, objective_class
from interactions.scoring import ARMS, RunSpec

MAPS_DIR = Path("reports/maps")
MAP_OBJECTIVES = (
    "comm", "comm_fused", "cross", "cross_self", "infmasking", "supervised", "random_fused",
    "random_encoders",
)  # fmt: skip
TASKS = {"redundancy": "redundancy", "unique1": "unique1", "unique2": "unique2", "synergy": "synergy"}
_NOT_KNOBS = ("self", "modality_dims", "model", "seed")  # an objective's constructor arguments set by the run


def parse_value(text: str) -> object:
    """A knob value from the command line: an integer, a number, true / false, else the text."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_vary(text: str) -> tuple[str, tuple]:
    """`--vary noise=0.1,0.2` -> ("noise", (0.1, 0.2))."""
    knob, sep, values = text.partition("=")
    parsed = tuple(parse_value(v) for v in values.split(",") if v.strip())
    if not sep or not knob.strip() or not parsed:
        raise ValueError(f"--vary must be KNOB=V1,V2,... (e.g. noise=0.1,0.2), got {text!r}")
    return knob.strip(), parsed


@dataclass(frozen=True)
class InteractionMap:
    """One map: `knob` of generator preset `generator` (or of an objective: `<objective>.<knob>`) swept over
    `values`, for `objectives` and `seeds`, at the sizes of grid preset `preset`."""

    name: str
    generator: str
    knob: str
    values: tuple
    objectives: tuple[str, ...] = MAP_OBJECTIVES
    seeds: tuple[int, ...] = (0, 1, 2)
    preset: str = "maps"
    description: str = ""

    @property
    def owner(self) -> str | None:
        """The objective whose knob this is (None for a generator knob)."""
        owner, _, _ = self.knob.rpartition(".")
        return owner or None

    @property
    def command(self) -> str:
        values = ",".join(str(v) for v in self.values)
        return (
            f"interactions maps {self.name}"
            if self.name in MAPS
            else (
                f"interactions sweep --generator {self.generator} --vary {self.knob}={values} "
                f"--objectives {','.join(self.objectives)} --seeds {','.join(map(str, self.seeds))}"
            )
        )

    def specs(self, device: str = "auto") -> list[tuple[object, RunSpec]]:
        """(knob value, run spec) for every value, objective and seed, after checking the whole map: an
        unknown knob, one that does not apply to the generator or objectives, or a value out of range is a
        ValueError naming it, raised before anything runs."""
        if len(self.values) == 0 or len(set(map(repr, self.values))) != len(self.values):
            raise ValueError(f"--vary {self.knob}: give distinct values, got {list(self.values)!r}")
        plain = grid(self.preset, [self.generator], self.objectives, self.seeds, device)
        out = []
        for value in self.values:
            for spec in plain:
                try:
                    out.append((value, self._with_value(spec, value)))
                except (ValueError, TypeError) as error:
                    raise ValueError(f"--vary {self.knob}={value} on {self.generator}: {error}") from None
        return out

    def _with_value(self, spec: RunSpec, value: object) -> RunSpec:
        if self.owner is None:
            default = getattr(spec.build_generator(), self.knob, None)
            varied = replace(spec, vary=((self.knob, _like(default, value)),))
            varied.build_generator()  # validates the knob and its value
            return varied
        if self.owner not in {ARMS.get(arm, (arm,))[0] for arm in self.objectives}:
            raise ValueError(
                f"objective {self.owner!r} is not among this map's objectives ({', '.join(self.objectives)})"
            )
        if spec.objective(spec.build_generator())[0] != self.owner:
            return spec  # another objective's run: shared by every value
        name = self.knob.rpartition(".")[2]
        parameters = inspect.signature(objective_class(self.owner)).parameters
        knobs = [p for p in parameters if p not in _NOT_KNOBS]
        if name not in knobs:
            raise ValueError(
                f"{name!r} is not a knob of objective {self.owner!r} (its knobs: {', '.join(knobs)})"
            )
        value = _like(parameters[name].default, value)
        if value == parameters[name].default and type(value) is type(parameters[name].default):
            return spec  # the default: the plain run
        varied = replace(spec, vary=((self.knob, value),))
        generator = varied.build_generator()
        sample = generator.sample(2, seed=0, split="train")
        dims = [x.shape[1] if x.ndim == 2 else tuple(x.shape[1:]) for x in sample.modalities]
        name, options = varied.objective(generator)
        build_objective(name, dims, varied.model(), seed=varied.seed, **options)  # validates the value
        return varied


def _like(default: object, value: object) -> object:
    """An integer given for a number knob as that number (3 -> 3.0), so that one value has one run key."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


# The committed maps (reports/maps/): quick sizes, three seeds, the objectives of MAP_OBJECTIVES.
MAPS = {
    m.name: m
    for m in (
        InteractionMap(
            "biased_fraction", "biased_synergy", "biased_fraction", (0.0, 0.25, 0.5, 0.75, 1.0),
            description="share of pre-training pairs that obey the synergy bijection (0: unbiased "
            "pre-training, 1: CoMM's biased pairing); evaluation data and truth are the same at every value",
        ),
        InteractionMap(
            "nonlinearity", "bimodal_1bit", "mlp_depth", (0, 1, 2, 3),
            description="mixing of the latent factors into the observations: 0 linear (the preset), 1-3 "
            "an MLP of that depth",
        ),
        InteractionMap(
            "nuisance", "bimodal_1bit", "nuisance_std", (0.3, 0.75, 1.5, 3.0),
            description="standard deviation of the 4 pure-noise dimensions per modality (0.3: the preset; "
            "the factor prototypes have norm 1)",
        ),
        InteractionMap(
            "alignment_bimodal_1bit", "bimodal_1bit", "cross_self.cross_weight", (0.0, 0.25, 0.5, 1.0, 2.0),
            description="Cross+Self's weight of the cross-modal term against its two SimCLR terms (1: the "
            "default); the other objectives do not change",
        ),
        InteractionMap(
            "alignment_biased_synergy", "biased_synergy", "cross_self.cross_weight",
            (0.0, 0.25, 0.5, 1.0, 2.0),
            description="Cross+Self's weight of the cross-modal term against its two SimCLR terms (1: the "
            "default), under biased pairing; the other objectives do not change",
        ),
    )
}  # fmt: skip
