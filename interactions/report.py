"""Reports from the results store alone (no retraining): scores.csv, summary.md and PNG plots."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from estimators.representation_pid import ATOMS
from generators import PaperComparison, available_generators, comparisons, generator_preset
from interactions.fingerprint import code_fingerprint, is_stale
from interactions.grid import truth_table
from interactions.scoring import ARMS, SCORING_VERSION
from interactions.store import ResultsStore


def reports_dir(preset: str, root: Path = Path("reports")) -> Path:
    """Where a preset's store and reports live: `root` for quick (the committed reports), `root/<preset>`
    for any other preset, so that no other scale overwrites them."""
    return root if preset == "quick" else root / preset


INFO_TASKS = ("redundancy", "unique1", "unique2", "unique3", "synergy")
# Score rows of PID atoms, by probe name: what the representations hold, and what linear readouts can use.
PID_PROBES = {
    "pid": "PID of the per-modality representations",
    "usable_pid": "usable-information PID of linear readouts",
}
RANDOM_ARM = {"fused": "random_fused", "encoders": "random_encoders"}


def tidy_scores(store: ResultsStore) -> pd.DataFrame:
    """One row per (objective, generator, seed, task, probe, metric, epoch), with chance and Bayes ceiling,
    and for probe accuracies the gain over the same architecture at initialisation."""
    scores = store.scores(version=SCORING_VERSION)
    if scores.empty:
        return scores
    truth = pd.DataFrame(truth_table(sorted(scores["generator"].unique())))[
        ["generator", "task", "chance", "bayes"]
    ]
    scores = scores.merge(truth, on=["generator", "task"], how="left")
    arch = scores["objective"].map(lambda arm: RANDOM_ARM.get(ARMS.get(arm, ("", ""))[1]))
    baseline = scores.rename(columns={"objective": "baseline", "value": "baseline_value"})
    scores = scores.assign(baseline=arch).merge(
        baseline[["baseline", "generator", "seed", "task", "probe", "metric", "epoch", "baseline_value"]],
        on=["baseline", "generator", "seed", "task", "probe", "metric", "epoch"],
        how="left",
    )
    scores["gain_over_init"] = np.where(
        scores["probe"].isin(PID_PROBES), np.nan, scores["value"] - scores["baseline_value"]
    )
    return scores.drop(columns=["baseline_value"]).sort_values(
        ["generator", "objective", "seed", "probe", "task", "metric"], na_position="first"
    )


@dataclass(frozen=True)
class SeedSummary:
    """Mean, sample standard deviation and 95% Student-t interval of one score over n seeds (no interval for
    one seed)."""

    n: int
    mean: float
    std: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.n > 1 and (self.low > 0 or self.high < 0)


def seed_summary(values: pd.Series | np.ndarray) -> SeedSummary | None:
    """The mean over seeds with a two-sided 95% t-interval, mean +/- t(0.975, n - 1) * std / sqrt(n)."""
    values = pd.Series(values, dtype=float).dropna()
    n = len(values)
    if n == 0:
        return None
    mean = float(values.mean())
    if n == 1:
        return SeedSummary(1, mean, float("nan"), float("nan"), float("nan"))
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / np.sqrt(n)
    return SeedSummary(n, mean, std, mean - half, mean + half)


def tidy_export(scores: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """scores.csv: one row per (objective, generator, seed, task, probe, metric, epoch) with chance, Bayes
    ceiling, the exact truth in bits for PID atoms (`truth_bits`), and where each run came from: package
    version, git commit (12 hex digits), code fingerprint and torch thread count."""
    meta = current[["objective", "generator", "seed", "meta"]].copy()
    parsed = meta.pop("meta").map(lambda text: json.loads(text) if text else {})
    meta["package"] = parsed.map(lambda m: m.get("package"))
    meta["commit"] = parsed.map(lambda m: (m.get("commit") or "")[:12] or None)  # git's short form
    meta["code"] = parsed.map(lambda m: m.get("code"))
    meta["torch_threads"] = parsed.map(lambda m: (m.get("threads") or {}).get("torch"))
    truth = pd.DataFrame(truth_table(sorted(scores["generator"].unique())))
    atoms = truth.melt(id_vars=["generator", "task"], value_vars=list(ATOMS), var_name="atom",
                       value_name="truth_bits")  # fmt: skip
    atom = scores["metric"].str.rsplit("_", n=1).str[0].where(scores["probe"] == "pid")
    export = scores.assign(atom=atom)
    export = export.merge(atoms, on=["generator", "task", "atom"], how="left").drop(columns="atom")
    return export.merge(meta, on=["objective", "generator", "seed"], how="left")


def _mean_std(values: pd.Series, scale: float = 100, digits: int = 1) -> str:
    """'mean ± std [95% interval]' over seeds (scaled, e.g. to %); the mean alone for one seed."""
    summary = seed_summary(values)
    if summary is None:
        return "–"
    f = f".{digits}f"
    if summary.n == 1:
        return f"{scale * summary.mean:{f}}"
    return (
        f"{scale * summary.mean:{f}} ± {scale * summary.std:{f}} "
        f"[{scale * summary.low:{f}}, {scale * summary.high:{f}}]"
    )


def paired_differences(
    final: pd.DataFrame, reference: str | None = None, metric: str = "balanced_accuracy"
) -> pd.DataFrame:
    """Per (generator, probe, task, objective): the per-seed difference of its `metric` against
    `reference` (an objective run on the same data and seeds) or, with None, against its own architecture
    at initialisation (`gain_over_init`), summarised over seeds (`seed_summary`)."""
    acc = final[final["metric"] == metric]
    keys = ["generator", "probe", "task", "seed"]
    if reference is None:
        diffs = acc.assign(difference=acc["gain_over_init"])
    else:
        ref = acc[acc["objective"] == reference][[*keys, "value"]].rename(columns={"value": "reference"})
        diffs = acc[acc["objective"] != reference].merge(ref, on=keys)
        diffs = diffs.assign(difference=diffs["value"] - diffs["reference"])
    rows = []
    for (generator, probe, task, objective), group in diffs.groupby(
        ["generator", "probe", "task", "objective"]
    ):
        summary = seed_summary(group["difference"])
        if summary is not None:
            rows.append({"generator": generator, "probe": probe, "task": task, "objective": objective,
                         **asdict(summary)})  # fmt: skip
    return pd.DataFrame(
        rows, columns=["generator", "probe", "task", "objective", *SeedSummary.__annotations__]
    )


def _difference_cell(row: pd.Series | None, scale: float = 100, digits: int = 1) -> str:
    if row is None:
        return "–"
    f = f"+.{digits}f"
    if row["n"] == 1:
        return f"{scale * row['mean']:{f}}"
    mark = " *" if row["low"] > 0 or row["high"] < 0 else ""
    return f"{scale * row['mean']:{f}} [{scale * row['low']:{f}}, {scale * row['high']:{f}}]{mark}"


def _provenance(current: pd.DataFrame) -> list[str]:
    """Which stored runs the tables summarise (`current`, the store's latest runs), and which of them other
    code computed (stale)."""
    stale = current[current["meta"].map(is_stale)].sort_values(["generator", "objective", "seed"])
    lines = [
        f"Summarises {len(current)} runs (the latest finished run per objective, generator and seed at "
        f"scoring version {SCORING_VERSION}); this code's fingerprint is `{code_fingerprint()}`.",
        "",
    ]
    if not stale.empty:
        lines += [
            f"**Stale runs:** {len(stale)} of them were computed by other code or dependency versions, or "
            "before runs recorded their code (rerun with `--stale recompute` to retrain them): "
            + ", ".join(f"{r.generator} / {r.objective} / seed {r.seed}" for r in stale.itertuples())
            + ".",
            "",
        ]
    return lines


def _objective_order(objectives: list[str]) -> list[str]:
    known = [a for a in ARMS if a in objectives]
    return known + sorted(set(objectives) - set(known))


def summary_markdown(
    scores: pd.DataFrame, runs: pd.DataFrame, current: pd.DataFrame, validation: dict | None = None
) -> str:
    """`runs`: every stored run (failures are listed); `current`: the runs the scores come from;
    `validation`: the estimator validation (reports/estimators.json) whose errors go beside each PID table."""
    lines = ["# Benchmark summary", ""]
    lines += [
        "Generated by `pytest benchmarks/` (or `interactions report`) from the results store. Balanced",
        "accuracy in percent, information in bits. With several seeds a cell is mean ± std [95% interval]",
        "over seeds, the interval Student's t: mean ± t(0.975, n - 1) · std / √n. Paired differences are",
        "taken per seed (same data, same seed) against the same architecture at initialisation",
        "(`random_fused` for fused objectives, `random_encoders` for concatenated encoders) and against",
        "`cross`, then summarised the same way; * marks an interval that excludes 0.",
        "",
    ]
    lines += _provenance(current)
    failed = runs[runs["status"] == "failed"]
    if not failed.empty:
        lines += ["**Failed runs:**", ""]
        lines += [f"- {r.generator} / {r.objective} / seed {r.seed}: {r.reason}" for r in failed.itertuples()]
        lines.append("")
    final = scores[scores["epoch"].isna()]
    versus = {"initialisation": paired_differences(final), "cross": paired_differences(final, "cross")}
    for comparison in comparisons():
        lines += _comparison_lines(comparison, final)
        lines += _learning_curve_lines(comparison, scores, current)
    truth = pd.DataFrame(truth_table(sorted(final["generator"].unique())))
    for generator in sorted(final["generator"].unique()):
        sub = final[final["generator"] == generator]
        seeds = sorted(int(s) for s in sub["seed"].unique())
        design = generator_preset(generator).description if generator in available_generators() else ""
        lines += [f"## {generator}", "", design, "", f"Seeds: {seeds}.", ""]
        tasks = [t for t in (*INFO_TASKS, "all") if t in set(sub["task"])]
        gt = truth[truth["generator"] == generator].set_index("task")
        for probe in ("linear", "mlp"):
            acc = sub[(sub["probe"] == probe) & (sub["metric"] == "balanced_accuracy")]
            if acc.empty:
                continue
            lines += [f"### {probe} probe: balanced accuracy (%)", ""]
            lines += ["| objective | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
            lines.append(
                "| chance / Bayes | "
                + " | ".join(
                    f"{100 * gt.loc[t, 'chance']:.1f} / {100 * gt.loc[t, 'bayes']:.1f}" for t in tasks
                )
                + " |"
            )
            predicted = sub[(sub["probe"] == probe) & (sub["metric"] == "predicted_classes")]
            degenerate = set()
            for objective in _objective_order(list(acc["objective"].unique())):
                cells = []
                for t in tasks:
                    rows = acc[(acc["objective"] == objective) & (acc["task"] == t)]
                    extra = ""
                    classes = _rows(predicted, objective, generator, t)
                    one_class = classes[classes["value"] == 1]
                    if not one_class.empty:
                        degenerate.add(
                            f"{objective} / {t} (seeds {sorted(int(s) for s in one_class['seed'])})"
                        )
                        extra += " †"
                    cells.append(_mean_std(rows["value"]) + extra)
                lines.append(f"| {objective} | " + " | ".join(cells) + " |")
            lines.append("")
            if degenerate:
                lines += [
                    "† Degenerate probe: it predicted one class for every test sample, so its accuracy is "
                    "chance by construction, not evidence about the representation: "
                    + ", ".join(sorted(degenerate))
                    + ".",
                    "",
                ]
            for name, table in versus.items():
                lines += _difference_lines(table, generator, probe, tasks, name)
        usable = sub[(sub["probe"] == "linear") & (sub["metric"] == "usable_bits")]
        if not usable.empty:
            lines += ["### linear probe: usable information (bits)", ""]
            lines += ["| objective | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
            for objective in _objective_order(list(usable["objective"].unique())):
                mine = usable[usable["objective"] == objective]
                cells = [_mean_std(mine[mine["task"] == t]["value"], scale=1, digits=3) for t in tasks]
                lines.append(f"| {objective} | " + " | ".join(cells) + " |")
            lines.append("")
        for probe in PID_PROBES:
            if not sub[sub["probe"] == probe].empty:
                lines += _pid_lines(sub, probe, gt, current, validation)
    return "\n".join(lines) + "\n"


_PID_INTRO = {
    "pid": "What the representations still hold about the label, whatever reads them.",
    "usable_pid": (
        "What linear readouts can use (`estimators/usable_pid.py`): R, U1, U2 are the BROJA atoms of codes "
        "of linear readouts of each modality's representation; S is what a linear readout of the joint "
        "representation uses beyond a late fusion of those modality-wise readouts (negative where it uses "
        "less). Any encoder that keeps its input keeps the atoms above; these say which of them the "
        "objective made linearly readable. The data's atoms are the ceiling. Validated against closed-form "
        "truth on raw observations in `reports/estimators.md`."
    ),
}
# The usable PID's atoms of these objectives are compared with CoMM's, seed by seed.
_USABLE_VERSUS = "comm"


def _pid_lines(
    sub: pd.DataFrame, probe: str, gt: pd.DataFrame, current: pd.DataFrame, validation: dict | None
) -> list[str]:
    """One generator's PID table of `probe` (`pid` or `usable_pid`): mean corrected atoms over seeds with
    the mean interval; for the usable PID, each objective's paired difference against CoMM."""
    pid = sub[sub["probe"] == probe]
    task = pid["task"].iloc[0]
    generator = pid["generator"].iloc[0]
    estimator = (
        _estimator_lines(generator, _scoring_size(current, generator, "n_pid"), validation)
        if probe == "pid"
        else []
    )
    lines = [
        f"### {PID_PROBES[probe]}, task `{task}` (bits, bias-corrected [95% interval])",
        "",
        _PID_INTRO[probe],
        *estimator,
        *_stale_note(current, generator),
        "",
        "| objective | " + " | ".join(ATOMS) + " | discretisation loss |",
        "|---" * (len(ATOMS) + 2) + "|",
        f"| {'ground truth' if probe == 'pid' else 'the data (ceiling)'} | "
        + " | ".join(f"{gt.loc[task, a]:.3f}" for a in ATOMS)
        + " | |",
    ]
    for objective in _objective_order(list(pid["objective"].unique())):
        rows = pid[pid["objective"] == objective]
        cells = []
        for a in ATOMS:
            mean = {
                k: rows[rows["metric"] == f"{a}_{k}"]["value"].mean() for k in ("corrected", "low", "high")
            }
            cells.append(f"{mean['corrected']:.3f} [{mean['low']:.3f}, {mean['high']:.3f}]")
        loss = rows[rows["metric"] == "discretization_loss_bits"]["value"]
        cells.append(f"{loss.mean():.3f}" if len(loss) else "–")
        lines.append(f"| {objective} | " + " | ".join(cells) + " |")
    lines.append("")
    if probe != "usable_pid" or _USABLE_VERSUS not in set(pid["objective"]):
        return lines
    differences = {
        a: paired_differences(pid, _USABLE_VERSUS, f"{a}_corrected").set_index("objective") for a in ATOMS
    }
    lines += [
        f"Paired difference against {_USABLE_VERSUS} (usable bits, objective minus {_USABLE_VERSUS}; * marks "
        "an interval that excludes 0):",
        "",
        "| objective | " + " | ".join(ATOMS) + " |",
        "|---" * (len(ATOMS) + 1) + "|",
    ]
    for objective in _objective_order([o for o in pid["objective"].unique() if o != _USABLE_VERSUS]):
        cells = [
            _difference_cell(d.loc[objective] if objective in d.index else None, scale=1, digits=3)
            for d in differences.values()
        ]
        lines.append(f"| {objective} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _difference_lines(table: pd.DataFrame, generator: str, probe: str, tasks: list[str], versus: str) -> list:
    """One generator's paired differences (points) against `versus`, objectives by tasks."""
    mine = table[(table["generator"] == generator) & (table["probe"] == probe)]
    if versus == "initialisation":  # an architecture at initialisation against itself says nothing
        mine = mine[~mine["objective"].isin(RANDOM_ARM.values())]
    if mine.empty:
        return []
    lines = [
        f"Paired difference against {versus} ({probe} probe, points):",
        "",
        "| objective | " + " | ".join(tasks) + " |",
        "|---" * (len(tasks) + 1) + "|",
    ]
    for objective in _objective_order(list(mine["objective"].unique())):
        cells = []
        for t in tasks:
            row = mine[(mine["objective"] == objective) & (mine["task"] == t)]
            cells.append(_difference_cell(None if row.empty else row.iloc[0]))
        lines.append(f"| {objective} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _rows(scores: pd.DataFrame, objective: str, generator: str, task: str) -> pd.DataFrame:
    return scores[
        (scores["objective"] == objective) & (scores["generator"] == generator) & (scores["task"] == task)
    ]


def _comparison_lines(comparison: PaperComparison, final: pd.DataFrame) -> list[str]:
    """Ours next to published numbers (linear probe, balanced accuracy %), and the paper's pattern check."""
    linear = final[(final["probe"] == "linear") & (final["metric"] == "balanced_accuracy")]
    if not set(linear["generator"]) & comparison.generators:
        return []

    def score(objective: str, generator: str, task: str) -> float | None:
        rows = _rows(linear, objective, generator, task)
        return None if rows.empty else 100 * float(rows["value"].mean())

    labels = [label for label, _, _ in comparison.columns]
    lines = [
        f"## {comparison.title}",
        "",
        "Linear probe, balanced accuracy (%), ours (mean ± std [95% interval] over the n seeds run) / "
        "published. " + comparison.description,
        "",
        "| objective | " + " | ".join(labels) + " | published source |",
        "|---" * (len(labels) + 2) + "|",
    ]
    objectives = _objective_order(list(linear["objective"].unique()))
    for objective in objectives:
        values, source = comparison.published.get(objective, ((None,) * len(labels), ""))
        cells = []
        for paper, (_, generator, task) in zip(values, comparison.columns, strict=True):
            values_ours = _rows(linear, objective, generator, task)["value"]
            ours = _mean_std(values_ours) + (f" (n={len(values_ours)})" if len(values_ours) else "")
            cells.append(f"{ours} / {'–' if paper is None else f'{paper:.1f}'}")
        lines.append(f"| {objective} | " + " | ".join(cells) + f" | {source} |")
    pattern = comparison.pattern(score, objectives) if comparison.pattern else []
    return [*lines, "", *pattern, ""]


_VERDICT = re.compile(r"^- (.*?): (holds|does not hold|not measured)")
_MIN_CURVE_CHECKPOINTS = 4  # a learning curve needs a few points; quick's 0 / 10 epochs are in the tables


VALIDATION = Path(__file__).resolve().parent.parent / "reports" / "estimators.json"


def load_validation(path: Path = VALIDATION) -> dict | None:
    """The estimator validation's cache (benchmarks/test_estimator_validation.py), None if absent."""
    return json.loads(path.read_text()) if path.is_file() else None


def _scoring_size(current: pd.DataFrame, generator: str, knob: str) -> int | None:
    sizes = {json.loads(c)["scoring"][knob] for c in current[current["generator"] == generator]["config"]}
    return sizes.pop() if len(sizes) == 1 else None


def _estimator_lines(generator: str, n: int | None, validation: dict | None) -> list[str]:
    """Which estimator the PID table comes from, and its validated error on this generator's raw
    observations at this sample size (from the estimator validation), or why there is none."""
    estimator = (
        "Estimator: `representation_pid` defaults (label cells or KL k-means codes of the label posteriors, "
        "whichever keeps the joint information with the smaller table; bootstrap bias correction; the "
        "interval covers sampling and the estimated discretisation loss)."
    )
    rows = [] if validation is None else [
        r for r in validation["rows"] if r["setting"] == generator and r["n_samples"] == n
    ]  # fmt: skip
    if not rows:
        return [
            f"{estimator} Not validated on `{generator}` at N = {n}: `reports/estimators.md` holds the "
            "validated settings (raw observations of the vector generators; image data have no exact truth "
            "for representations)."
        ]
    seeds = sorted({r["seed"] for r in rows})
    first = [r for r in rows if r["seed"] == seeds[0]]
    errors = ", ".join(f"{_ATOM_SHORT[r['atom']]} {r['estimate'] - r['truth']:+.2f}" for r in first)
    over_seeds = (
        f"; over seeds {seeds[0]}-{seeds[-1]}: largest |error| "
        f"{max(abs(r['estimate'] - r['truth']) for r in rows):.2f}, the interval holds the truth in "
        f"{100 * np.mean([r['low'] <= r['truth'] <= r['high'] for r in rows]):.0f}% of atoms"
        if len(seeds) > 1
        else ""
    )
    other_code = validation["code"] != code_fingerprint(("generators", "estimators"))
    return [
        f"{estimator} Validated error on this generator's raw observations at N = {n:,} (estimate - exact "
        f"truth, bits, seed {first[0]['seed']}): {errors}{over_seeds}"
        + ("; validated with other estimator code (see `reports/estimators.md`)" if other_code else "")
        + "."
    ]


def _stale_note(current: pd.DataFrame, generator: str) -> list[str]:
    stale = current[(current["generator"] == generator) & current["meta"].map(is_stale)]
    if stale.empty:
        return []
    return [
        "",
        f"**{len(stale)} of these runs are stale** (computed by other code, which may have used another PID "
        "estimator): " + ", ".join(sorted(stale["objective"])) + ".",
    ]


def _steps_per_epoch(current: pd.DataFrame, generator: str) -> int | None:
    """Optimiser steps per epoch of a generator's runs (from their stored configuration)."""
    configs = current[current["generator"] == generator]["config"].map(json.loads)
    steps = {c["scoring"]["n_pretrain"] // min(c["train"]["batch_size"], c["scoring"]["n_pretrain"])
             for c in configs}  # fmt: skip
    return steps.pop() if len(steps) == 1 else None


def _learning_curve_lines(
    comparison: PaperComparison, scores: pd.DataFrame, current: pd.DataFrame
) -> list[str]:
    """The comparison at every checkpoint: each (objective, column) against training steps, and which parts
    of the paper's pattern hold at each step. Only for runs with several checkpoints (the long preset)."""
    linear = scores[
        scores["epoch"].notna()
        & (scores["probe"] == "linear")
        & (scores["metric"] == "balanced_accuracy")
        & scores["generator"].isin(comparison.generators)
    ]
    epochs = sorted(int(e) for e in linear["epoch"].unique())
    if len(epochs) < _MIN_CURVE_CHECKPOINTS:
        return []
    predicted = scores[
        scores["epoch"].notna() & (scores["probe"] == "linear") & (scores["metric"] == "predicted_classes")
    ]
    steps = {_steps_per_epoch(current, g) for g in set(linear["generator"])} - {None}
    n = steps.pop() if len(steps) == 1 else None  # generators trained at other step counts: show epochs
    if n is not None:

        def step_of(epoch: int) -> str:
            return f"{epoch * n:,}"

        unit = f"optimiser steps ({n} per epoch)"
    else:
        step_of, unit = str, "epochs"
    lines = [
        f"## {comparison.title}: learning curves",
        "",
        f"Linear probe, balanced accuracy (%) at each checkpoint, against {unit}; the last column is the "
        "published number. † marks a degenerate probe (one class predicted for every test sample).",
        "",
        "| objective | column | " + " | ".join(step_of(e) for e in epochs) + " | published |",
        "|---" * (len(epochs) + 3) + "|",
    ]
    objectives = [o for o in _objective_order(list(linear["objective"].unique())) if "random" not in o]
    for objective in objectives:
        published = comparison.published.get(objective, ((None,) * len(comparison.columns), ""))[0]
        for (label, generator, task), paper in zip(comparison.columns, published, strict=True):
            rows = _rows(linear, objective, generator, task)
            if rows.empty:
                continue
            one_class = _rows(predicted, objective, generator, task)
            one_class = set(one_class[one_class["value"] == 1]["epoch"])
            cells = [_mean_std(rows[rows["epoch"] == e]["value"]) + " †" * (e in one_class) for e in epochs]
            paper_cell = "–" if paper is None else f"{paper:.1f}"
            lines.append(f"| {objective} | {label} | " + " | ".join(cells) + f" | {paper_cell} |")
    if comparison.pattern is not None:
        verdicts: dict[str, list[str]] = {}
        for e in epochs:
            at = linear[linear["epoch"] == e]

            def score(objective: str, generator: str, task: str, at=at) -> float | None:
                rows = _rows(at, objective, generator, task)
                return None if rows.empty else 100 * float(rows["value"].mean())

            for line in comparison.pattern(score, objectives):
                if match := _VERDICT.match(line):
                    verdicts.setdefault(match[1], []).append(match[2])
        lines += ["", "Which parts of the paper's pattern hold at each checkpoint:", ""]
        lines += [
            "| claim | " + " | ".join(step_of(e) for e in epochs) + " |",
            "|---" * (len(epochs) + 1) + "|",
        ]
        lines += [f"| {claim} | " + " | ".join(v) + " |" for claim, v in verdicts.items()]
    return [*lines, ""]


_ATOM_COLOURS = dict(zip(ATOMS, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=True))
_ATOM_SHORT = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "synergy": "S"}
_TASK_LABELS = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "unique3": "U3", "synergy": "S"}
# Every figure the report draws starts with one of these; a regeneration removes any other such file.
FIGURE_PREFIXES = ("fingerprint", "dynamics", "pid", "cost", "accuracy")


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
        objectives = _objective_order(list(sub["objective"].unique()))
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
        ax.set_xticks(np.arange(len(ATOMS)), [_ATOM_SHORT[a] for a in ATOMS])
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
        objectives = _objective_order(list(sub["objective"].unique()))
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
    objectives = _objective_order(list(checkpoints["objective"].unique()))
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
    objectives = [o for o in _objective_order(list(done["objective"].unique())) if "random" not in o]
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


REPORT_MANIFEST = ".report.json"  # digest of what the reports show, and the files drawn from it


def write_reports(store: ResultsStore, out_dir: str | Path) -> dict[str, Path]:
    """Regenerate scores.csv, summary.md and the figures (PNG and PDF) in `out_dir` from the store, with
    atomic file writes; a report figure this regeneration did not draw (an old name, a generator no longer
    in the store) is removed. A store with no finished run at this scoring version is an error.

    The files are redrawn only when what they show changed: `out_dir/.report.json` records a digest of the
    inputs (scores, runs, estimator validation, code fingerprint, this module's source, matplotlib's
    version) and the files written from them; when the digest matches and every file is there, they stay."""
    out = Path(out_dir)
    scores = tidy_scores(store)
    if scores.empty:
        raise ValueError(
            f"results store {store.path} holds no finished run at scoring version {SCORING_VERSION}: "
            "run a grid into it first (interactions grid, or pytest benchmarks/)"
        )
    out.mkdir(parents=True, exist_ok=True)
    runs, current = store.runs(), store.latest_runs(SCORING_VERSION)
    validation = load_validation()
    digest = _report_digest(scores, runs, validation)
    manifest = out / REPORT_MANIFEST
    recorded = json.loads(manifest.read_text()) if manifest.is_file() else {}
    paths = {key: out / name for key, name in recorded.get("files", {}).items()}
    if recorded.get("digest") != digest or not all(path.is_file() for path in paths.values()):
        paths = _draw_reports(scores, runs, current, validation, out)
        record = {"digest": digest, "files": {key: path.name for key, path in paths.items()}}
        atomic_write(manifest, lambda p: p.write_text(json.dumps(record, indent=1)))
    drawn = set(paths.values())
    for stale in out.iterdir():
        if stale.suffix in (".png", ".pdf") and stale.name.startswith(FIGURE_PREFIXES) and stale not in drawn:
            stale.unlink()
    return paths


def _report_digest(scores: pd.DataFrame, runs: pd.DataFrame, validation: dict | None) -> str:
    digest = hashlib.sha256()
    for frame in (scores, runs):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        digest.update(",".join(frame.columns).encode())
    digest.update(json.dumps(validation, sort_keys=True).encode())
    digest.update(code_fingerprint().encode() + matplotlib.__version__.encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def _draw_reports(
    scores: pd.DataFrame, runs: pd.DataFrame, current: pd.DataFrame, validation: dict | None, out: Path
) -> dict[str, Path]:
    paths = {"scores": out / "scores.csv", "summary": out / "summary.md"}
    atomic_write(
        paths["scores"], lambda p: tidy_export(scores, current).to_csv(p, index=False, float_format="%.6g")
    )
    summary = summary_markdown(scores, runs, current, validation)
    atomic_write(paths["summary"], lambda p: Path(p).write_text(summary))
    figures = {
        "fingerprint": lambda: plot_fingerprint(scores),
        "pid": lambda: plot_pid(scores),
        "cost": lambda: plot_cost(current),
    }
    for generator in sorted(scores[scores["epoch"].notna()]["generator"].unique()):
        figures[f"dynamics_{generator}"] = lambda g=generator: plot_dynamics(scores, g)
    for name, draw in figures.items():
        fig = draw()
        if fig is None:
            continue
        for suffix in (".png", ".pdf"):
            paths[f"{name}{suffix}"] = out / f"{name}{suffix}"
            atomic_write(paths[f"{name}{suffix}"], lambda p, fig=fig: fig.savefig(p, dpi=100))
        plt.close(fig)
    return paths


def atomic_write(path: Path, write) -> None:
    """Write through `write(temporary path)` and move the result into place, so a reader never sees half a
    file; the temporary name is unique to this writer, so that two writers of one folder never share it."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's file is private; a report is not
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_reports_dir(out: str | Path) -> Path:
    """Check now, before a grid trains, that reports can be written to `out` (else ValueError); a folder
    made for the check is removed again."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"reports folder {out} is a file: pass a folder with --reports")
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ValueError(
            f"reports folder {out} cannot be written ({error.strerror or error}): pass a writable --reports"
        ) from None
    finally:
        for folder in made:
            if folder.is_dir():
                folder.rmdir()
    return out
