"""The linear probe's speed on trained features: torch (preconditioned L-BFGS, this suite's probe) against
scikit-learn's `LogisticRegression` probe (the suite's probe up to December 2026) timed in the same test, on
two Trifeature tasks of committed quick features (FactorCL at the end of a quick run, 2,000 x 256;
`tests/data/quick_features.npz`): a 10-class one (`unique1`, texture) and the 2-class `synergy`, one thread
each, as a grid worker fits them; and, on CUDA, the scoring of one paper-scale checkpoint. The other two
tasks are 10-class like `unique1` and cost the same (5.1-5.6 s with scikit-learn, 0.5 s here): leaving them
out keeps a cached `pytest benchmarks/` near a minute."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from estimators import LinearProbe
from estimators.threads import one_thread
from interactions.estimator_validation import SklearnLinearProbe
from interactions.presets import preset
from interactions.profiling import profile_run
from interactions.scoring import RunSpec

FEATURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "quick_features.npz"
RUN = "trifeature_factorcl"


def _fit_every_task(probe_class: type, tasks: dict[str, np.ndarray], x: np.ndarray) -> list:
    with one_thread():
        return [probe_class().fit(x, y) for y in tasks.values()]


def test_linear_probe_on_two_trifeature_tasks(benchmark) -> None:
    """Both probes fit the two tasks (C chosen among six on a validation split, then refit). Torch must be
    at least twice as fast; scikit-learn's seconds and the speed-up are in `extra_info`."""
    with np.load(FEATURES) as data:
        x = data[f"{RUN}/ztr"].astype(np.float64)
        tasks = {task: data[f"{RUN}/ytr_{task}"] for task in ("unique1", "synergy")}
    start = time.perf_counter()
    _fit_every_task(SklearnLinearProbe, tasks, x)
    sklearn_seconds = time.perf_counter() - start
    probes = benchmark.pedantic(
        _fit_every_task, args=(LinearProbe, tasks, x), rounds=2, iterations=1, warmup_rounds=1
    )
    speedup = sklearn_seconds / benchmark.stats.stats.median
    benchmark.extra_info["sklearn_seconds"] = sklearn_seconds
    benchmark.extra_info["speedup_over_sklearn"] = speedup
    benchmark.extra_info["lbfgs_iterations_of_the_refits"] = [p.model_.n_iter for p in probes]
    assert speedup >= 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_scoring_one_paper_scale_checkpoint_on_cuda(benchmark) -> None:
    """Every probe and PID of one paper-scale Trifeature checkpoint (the `paper` preset's image scale: 224
    px, AlexNet trunk, 10,000 probe-training and 4,000 test and PID pairs; the untrained fused network,
    which scores like any checkpoint) in at most 10 s on CUDA, extraction included, data generation not:
    seconds per stage (`interactions.profiling`) in `extra_info`."""
    spec = RunSpec("trifeature_biased", "random_fused", 0, preset("paper"), "cuda")
    stages = benchmark.pedantic(profile_run, args=(spec,), rounds=1, iterations=1)
    scoring = sum(seconds for stage, seconds in stages.items() if stage not in ("data", "total", "other"))
    benchmark.extra_info.update(stages)
    assert scoring <= 10
