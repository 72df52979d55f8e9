"""From a trained objective to arrays: its representations of a sample, and probe scores per task."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from estimators.probes import ProbeScore, probe_score
from generators.base import Sample
from interactions.objectives import Objective


@torch.no_grad()
def extract(
    objective: Objective, sample: Sample, batch_size: int | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(joint representation, per-modality representations) of a clean sample, in eval mode, as float32.
    The default batch holds about 2^22 input values (4096 vectors, fewer images)."""
    device = next(objective.parameters()).device
    if batch_size is None:
        values = sum(x[0].size for x in sample.modalities)
        batch_size = max(16, min(4096, 2**22 // values))
    was_training = objective.training
    objective.eval()
    joint, per_modality = [], []
    try:
        for start in range(0, len(sample), batch_size):
            xs = [torch.as_tensor(x[start : start + batch_size], device=device) for x in sample.modalities]
            rep = objective.represent(xs)
            joint.append(rep.joint.float().cpu().numpy())
            per_modality.append([z.float().cpu().numpy() for z in rep.per_modality])
    finally:
        objective.train(was_training)
    return np.concatenate(joint), [np.concatenate(parts) for parts in zip(*per_modality, strict=True)]


def probe_tasks(
    objective: Objective,
    train: Sample,
    test: Sample,
    tasks: Sequence[str] | None = None,
    kind: str = "linear",
    seed: int = 0,
) -> dict[str, ProbeScore]:
    """Fit a `kind` probe per task on the objective's joint representation of `train`, score on `test`."""
    train_features, _ = extract(objective, train)
    test_features, _ = extract(objective, test)
    tasks = list(train.labels) if tasks is None else list(tasks)
    return {
        task: probe_score(
            kind, train_features, train.labels[task], test_features, test.labels[task], seed=seed
        )
        for task in tasks
    }
