"""Summaries over seeds: mean, standard deviation and 95% Student-t intervals, paired differences."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats


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


def mean_std_text(values: pd.Series, scale: float = 100, digits: int = 1) -> str:
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


def difference_text(row: pd.Series | None, scale: float = 100, digits: int = 1) -> str:
    if row is None:
        return "–"
    f = f"+.{digits}f"
    if row["n"] == 1:
        return f"{scale * row['mean']:{f}}"
    mark = " *" if row["low"] > 0 or row["high"] < 0 else ""
    return f"{scale * row['mean']:{f}} [{scale * row['low']:{f}}, {scale * row['high']:{f}}]{mark}"
