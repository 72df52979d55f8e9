"""Benchmark session setup: timings go to reports/benchmarks.json unless --benchmark-json says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parent.parent / "reports"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "benchmark_json") and config.option.benchmark_json is None:
        REPORTS.mkdir(exist_ok=True)
        config.option.benchmark_json = str(REPORTS / "benchmarks.json")
