"""A thin `torch.utils.data.Dataset` over a `Sample`."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from generators.base import Sample


class SampleDataset(Dataset):
    """Item i is (tuple of per-modality float32 tensors, int64 label of `task`), or a dict of all labels
    when `task` is None. Tensors share memory with the sample's arrays."""

    def __init__(self, sample: Sample, task: str | None = None) -> None:
        if task is not None and task not in sample.labels:
            raise ValueError(f"task must be one of {', '.join(map(repr, sample.labels))}, got {task!r}")
        self.modalities = tuple(torch.from_numpy(x) for x in sample.modalities)
        self.labels = {name: torch.from_numpy(y) for name, y in sample.labels.items()}
        self.task = task

    def __len__(self) -> int:
        return len(self.modalities[0])

    def __getitem__(
        self, index: int
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | dict[str, torch.Tensor]]:
        xs = tuple(x[index] for x in self.modalities)
        if self.task is not None:
            return xs, self.labels[self.task][index]
        return xs, {name: y[index] for name, y in self.labels.items()}
