"""`pytest benchmarks/`: options to select the grid, a session fixture that runs it through the results
store and writes the reports, and pytest-benchmark timings saved to reports/benchmarks.json."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from interactions.executor import BACKENDS
from interactions.grid import STALE_POLICIES, grid, parse_seeds, run_grid
from interactions.presets import PRESETS
from interactions.report import reports_dir, tidy_scores, write_reports
from interactions.store import ResultsStore

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interactions", "benchmark grid")
    group.addoption("--preset", default="quick", choices=sorted(PRESETS), help="grid scale (default quick)")
    group.addoption("--objectives", default="", help="comma-separated grid arms or registered objectives")
    group.addoption("--generators", default="", help="comma-separated generator presets")
    group.addoption("--seeds", default="", help="comma-separated seeds and ranges, e.g. 0,1 or 0-4")
    group.addoption("--device", default="cpu", help="auto, cpu, cuda or cuda:N (default cpu)")
    group.addoption(
        "--store", default="", help="SQLite results store (default: in the preset's reports folder)"
    )
    group.addoption("--force", action="store_true", help="retrain runs already in the store")
    group.addoption(
        "--keep-failed", action="store_true", help="keep stored failures (default: retry runs that failed)"
    )
    group.addoption(
        "--workers", type=int, default=None, help="local worker processes (default: every usable core)"
    )
    group.addoption("--backend", default="local", choices=BACKENDS, help="local processes or Ray tasks")
    group.addoption("--ray-address", default=None, help="Ray cluster (default: RAY_ADDRESS, else local)")
    group.addoption(
        "--stale", default="keep", choices=STALE_POLICIES, help="runs stored by other code: keep or recompute"
    )


def _runs_every_benchmark(config: pytest.Config) -> bool:
    """Whether this session runs the whole suite (`pytest benchmarks/`, no -k or -m): only then are its
    timings the committed reports/benchmarks.json."""
    here = Path(__file__).resolve().parent
    paths = [Path(config.invocation_params.dir, arg).resolve() for arg in config.args]
    return paths == [here] and not config.option.keyword and not config.option.markexpr


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Timings go to reports/benchmarks.json from a full run, and beside it, to the uncommitted
    reports/benchmarks-subset.json, from any subset (unless --benchmark-json names a file)."""
    if hasattr(config.option, "benchmark_json") and config.option.benchmark_json is None:
        REPORTS.mkdir(exist_ok=True)
        name = "benchmarks.json" if _runs_every_benchmark(config) else "benchmarks-subset.json"
        config.option.benchmark_json = str(REPORTS / name)


def _csv(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


@pytest.fixture(scope="session")
def grid_scores(request: pytest.FixtureRequest):
    """Run (or reuse) every selected run, write reports/, and return the tidy scores and the run table."""
    opt = request.config.getoption
    specs = grid(
        opt("--preset"),
        _csv(opt("--generators")) or None,
        _csv(opt("--objectives")) or None,
        parse_seeds(opt("--seeds")) or None,
        opt("--device"),
    )
    # The quick preset's reports are the committed ones; other presets keep theirs (and their store) apart.
    out = reports_dir(opt("--preset"), REPORTS)
    store = ResultsStore(opt("--store") or out / "results.sqlite")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # show one line per run while the grid trains
        counts = run_grid(
            specs,
            store,
            force=opt("--force"),
            log=sys.stderr,
            workers=opt("--workers"),
            backend=opt("--backend"),
            ray_address=opt("--ray-address"),
            stale=opt("--stale"),
            retry_failed=not opt("--keep-failed"),
        )
    write_reports(store, out)
    return tidy_scores(store), store.runs(), counts, specs
