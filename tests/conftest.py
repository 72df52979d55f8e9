"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dit
import numpy as np
from dit.pid import PID_BROJA

ATOM_NODES = {
    "redundancy": ((0,), (1,)),
    "unique1": ((0,),),
    "unique2": ((1,),),
    "synergy": ((0, 1),),
}


def dit_broja(p: np.ndarray) -> dict[str, float]:
    """The reference BROJA PID (bits) of p[x1, x2, y] from dit's exp-cone solver (never its default)."""
    dist = dit.Distribution.from_ndarray(np.asarray(p, dtype=float))
    pid = PID_BROJA(dist, [[0], [1]], [2], method="cone")
    return {name: float(pid.get_pi(node)) for name, node in ATOM_NODES.items()}


def child_pids(pid: int) -> set[int]:
    """Process ids of `pid`'s children (e.g. a grid driver's pool workers)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def is_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie waiting for its parent does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`interactions ARGS` in a fresh process, from folder `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "interactions.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def install_entry_point(directory: Path, module: str, source: str, group: str, name: str) -> None:
    """Write `module`.py holding `source` into `directory` with a dist-info that declares it as entry point
    `name` of `group`, as pip would install a plug-in (the caller puts `directory` on sys.path)."""
    (directory / f"{module}.py").write_text(source)
    dist = directory / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{name} = {module}\n")
