"""The report's figures (matplotlib): the fingerprint, the PID bars, learning dynamics, cost."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from estimators.representation_pid import ATOMS
from interactions.grid import truth_table
from interactions.report.seeds import (
    SeedSummary,
    seed_summary,
)
from interactions.report.tidy import ATOM_SHORT, INFO_TASKS, objective_order

_ATOM_COLOURS = dict(zip(ATOMS, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=True))
_TASK_LABELS = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "unique3": "U3", "synergy": "S"}
# Every figure the report draws starts with one of these; a regeneration removes any other such file.
FIGURE_PREFIXES = ("fingerprint", "dynamics", "pid", "cost", "accuracy")


def save_figure(fig: Figure, path: Path) -> None:
    """PNG or PDF by the suffix; a PDF without its creation date, so that redrawing the same figure writes the
    same bytes (the committed reports do not change when what they show did not)."""
    metadata = {"CreationDate": None} if Path(path).suffix == ".pdf" else None
    fig.savefig(path, dpi=100, metadata=metadata)


def _error(summary: SeedSummary | None) -> tuple[float, float]:
    """Error-bar lengths (below, above) of a seed summary's 95% interval; none for one seed."""
    if summary is None or summary.n < 2:
        return 0.0, 0.0
    return summary.mean - summary.low, summary.high - summary.mean


def _panels(n: int, width: float, height: float, columns: int = 2):
    columns = min(columns, n)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def plot_fingerprint(scores: pd.DataFrame) -> Figure | None:
    """The headline figure: per generator (one row), which information types (R, U, S) each objective's
    joint representation gives a linear probe, as balanced accuracy with 95% seed intervals between chance
    (dotted) and the Bayes ceiling (dashed); beside it, where the runs have it, the usable-information PID
    of linear readouts in bits with 95% seed intervals, the data's atoms (the ceiling) as black ticks."""
    final = scores[scores["epoch"].isna()]
    accuracy = final[(final["probe"] == "linear") & (final["metric"] == "balanced_accuracy")]
    usable = final[(final["probe"] == "usable_pid") & final["metric"].str.endswith("_corrected")]
    generators = sorted(accuracy["generator"].unique())
    if not generators:
        return None
    columns = 2 if not usable.empty else 1
    fig, grid = plt.subplots(
        len(generators), columns, figsize=(7.5 * columns, 3.4 * len(generators)), squeeze=False
    )
    truth = pd.DataFrame(truth_table(generators))
    for row, generator in zip(grid, generators, strict=True):
        ax = row[0]
        sub = accuracy[accuracy["generator"] == generator]
        tasks = [t for t in INFO_TASKS if t in set(sub["task"])]
        objectives = objective_order(list(sub["objective"].unique()))
        _grouped_bars(ax, sub, objectives, "task", tasks)
        for j, t in enumerate(tasks):
            first = sub[sub["task"] == t].iloc[0]
            ax.hlines(first["chance"], j - 0.45, j + 0.45, colors="black", linestyles="dotted")
            ax.hlines(first["bayes"], j - 0.45, j + 0.45, colors="black", linestyles="dashed")
        ax.set_xticks(np.arange(len(tasks)), [_TASK_LABELS[t] for t in tasks])
        ax.set_ylim(0.0, 1.02)
        ax.set_ylabel("balanced accuracy")
        seeds = sub["seed"].nunique()
        ax.set_title(f"{generator} ({seeds} seed{'s' * (seeds > 1)}): linear probe", fontsize=10)
        if columns == 1:
            continue
        ax = row[1]
        mine = usable[usable["generator"] == generator]
        if mine.empty:
            ax.axis("off")
            continue
        mine = mine.assign(atom=mine["metric"].str.removesuffix("_corrected"))
        _grouped_bars(ax, mine, objectives, "atom", list(ATOMS))
        gt = truth[(truth["generator"] == generator) & (truth["task"] == mine["task"].iloc[0])].iloc[0]
        ax.hlines([gt[a] for a in ATOMS], np.arange(len(ATOMS)) - 0.45, np.arange(len(ATOMS)) + 0.45,
                  colors="black", lw=1.2)  # fmt: skip
        ax.set_xticks(np.arange(len(ATOMS)), [ATOM_SHORT[a] for a in ATOMS])
        ax.set_ylabel("usable bits")
        ax.set_title(f"{generator}: usable-information PID, linear readouts", fontsize=10)
    grid[0][0].legend(ncol=5, fontsize=7, loc="lower left")
    fig.suptitle("Linear probe per information type (95% t-interval over seeds; dotted: chance; dashed: "
                 "Bayes ceiling) and what linear readouts can use, in bits (black: the data's atoms)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the title above the panels
    return fig


def _grouped_bars(ax, rows: pd.DataFrame, objectives: list[str], column: str, groups: list[str]) -> None:
    """One bar per objective in each group (`rows[column]` == group): the mean over seeds of `value`, with
    its 95% t-interval."""
    width = 0.84 / len(objectives)
    for i, objective in enumerate(objectives):
        mine = rows[rows["objective"] == objective]
        summaries = [seed_summary(mine[mine[column] == g]["value"]) for g in groups]
        means = [np.nan if m is None else m.mean for m in summaries]
        errors = np.array([_error(m) for m in summaries]).T
        x = np.arange(len(groups)) + (i - len(objectives) / 2 + 0.5) * width
        ax.bar(x, means, width, yerr=errors, capsize=1.5, label=objective, error_kw={"lw": 0.8})


def plot_pid(scores: pd.DataFrame) -> Figure | None:
    """PID of the per-modality representations next to the exact truth: per generator, the bias-corrected
    atoms of each objective with the mean bootstrap interval, and the truth as a black tick."""
    pid = scores[scores["epoch"].isna() & (scores["probe"] == "pid")]
    generators = sorted(pid["generator"].unique())
    if not generators:
        return None
    truth = pd.DataFrame(truth_table(generators))
    fig, axes = _panels(len(generators), 7.5, 3.4)
    for ax, generator in zip(axes, generators, strict=True):
        sub = pid[pid["generator"] == generator]
        objectives = objective_order(list(sub["objective"].unique()))
        task = sub["task"].iloc[0]
        gt = truth[(truth["generator"] == generator) & (truth["task"] == task)].iloc[0]
        width = 0.84 / len(ATOMS)
        for i, atom in enumerate(ATOMS):
            value = {
                k: [sub[(sub["objective"] == o) & (sub["metric"] == f"{atom}_{k}")]["value"].mean()
                    for o in objectives]
                for k in ("corrected", "low", "high")
            }  # fmt: skip
            x = np.arange(len(objectives)) + (i - len(ATOMS) / 2 + 0.5) * width
            below = np.maximum(0, np.subtract(value["corrected"], value["low"]))
            above = np.maximum(0, np.subtract(value["high"], value["corrected"]))
            ax.bar(x, value["corrected"], width, yerr=[below, above], capsize=1.5, color=_ATOM_COLOURS[atom],
                   label=atom, error_kw={"lw": 0.8})  # fmt: skip
            ax.hlines([gt[atom]] * len(x), x - width / 2, x + width / 2, colors="black", lw=1.2)
        ax.set_xticks(np.arange(len(objectives)), objectives, rotation=60, fontsize=7)
        ax.set_ylabel("bits (bias-corrected)")
        ax.set_title(f"{generator}: PID, task {task} (black: exact truth of the data)", fontsize=9)
    axes[0].legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return fig


def plot_dynamics(scores: pd.DataFrame, generator: str) -> Figure | None:
    """One generator's learning dynamics as small multiples, one column per objective: the linear-probe
    usable information of each information type (top) and the PID atoms of the representations (bottom)
    against epoch, mean over seeds with a band of ± one standard deviation."""
    checkpoints = scores[scores["epoch"].notna() & (scores["generator"] == generator)]
    probe = checkpoints[(checkpoints["probe"] == "linear") & (checkpoints["metric"] == "usable_bits")]
    pid = checkpoints[(checkpoints["probe"] == "pid") & checkpoints["metric"].str.endswith("_corrected")]
    rows = [
        (probe.assign(series=probe["task"]), INFO_TASKS, "usable bits (linear probe)"),
        (pid.assign(series=pid["metric"].str.removesuffix("_corrected")), ATOMS, "PID bits (corrected)"),
    ]
    objectives = objective_order(list(checkpoints["objective"].unique()))
    width = max(6.0, 2.6 * len(objectives))
    fig, axes = plt.subplots(2, len(objectives), figsize=(width, 5), squeeze=False, sharey="row")
    for r, (data, order, ylabel) in enumerate(rows):
        for c, objective in enumerate(objectives):
            ax = axes[r, c]
            sub = data[data["objective"] == objective]
            for series in [s for s in order if s in set(sub["series"])]:
                curve = sub[sub["series"] == series].groupby("epoch")["value"]
                mean, std = curve.mean(), curve.std().fillna(0.0)
                ax.plot(mean.index, mean.values, marker="o", ms=3, label=_TASK_LABELS.get(series, series))
                ax.fill_between(mean.index, mean - std, mean + std, alpha=0.2)
            if r == 0:
                ax.set_title(objective, fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            if c == 0:
                ax.set_ylabel(ylabel, fontsize=8)
                ax.legend(fontsize=6)
    fig.suptitle(f"{generator}: learning dynamics (mean over seeds, band ± 1 std)", fontsize=10)
    # fixed margins (0.95 inch for the labels): much faster than tight_layout on 20 panels
    fig.subplots_adjust(left=0.95 / width, right=0.99, bottom=0.1, top=0.88, wspace=0.15, hspace=0.35)
    return fig


def plot_cost(runs: pd.DataFrame) -> Figure | None:
    """Training seconds per objective (the checkpoint scoring included), one bar group per generator,
    mean over seeds with the min-max range (log scale)."""
    done = runs[(runs["status"] == "done") & runs["seconds"].notna()]
    generators = sorted(done["generator"].unique())
    objectives = [o for o in objective_order(list(done["objective"].unique())) if "random" not in o]
    if not objectives:  # only untrained arms: nothing to show
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(objectives) + 2), 3.6))
    width = 0.84 / max(1, len(generators))
    for i, generator in enumerate(generators):
        sub = done[done["generator"] == generator].groupby("objective")["seconds"]
        mean, low, high = sub.mean(), sub.min(), sub.max()
        values = [mean.get(o, np.nan) for o in objectives]
        errors = [[values[k] - low.get(o, np.nan) for k, o in enumerate(objectives)],
                  [high.get(o, np.nan) - values[k] for k, o in enumerate(objectives)]]  # fmt: skip
        x = np.arange(len(objectives)) + (i - len(generators) / 2 + 0.5) * width
        ax.bar(x, values, width, yerr=errors, capsize=1.5, label=generator, error_kw={"lw": 0.8})
    ax.set_xticks(np.arange(len(objectives)), objectives, rotation=30, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("training seconds (one thread)")
    ax.set_title("Cost per run: training and checkpoint scoring (mean over seeds, min-max)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
