"""Tidy score tables from the store: one row per score, with chance, Bayes ceiling, gain over initialisation,
exact truth and provenance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from estimators.representation_pid import ATOMS
from interactions.grid import truth_table
from interactions.scoring import ARMS, SCORING_VERSION
from interactions.store import ResultsStore

INFO_TASKS = ("redundancy", "unique1", "unique2", "unique3", "synergy")
# Score rows of PID atoms, by probe name: what the representations hold, and what linear readouts can use.
PID_PROBES = {
    "pid": "PID of the per-modality representations",
    "usable_pid": "usable-information PID of linear readouts",
}
RANDOM_ARM = {"fused": "random_fused", "encoders": "random_encoders"}
ATOM_SHORT = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "synergy": "S"}


def objective_order(objectives: list[str]) -> list[str]:
    """The grid's arms in their order, then any other objective alphabetically."""
    known = [a for a in ARMS if a in objectives]
    return known + sorted(set(objectives) - set(known))


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


def tidy_export(scores: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """scores.parquet: one row per (run, checkpoint, task, probe, metric), i.e. per run, checkpoint, task,
    probe and atom for the PID rows (`epoch` empty: the final scores; `atom` and `kind` split a PID metric
    such as `synergy_corrected`), with chance, Bayes ceiling, gain over initialisation, the exact truth in
    bits for PID atoms (`truth_bits`), the run's configuration (`config`, JSON) and where the run came from:
    run id, package version, git commit (12 hex digits), code fingerprint, torch / numpy / Python versions
    and the torch thread count."""
    meta = current[["objective", "generator", "seed", "run_id", "config", "meta"]].copy()
    parsed = meta.pop("meta").map(lambda text: json.loads(text) if text else {})
    meta["package"] = parsed.map(lambda m: m.get("package"))
    meta["commit"] = parsed.map(lambda m: (m.get("commit") or "")[:12] or None)  # git's short form
    meta["code"] = parsed.map(lambda m: m.get("code"))
    for library in ("torch", "numpy", "python"):
        meta[library] = parsed.map(lambda m, key=library: m.get(key))
    meta["torch_threads"] = parsed.map(lambda m: (m.get("threads") or {}).get("torch"))
    truth = pd.DataFrame(truth_table(sorted(scores["generator"].unique())))
    atoms = truth.melt(id_vars=["generator", "task"], value_vars=list(ATOMS), var_name="atom",
                       value_name="truth_bits")  # fmt: skip
    is_atom = scores["probe"].isin(PID_PROBES) & scores["metric"].str.startswith(ATOMS)
    parts = scores["metric"].str.rsplit("_", n=1)
    export = scores.assign(atom=parts.str[0].where(is_atom), kind=parts.str[1].where(is_atom))
    truth_rows = (export["probe"] == "pid").to_numpy()
    export = export.merge(atoms, on=["generator", "task", "atom"], how="left")
    export.loc[~truth_rows, "truth_bits"] = np.nan  # the usable PID's ceiling is not the data's atom
    export = export.merge(meta, on=["objective", "generator", "seed"], how="left")
    first = [
        "run_id",
        "generator",
        "objective",
        "seed",
        "epoch",
        "task",
        "probe",
        "metric",
        "atom",
        "kind",
        "value",
    ]
    return export[first + [c for c in export.columns if c not in first]].reset_index(drop=True)
