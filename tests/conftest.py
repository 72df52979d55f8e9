"""Shared test helpers."""

from __future__ import annotations

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
