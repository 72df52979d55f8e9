"""PID estimators side by side (`interactions estimators`): every registered estimator (`estimators.registry`)
on data whose exact PID is known, its error per atom against the truth, its interval coverage where it gives
an interval, and its seconds per call.

Settings: the estimator validation's eleven generator settings at N = 6,000 (the board), and four sweeps of
`bimodal()` (1 bit of each atom): the sample size N from 1,000 to 50,000, the mixing depth 0-3 (0: linear),
the observation dimension 32-512 and the noise. Seeds: every estimator on seeds 0-4; an estimator with
intervals also on seeds 5-19 at N >= 6,000, for its coverage over 20 seeds. One case is (estimator,
generator configuration, N, seed): settings that are the same data (the sweeps' defaults are `bimodal()`)
share their cases. Rows are cached in `reports/estimators/leaderboard.json` with the fingerprint of the code
they came from (the generators, the estimator's own module and the modules it imports), so a rerun computes
only what is missing, or what another code computed when asked to (`stale="recompute"`).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from estimators.registry import PIDEstimator, available_estimators, pid_estimator
from estimators.representation_pid import ATOMS
from generators.factors import FactorGenerator, bimodal
from interactions.estimator_validation import SETTINGS as VALIDATION_SETTINGS
from interactions.estimator_validation import (
    plot_validation,
    run_validation,
    usable_validation_cases,
    usable_validation_markdown,
    validate_usable_case,
    validation_cases,
    validation_markdown,
)
from interactions.executor import Executor, SerialExecutor, WorkerLost
from interactions.fingerprint import source_fingerprint
from interactions.grid import STALE_POLICIES
from interactions.report import atomic_write

BOARD_DIR = Path(__file__).resolve().parent.parent / "reports" / "estimators"
REFERENCE_SIZE = 6000
ERROR_SEEDS = tuple(range(5))
COVERAGE_SEEDS = tuple(range(20))
SWEEPS: dict[str, tuple[str, tuple]] = {  # sweep: (what it varies, values)
    "samples": ("N (samples)", (1000, 2000, 6000, 20000, 50000)),
    "mlp_depth": ("mixing depth (0: linear)", (0, 1, 2, 3)),
    "dim": ("observation dimension", (32, 64, 128, 256, 512)),
    "noise": ("noise", (0.1, 0.3, 0.6, 1.0)),
}


@dataclass(frozen=True)
class Setting:
    """Data with an exact PID: a generator at a sample size, in the board (`sweep="board"`) or a sweep."""

    name: str
    sweep: str
    value: float
    n_samples: int
    build: Callable[[], FactorGenerator]
    description: str

    @property
    def data(self) -> tuple[str, int]:
        """What identifies the data: the generator's configuration and N."""
        return json.dumps(self.build().config(), sort_keys=True), self.n_samples


def _sweep_generator(sweep: str, value: float) -> Callable[[], FactorGenerator]:
    if sweep == "samples":
        return bimodal
    return lambda: bimodal().with_knobs(**{sweep: value})


def board_settings() -> list[Setting]:
    """The board's settings, then each sweep's."""
    board = [
        Setting(name, "board", 0, REFERENCE_SIZE, build, description)
        for name, (build, description) in VALIDATION_SETTINGS.items()
    ]
    sweeps = [
        Setting(
            f"{sweep}={value}",
            sweep,
            value,
            value if sweep == "samples" else REFERENCE_SIZE,
            _sweep_generator(sweep, value),
            f"bimodal(), {label} {value}",
        )
        for sweep, (label, values) in SWEEPS.items()
        for value in values
    ]
    return board + sweeps


@dataclass(frozen=True)
class BoardCase:
    """One call: an estimator on a setting's data (named by the first setting with that data) at one seed."""

    estimator: str
    setting: str
    n_samples: int
    seed: int


def _seeds(estimator: PIDEstimator, n_samples: int) -> tuple[int, ...]:
    return COVERAGE_SEEDS if estimator.has_intervals and n_samples >= REFERENCE_SIZE else ERROR_SEEDS


def board_cases(estimators: Sequence[str]) -> list[BoardCase]:
    """Every distinct (estimator, data, seed), the largest N first (the longest calls start first)."""
    settings = {setting.name: setting for setting in board_settings()}
    cases = [
        BoardCase(name, setting.name, setting.n_samples, seed)
        for name in estimators
        for setting in (settings[first] for first in same_data())
        if setting.n_samples <= (pid_estimator(name).max_samples or setting.n_samples)
        for seed in _seeds(pid_estimator(name), setting.n_samples)
    ]
    return sorted(cases, key=lambda case: -case.n_samples)


def estimator_fingerprint(name: str) -> str:
    """The code an estimator's rows depend on: the generators, the module of its `estimate` and the modules
    of this project those import (`interactions.fingerprint.source_fingerprint`), the other estimators'
    own modules left out (the registry, whose types every estimator uses, imports them all when it loads
    the registered estimators), so that an edit to code the estimator never runs leaves its rows current:
    the peers do not depend on this suite's estimator (`estimators.builtin`) nor on each other."""
    own = _estimate_module(name)
    others = {_estimate_module(e) for e in available_estimators()} - {own, PIDEstimator.__module__}
    return source_fingerprint(("generators", own), tuple(sorted(others)))


def _estimate_module(name: str) -> str:
    module = inspect.getmodule(pid_estimator(name).estimate)
    return module.__name__ if module else ""


def estimate_case(case: BoardCase) -> list[dict]:
    """One call of the case's estimator, one row per atom with the exact value and the call's seconds."""
    setting = {s.name: s for s in board_settings()}[case.setting]
    generator = setting.build()
    sample = generator.sample(case.n_samples, seed=case.seed, split="val")
    rest = np.concatenate(sample.modalities[1:], axis=1)
    estimator = pid_estimator(case.estimator)
    started = time.perf_counter()
    result = estimator(sample.modalities[0], rest, sample.labels[generator.joint_task], seed=case.seed)
    seconds = time.perf_counter() - started
    truth = generator.observed_atoms()
    intervals = result.intervals or {}
    code = estimator_fingerprint(case.estimator)
    return [
        {
            **asdict(case),
            "atom": atom,
            "truth": truth[atom],
            "estimate": value,
            "low": intervals.get(atom, (np.nan, np.nan))[0],
            "high": intervals.get(atom, (np.nan, np.nan))[1],
            "seconds": seconds,
            "code": code,
        }
        for atom, value in result.atoms.items()
    ]


_COLUMNS = [
    "estimator",
    "setting",
    "n_samples",
    "seed",
    "atom",
    "truth",
    "estimate",
    "low",
    "high",
    "seconds",
    "code",
]


def _key(case: BoardCase | dict) -> tuple:
    row = case if isinstance(case, dict) else asdict(case)
    return row["estimator"], row["setting"], row["n_samples"], row["seed"]


def run_board(
    estimators: Sequence[str] | None = None,
    cache: Path = BOARD_DIR / "leaderboard.json",
    executor: Executor | None = None,
    stale: str = "keep",
    compute: bool = True,
) -> pd.DataFrame:
    """The board's rows (one per case and atom) for `estimators` (default: every registered one), each
    setting's rows under its name (settings with the same data share them): read from `cache`, computing
    (`compute=True`) what it lacks and, with `stale="recompute"`, what other code computed; each finished case
    is cached at once (atomically). The table's attrs: `missing` (cases neither cached nor computed), `stale`
    (estimators with cached rows of other code, kept), `failed` (cases whose worker died, with reasons)."""
    if stale not in STALE_POLICIES:
        raise ValueError(f"stale must be one of {', '.join(map(repr, STALE_POLICIES))}, got {stale!r}")
    names = list(estimators or available_estimators())
    cases = board_cases(names)  # validates the names
    codes = {name: estimator_fingerprint(name) for name in names}
    rows = json.loads(cache.read_text()) if cache.exists() else []
    if stale == "recompute":
        rows = [r for r in rows if codes.get(r["estimator"], r["code"]) == r["code"]]
    done = {_key(r) for r in rows}
    todo = [case for case in cases if _key(case) not in done] if compute else []
    failed = []
    for index, case_rows in (executor or SerialExecutor()).map_unordered(estimate_case, todo):
        if isinstance(case_rows, WorkerLost):
            failed.append(f"{todo[index]}: {case_rows.reason}")
            continue
        rows += case_rows
        done.add(_key(todo[index]))
        payload = json.dumps(rows, indent=0)
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, lambda p, text=payload: p.write_text(text))
    wanted = {_key(c) for c in cases}
    table = _setting_rows(pd.DataFrame([r for r in rows if _key(r) in wanted], columns=_COLUMNS))
    table.attrs["calls"] = len(cases)
    table.attrs["missing"] = [case for case in cases if _key(case) not in done]
    table.attrs["stale"] = sorted(set(table["estimator"][table["code"] != table["estimator"].map(codes)]))
    table.attrs["failed"] = failed
    return table


def _setting_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of each setting (a case's rows repeated under every setting with its data), with its sweep,
    value, error and coverage."""
    if rows.empty:
        return rows.assign(sweep=[], value=[], error=[], covered=[])
    first = {name: key for key, names in same_data().items() for name in (key, *names)}
    parts = [
        rows[rows["setting"] == first[s.name]].assign(setting=s.name, sweep=s.sweep, value=s.value)
        for s in board_settings()
    ]
    table = pd.concat(parts, ignore_index=True)
    table["error"] = table["estimate"] - table["truth"]
    table["covered"] = (table["low"] <= table["truth"]) & (table["truth"] <= table["high"])
    return table


def _cell(text: str) -> str:
    """Text for a markdown table cell (a `|` would end the cell)."""
    return text.replace("|", "\\|")


def _span(seeds: Sequence[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def _board_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["sweep"] == "board") & table["seed"].isin(ERROR_SEEDS)]


def _worst_atom(table: pd.DataFrame) -> pd.Series:
    """Per (estimator, setting, seed): the largest absolute error over the four atoms."""
    return (
        table.assign(abs_error=table["error"].abs())
        .groupby(["estimator", "setting", "seed"], sort=False)["abs_error"]
        .max()
    )


def summary_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per estimator on the board (seeds 0-4): mean absolute error per atom and over all, the largest, the
    share of atoms within 0.1 bit, interval coverage over 20 seeds (NaN without intervals) and the median
    seconds per call; ranked by the mean absolute error."""
    board = _board_rows(table)
    out = {}
    for name, rows in board.groupby("estimator", sort=False):
        abs_error = rows["error"].abs()
        coverage_rows = table[(table["estimator"] == name) & (table["sweep"] == "board")]
        out[name] = {
            **{atom: abs_error[rows["atom"] == atom].mean() for atom in ATOMS},
            "mean": abs_error.mean(),
            "worst": abs_error.max(),
            "within": (abs_error <= 0.1).mean(),
            "coverage": coverage_rows["covered"].mean() if pid_estimator(name).has_intervals else np.nan,
            "seconds": rows.drop_duplicates(["setting", "seed"])["seconds"].median(),
        }
    return pd.DataFrame(out).T.sort_values("mean")


def sweep_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Per sweep, value and estimator: the mean over seeds 0-4 of each call's worst absolute atom error."""
    rows = table[(table["sweep"] != "board") & table["seed"].isin(ERROR_SEEDS)]
    worst = _worst_atom(rows).rename("worst").reset_index()
    meta = rows.drop_duplicates("setting").set_index("setting")[["sweep", "value"]]
    worst = worst.join(meta, on="setting")
    return worst.groupby(["sweep", "value", "estimator"], sort=False)["worst"].mean().reset_index()


def same_data() -> dict[str, list[str]]:
    """Each setting that names its data (the first setting with it), with the later settings that have the
    same data (the sweeps' defaults are `bimodal()`)."""
    first: dict[tuple[str, int], str] = {}
    aliases: dict[str, list[str]] = {}
    for setting in board_settings():
        name = first.setdefault(setting.data, setting.name)
        aliases.setdefault(name, [])
        if name != setting.name:
            aliases[name].append(setting.name)
    return aliases


def holds(table: pd.DataFrame, estimator: str = "representation_pid") -> pd.DataFrame:
    """Per distinct data at N >= 6,000 (named by its first setting; `same_data`: the other settings with it),
    for an estimator with intervals: its largest absolute error over seeds 0-19 and atoms, its lowest
    coverage of an atom over those seeds, and whether both bars hold (<= 0.1 bit, >= 90%)."""
    aliases = same_data()
    rows = table[(table["estimator"] == estimator) & (table["n_samples"] >= REFERENCE_SIZE)]
    rows = rows[rows["setting"].isin(aliases)]
    out = {}
    for setting, part in rows.groupby("setting", sort=False):
        coverage = part.groupby("atom", sort=False)["covered"].mean()
        out[setting] = {
            "same_data": aliases[setting],
            "n_samples": int(part["n_samples"].iloc[0]),
            "seeds": part["seed"].nunique(),
            "worst": part["error"].abs().max(),
            "worst_atom": part.loc[part["error"].abs().idxmax(), "atom"],
            "mean_error": part.groupby("atom", sort=False)["error"].mean().to_dict(),
            "coverage": coverage.min(),
            "least_covered": coverage.idxmin(),
        }
    frame = pd.DataFrame(out).T
    frame["holds"] = (frame["worst"] <= 0.1) & (frame["coverage"] >= 0.9)
    return frame


def leaderboard_markdown(table: pd.DataFrame) -> str:
    """The side-by-side report: the board, each setting, the sweeps and where our estimator holds."""
    names = list(dict.fromkeys(table["estimator"]))
    if not names:
        return "\n".join(["# PID estimators side by side", "", *_notes(table)])
    summary = summary_rows(table)
    board = _board_rows(table)
    lines = [
        "# PID estimators side by side",
        "",
        "Every registered PID estimator (`estimators.registry`) on raw observations of factor generators",
        "whose exact PID is known (`FactorGenerator.observed_atoms`): modality 1 against the other",
        "modalities, the `all` label, bits. Regenerate: `interactions estimators`, which computes what its",
        f"cache (`reports/estimators/leaderboard.json`, {table.attrs.get('calls', 0):,} calls) lacks;",
        "settings with the same data share their calls. Seconds: one call on one thread, two calls at a",
        "time on 2 cores.",
        "",
        "| estimator | what it is | source |",
        "|---|---|---|",
        *(
            f"| `{n}` | {_cell(pid_estimator(n).description)} | {_cell(pid_estimator(n).source)} |"
            for n in names
        ),
        "",
        f"## The board: {board['setting'].nunique()} settings at N = {REFERENCE_SIZE:,}, "
        f"seeds {_span(ERROR_SEEDS)}",
        "",
        "Mean absolute error per atom (bits) over settings and seeds; ranked by the mean over all atoms.",
        "Coverage: share of 95% intervals that contain the truth, over seeds "
        f"{_span(COVERAGE_SEEDS)} (estimators that give intervals).",
        "",
        "| estimator | " + " | ".join(ATOMS) + " | mean | worst | atoms within 0.1 bit | 95% coverage | "
        "seconds per call (median) |",
        "|---|" + "---|" * (len(ATOMS) + 5),
    ]
    for name, row in summary.iterrows():
        coverage = "no interval" if np.isnan(row["coverage"]) else f"{100 * row['coverage']:.0f}%"
        lines.append(
            f"| `{name}` | "
            + " | ".join(f"{row[a]:.3f}" for a in ATOMS)
            + f" | **{row['mean']:.3f}** | {row['worst']:.3f} | {100 * row['within']:.0f}% | {coverage} | "
            f"{row['seconds']:.1f} |"
        )
    lines += [
        "",
        "## Per setting",
        "",
        "Mean signed error (estimate - truth, bits) over seeds 0-4, as R / U1 / U2 / S; ✗ where an atom's",
        "mean error exceeds 0.1 bit.",
        "",
        "| setting | what it probes | truth | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    descriptions = {s.name: s.description for s in board_settings()}
    for setting, rows in board.groupby("setting", sort=False):
        truth = rows.drop_duplicates("atom").set_index("atom")["truth"]
        cells = []
        for name in names:
            mean = rows[rows["estimator"] == name].groupby("atom")["error"].mean()
            cells.append(
                " / ".join(f"{mean[a]:+.2f}" for a in ATOMS) + (" ✗" if (mean.abs() > 0.1).any() else "")
            )
        lines.append(
            f"| {setting} | {descriptions[setting]} | "
            + " / ".join(f"{truth[a]:.2f}" for a in ATOMS)
            + " | "
            + " | ".join(cells)
            + " |"
        )
    curves = sweep_curves(table)
    lines += [
        "",
        "## Error against N and against the data's difficulty",
        "",
        "`bimodal()` (about 0.96 bit of each atom), N = 6,000 unless N varies. Each cell: the mean over",
        "seeds 0-4 of a call's largest absolute atom error (bits); figure: `estimators/sweeps.png`.",
    ]
    for sweep, (label, values) in SWEEPS.items():
        part = curves[curves["sweep"] == sweep].pivot(index="estimator", columns="value", values="worst")
        lines += [
            "",
            f"### {label}",
            "",
            "| estimator | " + " | ".join(f"{v:,}" for v in values) + " |",
            "|---|" + "---|" * len(values),
        ]
        for name in names:
            cells = [
                f"{part.loc[name, v]:.3f}"
                if name in part.index and not np.isnan(part.loc[name, v])
                else "not run"
                for v in values
            ]
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "![error against N and difficulty](estimators/sweeps.png)", ""]
    for name in names:
        if not pid_estimator(name).has_intervals:
            continue
        held = holds(table, name)
        lines += [
            f"## Where `{name}` holds: every setting at N >= {REFERENCE_SIZE:,}, "
            f"seeds {_span(COVERAGE_SEEDS)}",
            "",
            "Bars: every atom within 0.1 bit of the truth at every seed, and each atom's 95% interval",
            "covering the truth at >= 90% of the seeds.",
            "",
            "| setting | N | largest abs. error (atom) | mean error R / U1 / U2 / S | lowest coverage (atom) "
            "| holds |",
            "|---|---|---|---|---|---|",
        ]
        for setting, row in held.iterrows():
            label = setting + (f" (= {', '.join(row['same_data'])})" if row["same_data"] else "")
            lines.append(
                f"| {label} | {row['n_samples']:,} | {row['worst']:.3f} ({row['worst_atom']}) | "
                + " / ".join(f"{row['mean_error'][a]:+.3f}" for a in ATOMS)
                + f" | {100 * row['coverage']:.0f}% ({row['least_covered']}) | "
                + ("yes |" if row["holds"] else "**no** |")
            )
        misses = held[~held["holds"]]
        lines += [
            "",
            f"It holds on {int(held['holds'].sum())} of {len(held)} distinct data"
            + (": not on " + ", ".join(misses.index) + "." if len(misses) else "."),
            "",
        ]
    return "\n".join(lines + _notes(table))


def _notes(table: pd.DataFrame) -> list[str]:
    """What the table lacks: calls of other code, missing calls."""
    notes = []
    if table.attrs.get("stale"):
        notes += [
            f"**Computed by other code:** {', '.join(table.attrs['stale'])}; `interactions estimators "
            "--stale recompute` remakes them.",
            "",
        ]
    if table.attrs.get("missing"):
        notes += [
            f"**Missing:** {len(table.attrs['missing'])} calls; `interactions estimators` computes them.",
            "",
        ]
    return notes


def plot_sweeps(table: pd.DataFrame, path: Path) -> None:
    """One panel per sweep: each estimator's typical worst atom error against the sweep's value."""
    curves = sweep_curves(table)
    fig, axes = plt.subplots(1, len(SWEEPS), figsize=(4 * len(SWEEPS), 3.8), sharey=True)
    for ax, (sweep, (label, values)) in zip(axes, SWEEPS.items(), strict=True):
        for name, rows in curves[curves["sweep"] == sweep].groupby("estimator", sort=False):
            ax.plot(rows["value"], rows["worst"], "o-", label=name)
        ax.axhline(0.1, color="grey", ls=":", lw=1)
        if sweep in ("samples", "dim"):
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(values, [f"{v:,}" for v in values], fontsize=8)
        ax.set(xlabel=label)
    axes[0].set(ylabel="largest |error| over atoms (bits)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_estimator_reports(
    board: pd.DataFrame, presence: pd.DataFrame, usable: pd.DataFrame, reports: Path
) -> Path:
    """`reports/estimators.md`: the side-by-side board first, then the validation of our estimator and of
    the usable PID; with the figures `estimators/sweeps.png` and `estimators.png`."""
    (reports / "estimators").mkdir(parents=True, exist_ok=True)
    text = "\n".join(
        [
            leaderboard_markdown(board),
            validation_markdown(presence).replace("# ", "## ", 1),
            usable_validation_markdown(usable).replace("# ", "## ", 1),
        ]
    )
    atomic_write(reports / "estimators.md", lambda p: p.write_text(text))
    atomic_write(reports / "estimators" / "sweeps.png", lambda p: plot_sweeps(board, p))
    atomic_write(reports / "estimators.png", lambda p: plot_validation(presence, p))
    return reports / "estimators.md"


def run_estimator_reports(
    reports: Path,
    executor: Executor | None = None,
    estimators: Sequence[str] | None = None,
    stale: str = "keep",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Compute what the board and the validation lack (cached in `reports`), write the estimator report, and
    return the three tables (board, validation, usable-PID validation)."""
    board = run_board(estimators, reports / "estimators" / "leaderboard.json", executor, stale)
    presence = run_validation(validation_cases(), reports / "estimators.json", executor)
    usable = run_validation(
        usable_validation_cases(), reports / "estimators_usable.json", executor, validate_usable_case
    )
    write_estimator_reports(board, presence, usable, reports)
    return board, presence, usable
