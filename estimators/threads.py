"""Thread counts, chosen deliberately: two cores oversubscribed by torch's, OpenMP's and BLAS's pools made the
BROJA solver 8-47x slower. A grid runs each run with one thread (`one_thread`), whichever backend runs it,
so that runs in parallel do not compete and a run's scores do not depend on where it ran."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_info, threadpool_limits


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread and one BLAS / OpenMP thread, then restore them."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def thread_counts() -> dict[str, int]:
    """The thread counts in force: torch's intra-op pool and the largest BLAS and OpenMP pool."""
    counts = {"torch": torch.get_num_threads(), "blas": 0, "openmp": 0}
    for pool in threadpool_info():
        api = pool["user_api"]
        if api in counts:
            counts[api] = max(counts[api], pool["num_threads"])
    return counts
