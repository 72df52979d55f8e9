"""Models: vector encoders, token adapters, CoMM's fusion transformer, projection heads."""

from interactions.models.config import ModelConfig
from interactions.models.fusion import FusionTransformer, subset_name
from interactions.models.heads import projection_head
from interactions.models.networks import EncoderNetwork, FusedNetwork, ModalityShape, is_image

__all__ = [
    "EncoderNetwork",
    "FusedNetwork",
    "FusionTransformer",
    "ModalityShape",
    "ModelConfig",
    "is_image",
    "projection_head",
    "subset_name",
]
