"""One GPU slot, as is: `python -m interactions.gpu_slot OUT`, from a checkout, on a machine lent for a
quarter of an hour (or a cluster job with a wall-clock limit).

It prints the machine, runs the CUDA tests, then runs the next missing paper-scale Trifeature runs that fit
in what is left of `--budget` (seed 0 of comm, cross_self and cross on both Trifeature generators first,
then seeds 1-4; `interactions grid --time-budget`), and writes into OUT: `results.sqlite` (the store, scores
only: the committed `reports/paper/results.sqlite` plus this slot's runs), `reports/` (summary and figures)
and `log.txt` (everything printed). Copy `OUT/results.sqlite` over `reports/paper/results.sqlite` and commit
it, so that runs from every slot add up. Unfinished runs' training states stay in a work folder outside OUT
(they are large and a fresh machine would not have them anyway).

Every choice is an option, so that the same script dry-runs on a CPU with a tiny configuration (a test).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CUDA_TESTS = [
    "tests/test_pid.py", "tests/test_train.py", "tests/test_objectives.py", "tests/test_bad_input.py",
    "tests/test_probes.py",
    "-k", "cuda or device",
]  # fmt: skip


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder for the store, the reports and the log")
    parser.add_argument("--budget", default="9m", help="wall time of the whole script (default 9m)")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--generators", default="trifeature,trifeature_biased")
    parser.add_argument("--objectives", default="comm,cross_self,cross")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--workers", type=int, default=4, help="runs sharing the device (default 4)")
    parser.add_argument(
        "--store",
        type=Path,
        default=ROOT / "reports" / "paper" / "results.sqlite",
        help="the store to extend (default: the committed reports/paper/results.sqlite)",
    )
    parser.add_argument("--tests", nargs="*", default=CUDA_TESTS, help="pytest arguments (none: no tests)")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    return parser.parse_args(argv)


def _machine() -> list[str]:
    import torch

    lines = [
        time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        f"{platform.node()}: {platform.processor() or platform.machine()}, {len(_cores())} usable cores",
        f"Python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.cuda.is_available()}",
    ]
    lines += [f"GPU {i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv"]
        lines += subprocess.run(query, capture_output=True, text=True).stdout.splitlines()
    return lines


def _cores() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def _copy_store(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite store (its write-ahead log included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    start = time.monotonic()
    from interactions.grid import grid, parse_duration, parse_seeds, run_grid
    from interactions.report import write_reports
    from interactions.store import ResultsStore

    budget = parse_duration(args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-slot-"))
    store_path = work / "results.sqlite"
    if args.store.exists() and not store_path.exists():
        _copy_store(args.store, store_path)
    with (args.out / "log.txt").open("a") as log:

        def say(text: str) -> None:
            print(text, flush=True)
            log.write(text + "\n")
            log.flush()

        say("== machine")
        for line in _machine():
            say(line)
        if args.tests:
            say(f"== tests: pytest {' '.join(args.tests)}")
            tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                                    *args.tests], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
            say((tests.stdout + tests.stderr).strip())
            say(f"tests done at {time.monotonic() - start:.0f} s (exit {tests.returncode})")
        specs = grid(args.preset, args.generators.split(","), args.objectives.split(","),
                     parse_seeds(args.seeds), args.device)  # fmt: skip
        left = budget - (time.monotonic() - start) - 30  # 30 s for the reports and the copy
        store = ResultsStore(store_path)
        counts = {"postponed": len(specs)}
        if left > 0:
            say(f"== grid: {len(specs)} runs, {left:.0f} s left of the {budget:.0f} s budget")
            counts = run_grid(specs, store, log=log, workers=args.workers, time_budget=left)
            say(f"grid: {counts}")
        else:
            say("== grid: no time left after the tests")
        _copy_store(store_path, args.out / "results.sqlite")
        finished = store.runs()
        if (finished["status"] == "done").any():
            for name, path in write_reports(store, args.out / "reports").items():
                say(f"{name}: {path}")
        say(f"done at {time.monotonic() - start:.0f} s: {int((finished['status'] == 'done').sum())} runs in "
            f"the store, {counts.get('postponed', 0)} left for the next slot")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
