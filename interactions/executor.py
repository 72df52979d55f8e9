"""Executors: where the grid's runs happen. Each maps a picklable function over items and yields
`(index, result)` in completion order; the grid's driver stays the only writer of the results store.

- `serial`: in this process, one item after the other (`--workers 1`).
- `local`: a pool of worker processes on this machine (`--workers N`, default every usable core).
- `ray`: Ray core tasks on a Ray cluster, or on a local Ray instance when no address is given.

The function is expected to catch its own errors (the grid's records a failed run with its reason); an
executor reports only what the function cannot: a worker process that died, as a `WorkerLost` result.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from estimators.threads import usable_cores

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class WorkerLost:
    """The result of an item whose worker process died (killed, out of memory, a crash in native code)."""

    reason: str


class DeadlineReached(BaseException):
    """Raised by `map_unordered` at its deadline; the items still running are stopped, not reported."""


class Executor(Protocol):
    def map_unordered(
        self, function: Callable[[Any], Any], items: Sequence[Any], deadline: float | None = None
    ) -> Iterator[tuple[int, Any]]:
        """Yield (index into items, function(item) or WorkerLost) as each item finishes; at `deadline`
        (`time.monotonic()`), stop what still runs and raise `DeadlineReached`."""
        ...


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineReached
    return left


class SerialExecutor:
    """In this process, in order."""

    def map_unordered(
        self, function: Callable[[Any], Any], items: Sequence[Any], deadline: float | None = None
    ) -> Iterator[tuple[int, Any]]:
        for index, item in enumerate(items):
            left = _remaining(deadline)
            with _alarm(left):
                result = function(item)
            yield index, result


@contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise `DeadlineReached` in this (main) thread after `seconds`, whatever it is doing."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise DeadlineReached

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class MissingMainGuard(RuntimeError):
    """A script started a pooled grid at import time: each spawned worker, importing the script, would
    start the grid again."""


_GUARD_FILE = "INTERACTIONS_MAIN_GUARD_FILE"  # where a worker that found no main guard says so


def guard_main(work: str = "a grid") -> None:
    """Refuse to start `work` (a grid, the estimator validation) while this process is a spawned worker still
    importing the driver's script (the script has no `if __name__ == "__main__":` guard): say so to the
    driver, which then raises `MissingMainGuard` instead of reporting dead workers."""
    if not getattr(multiprocessing.current_process(), "_inheriting", False):
        return
    script = getattr(sys.modules.get("__mp_main__"), "__file__", None) or "the calling script"
    message = (
        f'{script} starts {work} when imported: put the call under `if __name__ == "__main__":`, since '
        "each pool worker is a fresh Python process that imports that script"
    )
    if os.environ.get(_GUARD_FILE):
        with open(os.environ[_GUARD_FILE], "w") as file:
            file.write(message)
    raise MissingMainGuard(message)


def _init_worker(modules: tuple[str, ...]) -> None:
    """A pool worker: Ctrl-C is the driver's to handle; it exits when the driver dies (kill -9 included);
    it imports the modules that register plug-ins; its progress bars hold no lock shared between processes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    # Progress bars are the driver's. tqdm's default lock, taken even by a disabled bar, is a named semaphore
    # shared between processes, which a worker stopped mid-run (a SIGTERM, the driver's death) leaves for
    # multiprocessing's resource tracker to remove, with a warning after the CLI's last line.
    tqdm.set_lock(threading.RLock())
    for module in modules:
        importlib.import_module(module)


def _exit_with_parent(parent: int) -> None:
    # A spawned worker holds both ends of the pool's queues, so it never sees EOF when the driver dies.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


class LocalPoolExecutor:
    """A pool of `workers` fresh (spawned) processes. At most `workers` items are in flight, so that when a
    worker dies the items it may have been running are known: the pool is rebuilt and those suspects are
    retried one at a time, and the one that kills its worker alone is reported as `WorkerLost`.

    `modules` are imported in every worker first: modules that register plug-in objectives or generator
    presets from outside an installed package (a spawned worker does not inherit the driver's registries).
    """

    def __init__(self, workers: int | None = None, modules: Sequence[str] = ()) -> None:
        self.workers = usable_cores() if workers is None else int(workers)
        if self.workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.modules = tuple(modules)

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a process with live thread pools
            initializer=_init_worker,
            initargs=(self.modules,),
        )

    def map_unordered(
        self, function: Callable[[Any], Any], items: Sequence[Any], deadline: float | None = None
    ) -> Iterator[tuple[int, Any]]:
        handle, guard_file = tempfile.mkstemp(prefix="interactions-guard-")
        os.close(handle)
        previous = os.environ.get(_GUARD_FILE)
        os.environ[_GUARD_FILE] = guard_file  # spawned workers inherit it
        try:
            yield from self._map(function, items, Path(guard_file), deadline)
        finally:
            if previous is None:
                os.environ.pop(_GUARD_FILE, None)
            else:
                os.environ[_GUARD_FILE] = previous
            os.unlink(guard_file)

    def _map(
        self, function: Callable[[Any], Any], items: Sequence[Any], guard_file: Path, deadline: float | None
    ) -> Iterator[tuple[int, Any]]:
        queue = list(range(len(items)))
        suspects: list[int] = []  # in flight when a worker died: each is retried alone
        while queue or suspects:
            alone = bool(suspects)
            pool = self._pool(1 if alone else min(self.workers, len(queue)))
            finished = False
            try:
                running: dict[Future, int] = {}
                while queue or suspects or running:
                    source = suspects if alone else queue
                    lost = False
                    while source and len(running) < (1 if alone else self.workers):
                        try:
                            future = pool.submit(function, items[source[0]])
                        except BrokenProcessPool:  # a worker died since the last wait
                            lost = True
                            break
                        running[future] = source.pop(0)
                    if not running:
                        break
                    done, _ = wait(running, timeout=_remaining(deadline), return_when=FIRST_COMPLETED)
                    if not done:
                        raise DeadlineReached
                    for future in done:
                        index = running.pop(future)
                        try:
                            yield index, future.result()
                        except BrokenProcessPool:
                            lost = True
                            if guard_file.stat().st_size:
                                raise MissingMainGuard(guard_file.read_text()) from None
                            if alone:
                                yield index, WorkerLost("its worker process died (killed or crashed)")
                            else:
                                suspects.append(index)
                    if lost and guard_file.stat().st_size:
                        raise MissingMainGuard(guard_file.read_text())
                    if lost:
                        suspects.extend(running.values())  # the pool is broken: everything in flight
                        running.clear()
                        break
                    if alone and not suspects:
                        break  # back to the full pool for the rest of the queue
                finished = not running
            finally:
                if finished:
                    pool.shutdown(wait=True)
                else:  # Ctrl-C, the consumer stopped early, or a broken pool
                    _shutdown(pool)


def _shutdown(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what has not started and end the workers (used on Ctrl-C and on errors)."""
    processes = list(getattr(pool, "_processes", {}).values())  # the stdlib offers no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


class RayExecutor:
    """Ray core tasks: `num_cpus` and `num_gpus` per item, a worker that dies retried `max_retries` times.

    `address` (or `RAY_ADDRESS`) joins a running cluster, e.g. started with `ray start --head`; without
    either, a local Ray instance is started for this process and stopped afterwards. On a cluster every
    node needs this package installed; `modules` are imported in each task first (plug-ins).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1,
        num_gpus: float = 0,
        max_retries: int = 2,
        modules: Sequence[str] = (),
        setup: Callable[[], None] | None = None,
    ) -> None:
        try:
            import ray  # noqa: F401  (an optional extra)
        except ImportError as error:
            raise ValueError(
                'backend "ray" needs Ray: pip install -e ".[ray]" (or pip install "interactions[ray]")'
            ) from error
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus, self.num_gpus, self.max_retries = num_cpus, num_gpus, max_retries
        self.modules = tuple(modules)
        self.setup = setup

    def map_unordered(
        self, function: Callable[[Any], Any], items: Sequence[Any], deadline: float | None = None
    ) -> Iterator[tuple[int, Any]]:
        import ray

        started = not ray.is_initialized()
        if started:
            options: dict[str, Any] = {"address": self.address, "include_dashboard": False}
            if self.address is None:  # a local instance: small object store, workers see this sys.path
                options.update(
                    object_store_memory=256 * 2**20,
                    runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(_python_path())}},
                )
            on_sigterm = signal.getsignal(signal.SIGTERM)
            ray.init(**options, log_to_driver=False)
            if on_sigterm is not None and threading.current_thread() is threading.main_thread():
                # Ray's core replaces the process's SIGTERM handler with a stack dump; keep the caller's.
                signal.signal(signal.SIGTERM, on_sigterm)
        try:
            task = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries)(
                _call_with_modules
            )
            pending = {
                task.remote(function, item, self.modules, self.setup): i for i, item in enumerate(items)
            }
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1, timeout=_remaining(deadline))
                    if not done:
                        raise DeadlineReached
                    index = pending.pop(done[0])
                    try:
                        yield index, ray.get(done[0])
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as error:
                        yield index, WorkerLost(f"its Ray worker died ({type(error).__name__})")
            finally:
                # Ray started here ends its tasks at shutdown; cancelling them first races their completion
                # (Ray aborted with "Tried to complete task that was not pending" about 1 in 5 SIGTERMs).
                for ref in pending if not started else ():
                    ray.cancel(ref, force=True)
        finally:
            if started:
                ray.shutdown()


def _call_with_modules(
    function: Callable[[Any], Any], item: Any, modules: tuple[str, ...], setup: Callable[[], None] | None
) -> Any:
    for module in modules:
        importlib.import_module(module)
    if setup is not None:
        setup()
    return function(item)


def _python_path() -> list[str]:
    return [os.path.abspath(p or os.getcwd()) for p in sys.path]


def make_executor(
    backend: str = "local",
    workers: int | None = None,
    *,
    ray_address: str | None = None,
    num_gpus: float = 0,
    modules: Sequence[str] = (),
    setup: Callable[[], None] | None = None,
) -> Executor:
    """The executor for `backend`: `local` with `workers == 1` runs in this process. `modules` are imported
    in each worker, and Ray tasks call `setup()` first (e.g. to register the calling script's plug-ins,
    shipped by value)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if backend == "ray":
        return RayExecutor(ray_address, num_gpus=num_gpus, modules=modules, setup=setup)
    if workers == 1:
        return SerialExecutor()
    return LocalPoolExecutor(workers, modules)
