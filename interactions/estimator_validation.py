"""Estimator validation: the PID of representations applied to raw observations, whose exact PID is known.

Each setting is a factor generator; its samples are passed to `representation_pid` exactly as the grid
passes representations (modality 1 against the other modalities, the `all` label), and every atom is
compared with `FactorGenerator.observed_atoms()`. Results are cached in a JSON file under the fingerprint
of the generators and of the validated estimator's modules (`validation_fingerprint`), so a rerun recomputes
only when that estimator or the generators change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from estimators.probes import LinearProbe, Probe, _mean_neg_log2
from estimators.representation_pid import ATOMS, RepresentationPID, representation_pid
from estimators.usable_pid import Representations, usable_pid
from generators import bimodal, generator_preset
from generators.factors import FactorGenerator
from interactions.executor import Executor, SerialExecutor, WorkerLost, guard_main
from interactions.fingerprint import source_fingerprint
from interactions.report import atomic_write

# The estimator each validation's rows depend on, besides the generators (`validation_fingerprint`).
_VALIDATED_MODULES = {
    "validate_case": "estimators.representation_pid",
    "validate_usable_case": "estimators.usable_pid",
}


def _preset(name: str) -> Callable[[], FactorGenerator]:
    return lambda: generator_preset(name).build()


# Every vector generator preset, then settings a hidden test might use (name: (generator, what it probes)).
SETTINGS: dict[str, tuple[Callable[[], FactorGenerator], str]] = {
    "bimodal_1bit": (_preset("bimodal_1bit"), "preset: 1 bit of each atom"),
    "synergy_heavy": (_preset("synergy_heavy"), "preset: sum mod 4, no uniqueness"),
    "biased_synergy": (_preset("biased_synergy"), "preset: matching label 1[s2 = pi(s1)]"),
    "trimodal": (_preset("trimodal"), "preset: 3 modalities (modality 1 vs the other two)"),
    "narrow_nuisance": (_preset("narrow_nuisance"), "preset: 24 loud nuisance dimensions"),
    "three_classes": (
        lambda: bimodal(redundancy=3, unique1=1, unique2=1, synergy=3),
        "K = 3 (redundancy and sum-mod-3 synergy; 9 labels)",
    ),
    "pure_redundancy": (lambda: bimodal(unique1=1, unique2=1, synergy=1), "zero-truth U and S"),
    "pure_synergy": (lambda: bimodal(redundancy=1, unique1=1, unique2=1), "zero-truth R and U"),
    "absent_unique2": (lambda: bimodal(unique2=1), "one unique factor absent"),
    "mlp_mixing": (lambda: bimodal(mixing="mlp"), "nonlinear (2-layer leaky-ReLU) mixing"),
    "large_noise": (lambda: bimodal(noise=0.6), "noise 0.6: about half a bit per factor"),
}
SIZES = (2000, 6000, 20000)
# The acceptance settings, each at N = 6,000 over seeds 0-19: does the 95% interval contain the truth?
COVERAGE_SETTINGS = ("bimodal_1bit", "mlp_mixing", "trimodal", "synergy_heavy")
COVERAGE_SEEDS = tuple(range(20))
COVERAGE_SIZE = 6000


@dataclass(frozen=True)
class ValidationCase:
    """One estimate: a setting, a sample size and a seed (the sample's and the estimator's)."""

    setting: str
    n_samples: int
    seed: int = 0


def validation_cases() -> list[ValidationCase]:
    """Every setting at every size (seed 0), then the coverage settings at `COVERAGE_SIZE` over the other
    `COVERAGE_SEEDS`."""
    cases = [ValidationCase(setting, n) for setting in SETTINGS for n in SIZES]
    return cases + [
        ValidationCase(setting, COVERAGE_SIZE, seed)
        for setting in COVERAGE_SETTINGS
        for seed in COVERAGE_SEEDS
        if ValidationCase(setting, COVERAGE_SIZE, seed) not in cases
    ]


def validate_case(case: ValidationCase) -> list[dict]:
    """The estimate of every atom of one case next to its exact value (bits), with the call's seconds."""
    generator = SETTINGS[case.setting][0]()
    truth = generator.observed_atoms()
    sample = generator.sample(case.n_samples, seed=case.seed, split="val")
    rest = np.concatenate(sample.modalities[1:], axis=1)
    started = time.perf_counter()
    result = representation_pid(
        sample.modalities[0], rest, sample.labels[generator.joint_task], seed=case.seed
    )
    return _estimate_rows(case, truth, result, time.perf_counter() - started)


# The usable PID (`estimators.usable_pid`) against its closed-form truth: linear readouts of the raw
# observations of every linear-mixing setting, fitted on the quick grid's 2,000 probe-training rows and on
# 6,000; a joint representation that linearises the synergy label; and an MLP readout, which reaches the
# Bayes readouts' atoms where it learns the Bayes posteriors.
USABLE_SETTINGS = tuple(s for s in SETTINGS if s != "mlp_mixing")
USABLE_TRAIN_SIZES = (2000, 6000)
USABLE_EVAL_SIZE = 6000
USABLE_FEATURE_SETTINGS = ("bimodal_1bit", "biased_synergy", "synergy_heavy", "three_classes")
USABLE_MLP_SETTINGS = ("bimodal_1bit", "synergy_heavy")


@dataclass(frozen=True)
class UsableCase:
    """One usable-PID estimate: a setting, the readouts' training size, the readout family and whether the
    joint representation also holds the synergy label one-hot (`synergy_feature`)."""

    setting: str
    n_train: int
    readout: str = "linear"
    synergy_feature: bool = False
    seed: int = 0


def usable_validation_cases() -> list[UsableCase]:
    """Every linear-mixing setting at both training sizes, the synergy-feature check at 6,000 training rows,
    and the MLP readout at 6,000."""
    return (
        [UsableCase(s, n) for s in USABLE_SETTINGS for n in USABLE_TRAIN_SIZES]
        + [UsableCase(s, 6000, synergy_feature=True) for s in USABLE_FEATURE_SETTINGS]
        + [UsableCase(s, 6000, readout="mlp") for s in USABLE_MLP_SETTINGS]
    )


def validate_usable_case(case: UsableCase) -> list[dict]:
    """The usable PID of one case next to its exact value (`FactorGenerator.usable_atoms`: of linear
    readouts, or for the MLP readout of readouts that learn the Bayes posteriors)."""
    generator = SETTINGS[case.setting][0]()
    truth = generator.usable_atoms(linear=case.readout == "linear", synergy_feature=case.synergy_feature)

    def representations(n: int, split: str) -> Representations:
        sample = generator.sample(n, seed=case.seed, split=split)
        rest = np.concatenate(sample.modalities[1:], axis=1)
        joint = None
        if case.synergy_feature:
            label = sample.labels["synergy"]
            one_hot = np.eye(generator.truth("synergy").n_classes)[label]
            joint = np.concatenate([sample.modalities[0], rest, one_hot], axis=1)
        return Representations(sample.modalities[0], rest, sample.labels[generator.joint_task], joint)

    train, test = representations(case.n_train, "train"), representations(USABLE_EVAL_SIZE, "val")
    started = time.perf_counter()
    result = usable_pid(train, test, readout=case.readout, seed=case.seed)  # on one thread, as in a grid run
    return _estimate_rows(case, truth, result, time.perf_counter() - started)


def _estimate_rows(
    case: ValidationCase | UsableCase, truth: dict[str, float], result: RepresentationPID, seconds: float
) -> list[dict]:
    """One row per atom: the case, the exact value, the estimate with its interval, the codes and seconds."""
    return [
        {
            **asdict(case),
            "atom": atom,
            "truth": truth[atom],
            "estimate": estimate.corrected,
            "raw": estimate.raw,
            "low": estimate.low,
            "high": estimate.high,
            "codes": f"{result.n_clusters[0]}x{result.n_clusters[1]}",
            "loss_bits": result.discretization_loss_bits,
            "seconds": seconds,
        }
        for atom, estimate in result.atoms.items()
    ]


def validation_fingerprint(validate: Callable[..., list[dict]]) -> str:
    """The code a validation's rows depend on: the generators and the validated estimator's modules (with
    what they import), so that editing another estimator leaves its cache current."""
    return source_fingerprint(("generators", _VALIDATED_MODULES[validate.__name__]))


def run_validation(
    cases: Sequence[ValidationCase | UsableCase],
    cache: Path,
    executor: Executor | None = None,
    validate: Callable[..., list[dict]] = validate_case,
) -> pd.DataFrame:
    """Rows of every case (`validate(case)`: `validate_case` or `validate_usable_case`): read from `cache`
    where it holds them under this code, computed (and cached, atomically) otherwise. A case whose worker
    died is left out of the cache (retried next time) and listed with its reason in the table's
    `attrs["failed"]`; the others go on."""
    guard_main("the estimator validation")
    fingerprint = validation_fingerprint(validate)
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    rows = stored.get("rows", []) if stored.get("code") == fingerprint else []
    key_fields = [f.name for f in fields(cases[0])] if cases else []

    def _key(row: dict) -> tuple:
        return tuple(row[f] for f in key_fields)

    done = {_key(r) for r in rows}
    missing = [c for c in cases if _key(asdict(c)) not in done]
    failed = []
    for index, case_rows in (executor or SerialExecutor()).map_unordered(validate, missing):
        if isinstance(case_rows, WorkerLost):
            failed.append(f"{missing[index]}: {case_rows.reason}")
            continue
        rows += case_rows
        payload = json.dumps({"code": fingerprint, "rows": rows}, indent=1)
        atomic_write(cache, lambda p, text=payload: p.write_text(text))
    wanted = {_key(asdict(c)) for c in cases}
    kept = [r for r in rows if _key(r) in wanted]
    # When every case failed the table keeps its columns, and `attrs["failed"]` says why.
    empty = [*key_fields, "atom", "truth", "estimate", "low", "high"]
    table = pd.DataFrame(kept) if kept else pd.DataFrame(columns=empty)
    table["error"] = table["estimate"] - table["truth"]
    table["covered"] = (table["low"] <= table["truth"]) & (table["truth"] <= table["high"])
    table = table.sort_values([*key_fields, "atom"], key=_atom_order).reset_index(drop=True)
    table.attrs["failed"] = failed
    return table


def _atom_order(column: pd.Series) -> pd.Series:
    return column.map(ATOMS.index) if column.name == "atom" else column


def validation_markdown(table: pd.DataFrame, reference_size: int = 6000) -> str:
    """The validation report: per setting, truth and estimate of each atom at `reference_size` (seed 0), the
    error at every size, interval coverage over seeds, and the worst errors."""
    coverage = table[table["seed"] != 0]
    table = table[table["seed"] == 0]
    ref = table[table["n_samples"] == reference_size]
    lines = [
        "# Validation of the PID of representations",
        "",
        "`representation_pid` (defaults: label cells or KL k-means codes, whichever keeps I(C1, C2; Y) with",
        "the smaller table; bootstrap bias, 20 bootstrap replicates) on raw observations, against the exact",
        "PID of those observations (`FactorGenerator.observed_atoms`). Bits; modality 1 against the other",
        "modalities, `all` label; seed 0 unless the table says otherwise. The 95% interval is the",
        "bootstrap's normal interval widened on both sides by the estimated discretisation loss (`loss`: the",
        "most information about the label a probe sees in Z1, Z2 or the pair that the codes do not keep).",
        f"Code fingerprint (generators + the estimator's modules) `{validation_fingerprint(validate_case)}`.",
        "",
        f"## Estimate vs truth at N = {reference_size:,}",
        "",
        "| setting | what it probes | "
        + " | ".join(f"{a} (true / est. [95% interval])" for a in ATOMS)
        + " | codes | loss | seconds |",
        "|---|---|" + "---|" * (len(ATOMS) + 3),
    ]
    for setting, rows in ref.groupby("setting", sort=False):
        first = rows.iloc[0]
        lines.append(
            f"| {setting} | {SETTINGS[setting][1]} | {_truth_cells(rows)}"
            f" | {first.codes} | {first.loss_bits:.3f} | {first.seconds:.1f} |"
        )
    lines += [
        "",
        "✗: the interval misses the truth.",
        "",
        "## Error (estimate - truth) against N",
        "",
        "| setting | N | " + " | ".join(ATOMS) + " | max abs. error |",
        "|---|---|" + "---|" * (len(ATOMS) + 1),
    ]
    for (setting, n), rows in table.groupby(["setting", "n_samples"], sort=False):
        errors = rows["error"].to_numpy()
        lines.append(
            f"| {setting} | {n:,} | "
            + " | ".join(f"{e:+.3f}" for e in errors)
            + f" | {np.abs(errors).max():.3f} |"
        )
    if len(coverage):
        seeds = pd.concat([ref[ref["setting"].isin(coverage["setting"].unique())], coverage])
        lines += [
            "",
            f"## Coverage over seeds at N = {reference_size:,}",
            "",
            "Per atom: intervals containing the truth / seeds, mean error, largest absolute error, mean",
            "interval half-width (bits). Seeds " + ", ".join(map(str, sorted(seeds["seed"].unique()))) + ".",
            "",
            "| setting | " + " | ".join(ATOMS) + " | mean loss | mean seconds |",
            "|---|" + "---|" * (len(ATOMS) + 2),
        ]
        for setting, rows in seeds.groupby("setting", sort=False):
            per_atom = rows.groupby("atom", sort=False)
            cells = [
                f"{int(part['covered'].sum())}/{len(part)}, {part['error'].mean():+.3f}, "
                f"{part['error'].abs().max():.3f}, ±{((part['high'] - part['low']) / 2).mean():.3f}"
                for _, part in per_atom
            ]
            lines.append(
                f"| {setting} | " + " | ".join(cells) + f" | {rows['loss_bits'].mean():.3f} | "
                f"{rows['seconds'].mean():.1f} |"
            )
    within = (ref["error"].abs() <= 0.1).mean()
    lines += [
        "",
        "## In one line",
        "",
        f"At N = {reference_size:,}: {100 * within:.0f}% of atoms within 0.1 bit of the truth, "
        f"mean absolute error {ref['error'].abs().mean():.3f} bit, worst "
        + ", ".join(
            f"{r.setting} {r.atom} {r.error:+.3f}"
            for r in ref.reindex(ref["error"].abs().sort_values(ascending=False).index).head(3).itertuples()
        )
        + f"; interval coverage {100 * ref['covered'].mean():.0f}% of atoms.",
        "",
    ]
    if table.attrs.get("failed"):
        lines += ["**Failed cases** (worker died):", ""] + [f"- {f}" for f in table.attrs["failed"]] + [""]
    return "\n".join(lines)


def usable_validation_markdown(table: pd.DataFrame) -> str:
    """The usable PID's section of the validation report: every case's atoms against their exact values."""
    lines = [
        "# Validation of the usable-information PID",
        "",
        "`usable_pid` (`estimators/usable_pid.py`): readouts fitted on `train rows` (the quick grid",
        f"fits on 2,000), scored on {USABLE_EVAL_SIZE:,} held-out rows; R, U1, U2 are the BROJA atoms of",
        "codes of the two modality-wise readouts' posteriors, S what a readout of the joint representation",
        "uses beyond a late fusion of the modality-wise readouts. Truth: `FactorGenerator.usable_atoms`. For",
        "linear readouts every redundant and unique bit is usable and none of the synergy label, which has",
        "the same mean under every class (`+ synergy one-hot`: the joint representation also holds the",
        "synergy label, so its whole entropy becomes usable synergy); for the MLP readout, the atoms of",
        "readouts that learn the Bayes posteriors (S: all the synergy label's bits). Bits, seed 0, modality",
        "1 against the other modalities, `all` label.",
        "",
        "| setting | readout | train rows | "
        + " | ".join(f"{a} (true / est. [95% interval])" for a in ATOMS)
        + " | max abs. error | codes | seconds |",
        "|---|---|---|" + "---|" * (len(ATOMS) + 3),
    ]
    for (setting, n_train, readout, feature), rows in table.groupby(
        ["setting", "n_train", "readout", "synergy_feature"], sort=False
    ):
        first = rows.iloc[0]
        lines.append(
            f"| {setting} | {readout}{' + synergy one-hot' if feature else ''} | {n_train:,} | "
            f"{_truth_cells(rows)} | {rows['error'].abs().max():.3f} | {first.codes} | {first.seconds:.1f} |"
        )
    lines += ["", "✗: the interval misses the truth.", "", "## In one line", ""]
    for n_train in USABLE_TRAIN_SIZES:
        linear = (table["readout"] == "linear") & ~table["synergy_feature"]
        plain = table[linear & (table["n_train"] == n_train)]
        if plain.empty:
            continue
        worst = plain.loc[plain["error"].abs().idxmax()]
        lines.append(
            f"- Linear readouts fitted on {n_train:,} rows: "
            f"{100 * (plain['error'].abs() <= 0.1).mean():.0f}% of atoms within 0.1 bit, mean absolute error "
            f"{plain['error'].abs().mean():.3f} bit, worst {worst.setting} {worst.atom} {worst.error:+.3f}; "
            f"interval coverage {100 * plain['covered'].mean():.0f}%."
        )
    for label, part in (
        ("synergy one-hot", table[table["synergy_feature"]]),
        ("MLP readout", table[table["readout"] == "mlp"]),
    ):
        if not part.empty:
            lines.append(f"- {label}: largest absolute error {part['error'].abs().max():.3f} bit.")
    if table.attrs.get("failed"):
        lines += ["", "**Failed cases** (worker died):", ""] + [f"- {f}" for f in table.attrs["failed"]]
    return "\n".join(lines) + "\n"


def _truth_cells(rows: pd.DataFrame) -> str:
    """One case's atoms as table cells: truth / estimate [interval], ✗ where the interval misses."""
    return " | ".join(
        f"{r.truth:.3f} / {r.estimate:.3f} [{r.low:.2f}, {r.high:.2f}]" + ("" if r.covered else " ✗")
        for r in rows.itertuples()
    )


def plot_validation(table: pd.DataFrame, path: Path) -> None:
    """Estimated vs true atoms (y = x) at each N, and the absolute error against N per setting."""
    table = table[table["seed"] == 0]
    fig, (scatter, curve) = plt.subplots(1, 2, figsize=(11, 4.8))
    markers = dict(zip(ATOMS, "os^D", strict=True))
    for n, rows in table.groupby("n_samples"):
        for atom, part in rows.groupby("atom"):
            scatter.errorbar(
                part["truth"],
                part["estimate"],
                yerr=[
                    (part["estimate"] - part["low"]).clip(lower=0),
                    (part["high"] - part["estimate"]).clip(lower=0),
                ],
                fmt=markers[atom],
                ms=4,
                alpha=0.7,
                label=f"{atom}, N={n:,}",
            )
    top = max(table["truth"].max(), table["estimate"].max()) + 0.1
    scatter.plot([0, top], [0, top], "k--", lw=1, label="y = x")
    scatter.set(xlabel="exact atom (bits)", ylabel="estimated atom (bits)", title="Estimate vs truth")
    scatter.legend(fontsize=6, ncol=2)
    worst = table.assign(abs_error=table["error"].abs()).groupby(["setting", "n_samples"])["abs_error"].max()
    for setting, series in worst.groupby(level=0):
        curve.plot(series.index.get_level_values(1), series.to_numpy(), "o-", label=setting)
    curve.axhline(0.1, color="grey", ls=":", label="0.1 bit")
    curve.set(xscale="log", xlabel="N (samples)", ylabel="max |error| over atoms (bits)", title="Error vs N")
    curve.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class SklearnLinearProbe(Probe):
    """The linear probe as scikit-learn fits it: `StandardScaler` + `LogisticRegression` (lbfgs, the same
    penalty), C chosen on the same stratified split by validation cross-entropy, then refit on all the data.
    The library reference `estimators.probes.LinearProbe` is tested and benchmarked against; with
    `max_iter=1000` it is the probe this suite used up to December 2026."""

    kind = "linear"

    def __init__(
        self,
        Cs: tuple[float, ...] = LinearProbe().Cs,
        val_fraction: float = 0.2,
        seed: int = 0,
        max_iter: int = 1000,
    ) -> None:
        super().__init__(val_fraction, seed)
        self.Cs, self.max_iter = tuple(Cs), max_iter

    def _n_candidates(self) -> int:
        return len(self.Cs)

    def _candidate(self, c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=self.max_iter))

    def _validation_bits(self, x_fit, y_fit, x_val, y_val) -> list[float]:
        fitted = [self._candidate(c).fit(x_fit, y_fit) for c in self.Cs]
        return [_mean_neg_log2(m.predict_proba(x_val), m.classes_, y_val) for m in fitted]

    def _refit(self, x: np.ndarray, y: np.ndarray, best: int):
        self.C_ = self.Cs[best]
        return self._candidate(self.C_).fit(x, y)
