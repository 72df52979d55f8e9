"""Trifeature ceilings: a case trains the long preset's network on its label and probes it; the cache; the
report's verdict on whether the image size limits a texture score."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import interactions.ceilings as ceilings
from interactions.ceilings import CeilingCase, ceilings_markdown, run_ceilings
from interactions.executor import SerialExecutor


def test_a_tiny_case_trains_on_its_label_and_is_cached(tmp_path: Path) -> None:
    case = CeilingCase("trifeature", "unique1", 32, n_train=256, epochs=1)
    cache = tmp_path / "ceilings.json"
    (row,) = run_ceilings([case], cache).to_dict("records")
    assert row["task"] == "unique1" and row["image_size"] == 32 and row["chance"] == pytest.approx(0.1)
    assert 0 <= row["balanced_accuracy"] <= 1 and 0 <= row["train_accuracy_last_epoch"] <= 1

    class NothingToCompute(SerialExecutor):
        def map_unordered(self, function, items, deadline=None):
            assert not items, "a cached case was computed again"
            return iter(())

    assert run_ceilings([case], cache, NothingToCompute()).to_dict("records") == [row]


def _ceilings(texture_32: float, texture_64: float) -> pd.DataFrame:
    rows = [("trifeature", "redundancy", 0.1, 0.99, 0.99),
            ("trifeature", "unique1", 0.1, texture_32, texture_64),
            ("trifeature_biased", "synergy", 0.5, 0.95, 0.97)]  # fmt: skip
    return pd.DataFrame(
        [{"generator": g, "task": t, "chance": c, "image_size": size, "balanced_accuracy": acc}
         for g, t, c, a32, a64 in rows for size, acc in ((32, a32), (64, a64))]
    )  # fmt: skip


def test_the_report_says_whether_the_image_size_limits_the_texture_scores() -> None:
    objectives = pd.DataFrame(
        [("comm", "trifeature", "unique1", 0.529), ("cross_self", "trifeature", "unique1", 0.477),
         ("comm", "trifeature", "redundancy", 0.808)],
        columns=["objective", "generator", "task", "value"],
    )  # fmt: skip
    far = ceilings_markdown(_ceilings(0.90, 0.95), objectives)
    assert "| U1 (texture of image 1) | 10 | 90.0 | 95.0 | 52.9 | 47.7 |" in far
    assert "**U1 (texture of image 1):** the 32 px ceiling is 90.0%; at 64 px it is 95.0% (+5.0" in far
    assert "comm reaches 52.9%, 37.1 points below it (not limited by the image size)" in far
    near = ceilings_markdown(_ceilings(0.58, 0.85), objectives)
    assert "comm reaches 52.9%, 5.1 points below it (near the ceiling: the size may limit it)" in near
    assert "cross_self reaches 47.7%, 10.3 points below it (not limited by the image size)" in near


def test_the_case_fingerprint_covers_every_project_module_a_case_imports() -> None:
    """`ceilings_fingerprint` names the modules `ceiling_case` runs by hand: every module of this project
    that `interactions/ceilings.py` imports is among them, or only schedules, caches or reports."""
    import ast

    tree = ast.parse(Path(ceilings.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    project = {m for m in imported if m.split(".")[0] in ("generators", "estimators", "interactions")}
    reporting = {f"interactions.{m}" for m in ("executor", "fingerprint", "report", "store")}
    assert project - reporting == set(ceilings._CASE_MODULES)
