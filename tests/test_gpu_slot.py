"""The prepared GPU script dry-runs on the CPU with a tiny configuration: it prints the machine, runs the
tests it is given, runs the grid within its budget, and leaves the store, the reports and the log in its
output folder; a second slot started from that store adds to it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from interactions.store import ResultsStore

REPO = Path(__file__).resolve().parent.parent


def _slot(out: Path, store: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "interactions.gpu_slot", str(out), "--preset", "smoke", "--device", "cpu",
        "--generators", "bimodal_1bit", "--objectives", "random_fused,random_encoders", "--seeds", "0-1",
        "--budget", "4m", "--workers", "1", "--store", str(store), "--tests", "tests/test_information.py",
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_the_gpu_script_dry_runs_on_the_cpu_and_slots_add_up(tmp_path: Path) -> None:
    first = _slot(tmp_path / "slot1", tmp_path / "committed.sqlite")  # no store committed yet
    assert first.returncode == 0, first.stderr[-3000:]
    log = (tmp_path / "slot1" / "log.txt").read_text()
    assert "== machine" in log and "torch" in log and " passed" in log
    assert "== grid: 4 runs" in log and "'trained': 4" in log
    runs = ResultsStore(tmp_path / "slot1" / "results.sqlite").runs()
    assert len(runs) == 4 and (runs["status"] == "done").all()
    assert (tmp_path / "slot1" / "reports" / "summary.md").is_file()
    second = _slot(tmp_path / "slot2", tmp_path / "slot1" / "results.sqlite")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "'trained': 0, 'cached': 4" in (tmp_path / "slot2" / "log.txt").read_text()
