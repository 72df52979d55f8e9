"""Supervised: the fused CoMM network trained with cross-entropy on one task (an upper bound on that task).

A linear classifier reads the CLS output of all modalities; inputs are the clean (non-augmented)
modalities. Options: `task` (a label name of the data) and `n_classes`. Probed and per modality as CoMM.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from estimators.validation import check_codes, check_int
from interactions.models import FusedNetwork, ModalityShape, ModelConfig
from interactions.objectives.base import Objective, Representations, Views, fused_representations
from interactions.objectives.registry import register_objective


@register_objective("supervised")
class Supervised(Objective):
    trains_on = ("clean",)

    def __init__(
        self,
        modality_dims: Sequence[ModalityShape],
        model: ModelConfig | None = None,
        task: str = "all",
        n_classes: int = 2,
    ) -> None:
        super().__init__(modality_dims, model)
        self.task = str(task)
        self.n_classes = check_int("n_classes", n_classes, 2)
        self.network = FusedNetwork(self.modality_dims, self.model_config)
        self.classifier = nn.Linear(self.model_config.embed_dim, n_classes)

    def check_sample(self, modalities, labels) -> None:
        super().check_sample(modalities, labels)
        if self.task not in labels:
            raise ValueError(f"task must be one of {', '.join(map(repr, labels))}, got {self.task!r}")
        y = check_codes(f"labels[{self.task!r}]", labels[self.task])
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(
                f"n_classes must exceed every label of task {self.task!r} (labels 0 .. n_classes - 1), "
                f"got n_classes={self.n_classes} and labels in [{y.min()}, {y.max()}]"
            )

    def loss(self, views: Views) -> dict[str, torch.Tensor]:
        if self.task not in views.labels:
            raise ValueError(f"task must be one of {', '.join(map(repr, views.labels))}, got {self.task!r}")
        logits = self.classifier(self.network(views.clean, [self.network.subsets[-1]])[0])
        target = views.labels[self.task]
        loss = F.cross_entropy(logits, target)
        return {"loss": loss, "accuracy": (logits.argmax(1) == target).float().mean().detach()}

    def represent(self, xs: Sequence[torch.Tensor]) -> Representations:
        return fused_representations(self.network, xs)
