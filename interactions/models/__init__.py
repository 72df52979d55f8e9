"""Models: vector encoders, token adapters, CoMM's fusion transformer, projection heads."""

from interactions.models.config import ModelConfig
from interactions.models.fusion import FusionTransformer, subset_name
from interactions.models.heads import projection_head
from interactions.models.networks import EncoderNetwork, FusedNetwork

__all__ = [
    "EncoderNetwork",
    "FusedNetwork",
    "FusionTransformer",
    "ModelConfig",
    "projection_head",
    "subset_name",
]
