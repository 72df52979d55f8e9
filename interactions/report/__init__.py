"""Reports from the results store alone (no retraining): scores.parquet (tidy scores), summary.md, the
figures (PNG and PDF) and index.html (the results as one self-contained page). The modules: `tidy` (score
tables), `seeds` (intervals over seeds), `markdown` (summary.md), `figures`, `html` (index.html, from the
template, styles and script in `assets/`), `files` (where reports go, atomic writes)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from interactions.fingerprint import code_fingerprint
from interactions.report.figures import (
    FIGURE_PREFIXES,
    plot_cost,
    plot_dynamics,
    plot_fingerprint,
    plot_pid,
    save_figure,
)
from interactions.report.files import atomic_write, check_reports_dir, reports_dir
from interactions.report.html import page, run_rows, score_rows
from interactions.report.markdown import load_validation, summary_markdown
from interactions.report.seeds import SeedSummary, paired_differences, seed_summary
from interactions.report.tidy import INFO_TASKS, PID_PROBES, RANDOM_ARM, tidy_export, tidy_scores
from interactions.scoring import SCORING_VERSION
from interactions.store import ResultsStore

__all__ = [
    "INFO_TASKS",
    "PID_PROBES",
    "RANDOM_ARM",
    "SeedSummary",
    "atomic_write",
    "check_reports_dir",
    "paired_differences",
    "reports_dir",
    "seed_summary",
    "summary_markdown",
    "tidy_export",
    "tidy_scores",
    "write_reports",
]


REPORT_MANIFEST = ".report.json"  # digest of what the reports show, and the files drawn from it


def write_reports(store: ResultsStore, out_dir: str | Path) -> dict[str, Path]:
    """Regenerate scores.parquet, summary.md, the figures (PNG and PDF) and index.html in `out_dir` from the
    store, with atomic file writes; a report figure this regeneration did not draw (an old name, a generator
    no longer in the store) is removed. A store with no finished run at this scoring version is an error.

    The files are redrawn only when what they show changed: `out_dir/.report.json` records a digest of the
    inputs (scores, runs, estimator validation, code fingerprint, this package's source and assets,
    matplotlib's version) and the files written from them; when the digest matches and every file is there,
    they stay."""
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
    package = Path(__file__).parent
    for module in sorted([*package.glob("*.py"), *package.glob("assets/*")]):  # what draws the reports
        digest.update(module.read_bytes())
    return digest.hexdigest()


def _draw_reports(
    scores: pd.DataFrame, runs: pd.DataFrame, current: pd.DataFrame, validation: dict | None, out: Path
) -> dict[str, Path]:
    paths = {"scores": out / "scores.parquet", "summary": out / "summary.md", "page": out / "index.html"}
    export = tidy_export(scores, current)
    atomic_write(paths["scores"], lambda p: export.to_parquet(p, index=False))
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
            atomic_write(paths[f"{name}{suffix}"], lambda p, fig=fig: save_figure(fig, p))
        plt.close(fig)
    drawn = {name: (paths[f"{name}.png"], paths[f"{name}.pdf"]) for name in figures if f"{name}.png" in paths}
    text = page(score_rows(export), run_rows(current), drawn)
    atomic_write(paths["page"], lambda p: Path(p).write_text(text))
    return paths
