"""index.html: the results as one self-contained page that opens from disk (no server, no network).

The page holds the headline figure and every report figure (PNG shown, PNG and PDF downloadable, both
embedded), the final scores summarised over seeds as a sortable, filterable table (generator, objective,
probe, atom or task, metric; its filtered rows downloadable as CSV), and the runs with each one's
configuration and environment one click away. Styles and script are inline; the data are embedded JSON."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from interactions.fingerprint import code_fingerprint
from interactions.report.seeds import seed_summary
from interactions.report.tidy import PID_PROBES, objective_order

ASSETS = Path(__file__).parent / "assets"  # the page's template, styles and script
FINAL_METRICS = ("balanced_accuracy", "usable_bits")  # the probe metrics the page summarises


def score_rows(export: pd.DataFrame) -> list[dict]:
    """The final scores over seeds, one row per (generator, objective, probe, atom or task, metric): mean,
    standard deviation, 95% interval, seeds, with chance and Bayes ceiling (probes) or the exact atom
    (PID)."""
    final = export[export["epoch"].isna()]
    probes = final[~final["probe"].isin(PID_PROBES) & final["metric"].isin(FINAL_METRICS)]
    atoms = final[final["probe"].isin(PID_PROBES) & (final["kind"] == "corrected")]
    table = pd.concat([probes.assign(atom=probes["task"]), atoms.assign(metric="bits")])
    keys = ["generator", "objective", "probe", "atom", "metric"]
    order = {name: i for i, name in enumerate(objective_order(list(table["objective"].unique())))}
    rows = []
    for (generator, objective, probe, atom, metric), part in table.groupby(keys, sort=False):
        summary = seed_summary(part["value"])
        first = part.iloc[0]
        rows.append(
            {
                "generator": generator,
                "objective": objective,
                "probe": probe,
                "atom": atom,
                "metric": metric,
                "mean": summary.mean,
                "std": None if summary.n < 2 else summary.std,
                "low": None if summary.n < 2 else summary.low,
                "high": None if summary.n < 2 else summary.high,
                "seeds": summary.n,
                "chance": None if pd.isna(first.get("chance")) or probe in PID_PROBES else first["chance"],
                "bayes": None if pd.isna(first.get("bayes")) or probe in PID_PROBES else first["bayes"],
                "truth_bits": None if pd.isna(first.get("truth_bits")) else first["truth_bits"],
                "_order": order[objective],
            }
        )
    rows.sort(key=lambda r: (r["generator"], r["_order"], r["probe"], r["atom"], r["metric"]))
    for row in rows:
        del row["_order"]
        for key, value in row.items():
            if isinstance(value, float):
                row[key] = round(value, 4)  # the table shows 3 decimals
    return rows


def run_rows(current: pd.DataFrame) -> list[dict]:
    """One row per run the scores come from: its key, status and seconds, configuration and environment."""
    rows = []
    for run in current.sort_values(["generator", "objective", "seed"]).itertuples():
        meta = json.loads(run.meta) if run.meta else {}
        rows.append(
            {
                "generator": run.generator,
                "objective": run.objective,
                "seed": int(run.seed),
                "status": run.status,
                "seconds": None if pd.isna(run.seconds) else round(float(run.seconds), 1),
                "code": meta.get("code"),
                "run_id": run.run_id,
                "config": json.loads(run.config),
                "environment": meta,
            }
        )
    return rows


def _embedded(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _figure(name: str, png: Path, pdf: Path | None, caption: str) -> str:
    """A figure shown from its embedded PNG, with download links (the PNG link takes the image's own data
    when the page loads, so the PNG is embedded once)."""
    links = f'<a class="png" download="{name}.png" href="#">PNG</a>'
    if pdf is not None and pdf.is_file():
        links += f' · <a download="{name}.pdf" href="{_embedded(pdf, "application/pdf")}">PDF</a>'
    return (
        f'<figure id="figure-{name}"><img alt="{html.escape(caption)}" src="{_embedded(png, "image/png")}">'
        f"<figcaption>{html.escape(caption)} — download {links}</figcaption></figure>"
    )


FIGURE_CAPTIONS = {
    "fingerprint": "What each objective's representation gives a linear probe, per information type "
    "(balanced accuracy, 95% seed intervals, chance dotted, Bayes dashed), and the usable-information PID",
    "pid": "PID of the per-modality representations (bits) beside the data's exact atoms",
    "cost": "Cost per run: training and checkpoint scoring",
}


def page(
    scores: list[dict],
    runs: list[dict],
    figures: Mapping[str, tuple[Path, Path | None]],
    title: str = "interactions: benchmark results",
) -> str:
    """The page's HTML from the score rows, run rows and figures (name: (PNG, PDF))."""
    environment = runs[0]["environment"] if runs else {}
    versions = {k: environment.get(k) for k in ("package", "torch", "numpy", "python")}
    commits = sorted({(r["environment"].get("commit") or "")[:12] for r in runs} - {""})
    provenance = (
        f"{len(runs)} runs; shared code fingerprint now <code>{code_fingerprint()}</code>; runs' commits "
        + ", ".join(f"<code>{c}</code>" for c in commits)
        + "; "
        + ", ".join(f"{k} {html.escape(str(v))}" for k, v in versions.items() if v)
    )
    headline = figures.get("fingerprint")
    others = [(n, f) for n, f in figures.items() if n != "fingerprint"]
    caption = {
        n: FIGURE_CAPTIONS.get(n, f"Learning dynamics: {n.removeprefix('dynamics_')}") for n in figures
    }
    data = json.dumps({"scores": scores, "runs": runs}, allow_nan=False).replace("</", "<\\/")
    return (
        (ASSETS / "page.html")
        .read_text()
        .format(
            title=html.escape(title),
            provenance=provenance,
            headline=_figure("fingerprint", *headline, caption["fingerprint"]) if headline else "",
            figures="\n".join(_figure(n, png, pdf, caption[n]) for n, (png, pdf) in others),
            data=data,
            style=(ASSETS / "page.css").read_text(),
            script=(ASSETS / "page.js").read_text(),
        )
    )
