"""The results for machines and for people: scores.parquet read back with each run's configuration and
provenance, and reports/index.html (the committed quick results) in a real headless Chromium: its tables
render every row, sort and filter, its figures load, each run's configuration opens, the filtered rows
download as CSV, and the console stays free of errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from interactions.grid import grid, run_grid
from interactions.report import write_reports
from interactions.report.html import score_rows
from interactions.store import ResultsStore

REPORTS = Path(__file__).resolve().parent.parent / "reports"
CHROMIUM_FLAGS = [  # headless in a closed network: no background connections, no sandbox as root
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_parquet_scores_read_back_with_configuration_and_provenance(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    run_grid(grid("smoke", ["bimodal_1bit"], ["random_encoders", "cross"], device="cpu"), store, log=None)
    paths = write_reports(store, tmp_path / "reports")
    scores = pd.read_parquet(paths["scores"])
    stored = store.scores()
    assert len(scores) == len(stored) and scores["run_id"].nunique() == 2
    assert not scores.duplicated(["run_id", "epoch", "task", "probe", "metric"]).any()
    assert scores[["config", "code", "commit", "torch", "numpy", "python", "package"]].notna().all().all()
    config = json.loads(scores["config"].iloc[0])
    assert {"generator", "objective", "model", "train", "scoring", "seed"} <= set(config)
    pid = scores[(scores["probe"] == "pid") & scores["atom"].notna()]
    assert set(pid["atom"]) == {"redundancy", "unique1", "unique2", "synergy"}
    assert set(pid["kind"]) == {"corrected", "raw", "bias", "low", "high"}
    assert pid["truth_bits"].notna().all() and scores.loc[scores["probe"] != "pid", "truth_bits"].isna().all()
    page = paths["page"].read_text()
    assert page.count("<figure") == sum(1 for key in paths if key.endswith(".png"))
    assert "http://" not in page and "https://" not in page  # nothing to fetch: it opens from disk


def test_the_summary_reads_the_committed_estimator_validation() -> None:
    """The summary states each PID table's validated error from reports/estimators.json (it said "not
    validated" everywhere while the report package looked for the file one folder too high)."""
    from interactions.report.markdown import VALIDATION, _estimator_lines, load_validation

    assert VALIDATION == REPORTS / "estimators.json" and load_validation() is not None
    line = " ".join(_estimator_lines("bimodal_1bit", 6000, load_validation()))
    assert "Validated error on this generator's raw observations at N = 6,000" in line


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs Debian's chromium for this test (.ci/run); it is missing")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def test_the_results_page_works_in_a_real_browser(browser, tmp_path: Path) -> None:
    scores = pd.read_parquet(REPORTS / "scores.parquet")
    rows = pd.DataFrame(score_rows(scores))
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((REPORTS / "index.html").as_uri())

    def shown(table: str) -> int:
        return int(page.get_attribute(f"#{table}", "data-rows"))

    assert shown("scores") == len(rows) and shown("runs") == scores["run_id"].nunique()
    assert page.locator("#scores tbody tr").count() == len(rows)

    page.select_option("#scores select[name=generator]", "bimodal_1bit")
    bimodal = rows[rows["generator"] == "bimodal_1bit"]
    assert shown("scores") == len(bimodal)
    page.select_option("#scores select[name=objective]", "comm")
    page.select_option("#scores select[name=probe]", "linear")
    chosen = bimodal[(bimodal["objective"] == "comm") & (bimodal["probe"] == "linear")]
    assert shown("scores") == len(chosen) > 0

    mean_header = page.locator("#scores th", has_text="mean")
    mean_header.click()
    first_mean = lambda: float(page.locator("#scores tbody tr").first.locator("td").nth(5).inner_text())  # noqa: E731
    assert first_mean() == pytest.approx(chosen["mean"].min(), abs=5e-4)
    mean_header.click()
    assert first_mean() == pytest.approx(chosen["mean"].max(), abs=5e-4)

    with page.expect_download() as download:
        page.click("#scores button.csv")
    lines = Path(download.value.path()).read_text().strip().splitlines()
    assert len(lines) == len(chosen) + 1 and lines[0].startswith("generator,objective,probe,atom,metric")

    page.locator("#runs details summary").first.click()
    details = page.locator("#runs details pre").first.inner_text()
    assert '"config"' in details and '"environment"' in details and '"code"' in details

    figures = page.locator("figure img")
    assert figures.count() == len(list(REPORTS.glob("*.png"))) - len(list(REPORTS.glob("estimators*.png")))
    assert page.evaluate("[...document.images].every((img) => img.complete && img.naturalWidth > 0)")
    assert page.evaluate(
        "[...document.querySelectorAll('figure a.png')].every((a) => a.href.startsWith('data:image/png'))"
    )
    assert errors == []
    page.screenshot(path=tmp_path / "index.png", full_page=False)
    assert (tmp_path / "index.png").stat().st_size > 10_000
