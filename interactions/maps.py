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
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from estimators.representation_pid import ATOMS
from generators.registry import Generator
from interactions.fingerprint import is_stale
from interactions.grid import grid, run_grid
from interactions.objectives import build_objective, objective_class
from interactions.presets import Preset
from interactions.report import atomic_write, seed_summary
from interactions.report.figures import save_figure
from interactions.scoring import ARMS, RunSpec
from interactions.store import ResultsStore, run_id

MAPS_DIR = Path("reports/maps")  # the committed maps and their store (scores only)
SWEEPS_DIR = Path("reports/sweeps")  # a user's own sweeps (`interactions sweep`), not committed
MAP_OBJECTIVES = (
    "comm", "comm_fused", "cross", "cross_self", "infmasking", "supervised", "random_fused",
    "random_encoders",
)  # fmt: skip
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
    preset: str | Preset = "maps"
    description: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name):
            raise ValueError(
                f"map name must be letters, digits, '_', '.' or '-' (a file name), got {self.name!r}"
            )

    @property
    def owner(self) -> str | None:
        """The objective whose knob this is (None for a generator knob)."""
        owner, _, _ = self.knob.rpartition(".")
        return owner or None

    @property
    def command(self) -> str:
        if MAPS.get(self.name) == self:
            return f"interactions maps {self.name}"
        values = ",".join(str(v) for v in self.values)
        return (
            f"interactions sweep --generator {self.generator} --vary {self.knob}={values} "
            f"--objectives {','.join(self.objectives)} --seeds {','.join(map(str, self.seeds))}"
        )

    def specs(self, device: str = "auto") -> list[tuple[object, RunSpec]]:
        """(knob value, run spec) for every value, objective and seed, after checking the whole map: an
        unknown knob, one that does not apply to the generator or objectives, or a value out of range is a
        ValueError naming it, raised before anything runs."""
        if len(self.values) == 0 or len(set(map(repr, self.values))) != len(self.values):
            raise ValueError(f"--vary {self.knob}: give distinct values, got {list(self.values)!r}")
        plain = grid(self.preset, [self.generator], self.objectives, self.seeds, device)
        if self.owner is not None and self.owner not in {_objective_name(s) for s in plain}:
            raise ValueError(
                f"--vary {self.knob}: objective {self.owner!r} is not among this map's objectives "
                f"({', '.join(self.objectives)})"
            )
        varied = [s for s in plain if self.owner is None or _objective_name(s) == self.owner]
        out = []
        for value in self.values:
            try:
                vary = self._setting(varied[0], value)
            except (ValueError, TypeError) as error:
                raise ValueError(f"--vary {self.knob}={value} on {self.generator}: {error}") from None
            # an objective knob leaves the other objectives' runs alone: one run for every value
            out += [(value, replace(s, vary=vary) if s in varied else s) for s in plain]
        return out

    def _setting(self, spec: RunSpec, value: object) -> tuple[tuple[str, object], ...]:
        """The run setting of `value` (empty for the knob's default: the plain run), checked by building
        what it changes for `spec`, a run it applies to."""
        if self.owner is None:
            value = _like(getattr(spec.build_generator(), self.knob, None), value)
            replace(spec, vary=((self.knob, value),)).build_generator()  # checks the knob and its value
            return ((self.knob, value),)
        name = self.knob.rpartition(".")[2]
        parameters = inspect.signature(objective_class(self.owner)).parameters
        knobs = [p for p in parameters if p not in _NOT_KNOBS]
        if name not in knobs:
            raise ValueError(
                f"{name!r} is not a knob of objective {self.owner!r} (its knobs: {', '.join(knobs)})"
            )
        default = parameters[name].default
        value = _like(default, value)
        if value == default and type(value) is type(default):
            return ()  # the default: the plain run
        setting = ((self.knob, value),)
        varied = replace(spec, vary=setting)
        generator = varied.build_generator()
        sample = generator.sample(2, seed=0, split="train")
        dims = [x.shape[1] if x.ndim == 2 else tuple(x.shape[1:]) for x in sample.modalities]
        objective, options = varied.objective(generator)
        build_objective(objective, dims, varied.model(), seed=varied.seed, **options)  # checks the value
        return setting


def _objective_name(spec: RunSpec) -> str:
    """The registered objective a run's arm trains."""
    return ARMS.get(spec.arm, (spec.arm,))[0]


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


def data_atoms(generator: Generator) -> dict[str, float]:
    """The data's exact PID atoms (bits) of (modality 1, the rest; the joint task): the observations' atoms
    where the generator knows them (noise takes bits away), else the latent factors'."""
    if hasattr(generator, "observed_atoms"):
        return generator.observed_atoms()
    return generator.truth(generator.joint_task).against_rest()


@dataclass(frozen=True)
class MapResults:
    """What a map's runs hold: `summary`, one row per (value, objective, measure, atom) with the mean and
    95% t-interval over seeds (measure `fraction`: linear-probe balanced accuracy from chance 0 to the
    Bayes ceiling 1; `usable_bits`: the usable-information PID atom, bits); `truth`, the data's atoms (bits)
    per value; `runs`, one row per (value, objective, seed) with its status and whether other code made it
    (`stale`) and its wall seconds."""

    imap: InteractionMap
    summary: pd.DataFrame
    truth: pd.DataFrame
    runs: pd.DataFrame

    @property
    def complete(self) -> bool:
        return bool((self.runs["status"] == "done").all())


def map_results(imap: InteractionMap, store: ResultsStore) -> MapResults:
    """Read a map's runs from `store` (nothing is trained) and summarise them over seeds."""
    specs = imap.specs()
    keys = [run_id(spec.config()) for _, spec in specs]
    stored = store.runs().set_index("run_id")
    generators = {}
    for value, spec in specs:
        if value not in generators:  # the data at this value (the plain data for an objective knob)
            generators[value] = spec.build_generator()
    runs = []
    for (value, spec), key in zip(specs, keys, strict=True):
        row = stored.loc[key] if key in stored.index else None
        status = "missing" if row is None else row["status"]
        meta = json.loads(row["meta"]) if row is not None and row["meta"] else {}
        runs.append({
            "knob_value": value, "objective": spec.arm, "seed": spec.seed, "run_id": key, "status": status,
            "stale": status == "done" and is_stale(meta, spec), "wall_seconds": meta.get("wall_seconds"),
        })  # fmt: skip
    runs = pd.DataFrame(runs)
    truth = pd.DataFrame(
        [
            {"knob_value": v, "atom": a, "bits": b}
            for v, g in generators.items()
            for a, b in data_atoms(g).items()
        ]
    )
    done = runs[runs["status"] == "done"]
    scores = store.run_scores(done["run_id"]).merge(done, on="run_id")
    scores = scores[scores["epoch"].isna()]
    rows = []
    for value, objective in dict.fromkeys(zip(runs["knob_value"], runs["objective"], strict=True)):
        mine = scores[(scores["knob_value"] == value) & (scores["objective"] == objective)]
        generator = generators[value]
        for atom in ATOMS:
            accuracy = mine[(mine["probe"] == "linear") & (mine["task"] == atom)
                            & (mine["metric"] == "balanced_accuracy")]  # fmt: skip
            truth_of_task = generator.truth(atom)
            fraction = (accuracy["value"] - truth_of_task.chance) / (
                truth_of_task.bayes - truth_of_task.chance
            )
            bits = mine[(mine["probe"] == "usable_pid") & (mine["metric"] == f"{atom}_corrected")]["value"]
            for measure, values in (("fraction", fraction), ("usable_bits", bits)):
                summary = seed_summary(values.to_numpy())
                rows.append({
                    "knob_value": value, "objective": objective, "measure": measure, "atom": atom,
                    "n": 0 if summary is None else summary.n,
                    **({k: getattr(summary, k, np.nan) for k in ("mean", "low", "high")}),
                })  # fmt: skip
    return MapResults(imap, pd.DataFrame(rows), truth, runs)


_MEASURES = {
    "fraction": "captured fraction (linear probe: 0 chance, 1 Bayes ceiling)",
    "usable_bits": "usable-information PID, bits",
}
_ATOM_TITLES = {
    "redundancy": "redundancy R",
    "unique1": "unique U1",
    "unique2": "unique U2",
    "synergy": "synergy S",
}


def _positions(values: Sequence) -> tuple[np.ndarray, list[str]]:
    """x positions of the knob's values: the values themselves when numeric, else their index."""
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    positions = np.asarray(values, dtype=float) if numeric else np.arange(len(values), dtype=float)
    return positions, [str(v) for v in values]


def plot_map(results: MapResults):
    """One column per atom: the captured fraction (top) and the usable bits beside the data's exact atoms
    (bottom) against the knob, one line per objective with its 95% band over seeds."""
    imap, summary = results.imap, results.summary
    x, labels = _positions(imap.values)
    where = dict(zip(imap.values, x, strict=True))
    fig, axes = plt.subplots(2, len(ATOMS), figsize=(3.6 * len(ATOMS), 6.4), squeeze=False, sharex=True)
    colours = dict(zip(MAP_OBJECTIVES, plt.get_cmap("tab10").colors, strict=False))
    for row, measure in enumerate(_MEASURES):
        for col, atom in enumerate(ATOMS):
            ax = axes[row][col]
            for objective in dict.fromkeys(summary["objective"]):
                line = summary[(summary["objective"] == objective) & (summary["measure"] == measure)
                               & (summary["atom"] == atom) & (summary["n"] > 0)]  # fmt: skip
                if line.empty:
                    continue
                at = line["knob_value"].map(where).to_numpy()
                colour = colours.get(objective)
                ax.plot(at, line["mean"], marker="o", ms=3, lw=1.2, label=objective, color=colour)
                ax.fill_between(at, line["low"], line["high"], alpha=0.15, color=colour, lw=0)
            if measure == "fraction":
                ax.axhline(0.0, color="black", ls="dotted", lw=0.8)
                ax.axhline(1.0, color="black", ls="dashed", lw=0.8)
                ax.set_ylim(-0.15, 1.1)
            else:
                truth = results.truth[results.truth["atom"] == atom]
                ax.plot(truth["knob_value"].map(where), truth["bits"], color="black", lw=1.5, ls="--",
                        marker="s", ms=3, label="data (exact)")  # fmt: skip
            ax.set_title(_ATOM_TITLES[atom], fontsize=9)
            ax.set_xticks(x, labels)
            if row == 1:
                ax.set_xlabel(imap.knob)
            if col == 0:
                ax.set_ylabel(_MEASURES[measure], fontsize=8)
    handles, names = axes[1][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=7, frameon=False)
    seeds = results.runs["seed"].nunique()
    fig.suptitle(f"{imap.name}: {imap.knob} on {imap.generator} ({seeds} seeds, 95% t-bands; dotted: chance, "
                 "dashed: Bayes ceiling)", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    return fig


def _cell(row: pd.Series) -> str:
    """'mean [low, high]' to 2 decimals; the mean alone for one seed, '-' for none."""
    if row["n"] == 0:
        return "-"
    if row["n"] == 1:
        return f"{row['mean']:.2f}"
    return f"{row['mean']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"


def leaves_chance(results: MapResults, objective: str, atom: str, measure: str = "fraction") -> object | None:
    """The smallest knob value (in the map's order) from which on the objective's 95% interval of `atom`
    lies above 0 (chance for the captured fraction, no usable bits for `usable_bits`) at every value; None
    if it does not end above 0."""
    summary = results.summary
    line = summary[(summary["objective"] == objective) & (summary["measure"] == measure)
                   & (summary["atom"] == atom)].set_index("knob_value")  # fmt: skip
    first = None
    for value in results.imap.values:
        above = value in line.index and line.loc[value, "n"] > 1 and line.loc[value, "low"] > 0
        first = (first if first is not None else value) if above else None
    return first


def map_markdown(results: MapResults) -> str:
    """A map's section: what it sweeps, how to regenerate it, its runs (missing, failed, made by other
    code), where each objective's captured fraction leaves chance, and the numbers of both rows."""
    imap, runs, summary = results.imap, results.runs, results.summary
    lines = [
        f"## {imap.name}: `{imap.knob}` on `{imap.generator}`",
        "",
        imap.description + "." if imap.description else "",
    ]
    done = int((runs["status"] == "done").sum())
    cost = runs["wall_seconds"].dropna().sum()
    lines += [
        "",
        f"Regenerate: `{imap.command}`. Runs: {done} of {len(runs)} done "
        f"({int((runs['status'] == 'failed').sum())} failed, "
        f"{int((runs['status'] == 'missing').sum())} not run); "
        f"{cost / 60:.1f} min of one-thread run time in all.",
    ]
    stale = int(runs["stale"].sum())
    if stale:
        lines += ["", f"**{stale} of these runs were made by other code** (another code fingerprint): "
                  f"`{imap.command} --stale recompute` makes them again."]  # fmt: skip
    objectives = list(dict.fromkeys(summary["objective"]))
    lines += ["", "From which knob value on the 95% interval stays above 0: captured fraction (above "
              "chance) / usable bits (`never`: not at the last value):", "",
              "| objective | " + " | ".join(_ATOM_TITLES[a] for a in ATOMS) + " |",
              "|---|" + "---|" * len(ATOMS)]  # fmt: skip
    for objective in objectives:
        firsts = [[leaves_chance(results, objective, atom, m) for m in _MEASURES] for atom in ATOMS]
        cells = [" / ".join("never" if v is None else str(v) for v in pair) for pair in firsts]
        lines.append(f"| {objective} | " + " | ".join(cells) + " |")
    for measure, title in _MEASURES.items():
        lines += ["", f"{title[0].upper()}{title[1:]}, mean [95% t-interval] over seeds:", "",
                  f"| {imap.knob} | objective | " + " | ".join(_ATOM_TITLES[a] for a in ATOMS) + " |",
                  "|---|---|" + "---|" * len(ATOMS)]  # fmt: skip
        for value in imap.values:
            if measure == "usable_bits":
                truth = results.truth[results.truth["knob_value"] == value].set_index("atom")["bits"]
                lines.append(
                    f"| {value} | data (exact) | " + " | ".join(f"{truth[a]:.2f}" for a in ATOMS) + " |"
                )
            for objective in objectives:
                mine = summary[(summary["knob_value"] == value) & (summary["objective"] == objective)
                               & (summary["measure"] == measure)].set_index("atom")  # fmt: skip
                lines.append(
                    f"| {value} | {objective} | " + " | ".join(_cell(mine.loc[a]) for a in ATOMS) + " |"
                )
    return "\n".join(lines) + "\n"


def write_map_reports(maps: Sequence[MapResults], out: Path) -> list[str]:
    """Each map's `<name>.md` and figure (PNG and PDF) in `out`, from its results (`map_results`). A map
    whose text did not change keeps its files (a PDF records when it was drawn); returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for results in maps:
        imap = results.imap
        text = f"# Interaction map\n\n{map_markdown(results)}"
        markdown = out / f"{imap.name}.md"
        figures = [out / f"{imap.name}{suffix}" for suffix in (".png", ".pdf")]
        if markdown.is_file() and markdown.read_text() == text and all(f.is_file() for f in figures):
            continue
        fig = plot_map(results)
        for path in figures:
            atomic_write(path, lambda p, fig=fig: save_figure(fig, p))
        plt.close(fig)
        atomic_write(markdown, lambda p, text=text: p.write_text(text))
        written.append(f"{imap.name}: {markdown}, {', '.join(map(str, figures))}")
    return written


def run_maps(
    maps: Sequence[InteractionMap], store: str | Path, out: Path, device: str = "auto", **grid_options
) -> list[str]:
    """Check every map, run what the store at path `store` lacks through the grid (`grid_options`: workers,
    backend, stale, ...), then write each map's figure and `<name>.md` to `out`; returns what to print."""
    specs = [spec for imap in maps for _, spec in imap.specs(device)]  # every map checked before any run
    unique = list({run_id(spec.config()): spec for spec in specs}.values())  # runs shared by maps count once
    store = ResultsStore(store)
    counts = run_grid(unique, store, **grid_options)
    lines = [f"trained {counts['trained']}, cached {counts['cached']}, failed {counts['failed']}"]
    if counts.get("postponed"):
        lines.append(f"{counts['postponed']} runs did not fit in the time budget: run the same command again")
    return lines + write_map_reports([map_results(imap, store) for imap in maps], out)
