"""Architecture knobs shared by every objective, so that objectives compare on the same encoders."""

from __future__ import annotations

from dataclasses import dataclass

from estimators.validation import check_choice, check_int

ADAPTERS = ("single", "features")
IMAGE_ENCODERS = ("cnn", "alexnet")


@dataclass(frozen=True)
class ModelConfig:
    """Encoders, token adapters, fusion transformer and projection head sizes.

    CoMM's published runs use fusion width 512 (40 for the affect data), 8 heads, 1 layer and a head
    E -> 512 -> 512 -> 256; the CPU-sized defaults here keep the same shapes, narrower. Vector modalities get
    MLP encoders and `adapter` tokens; image modalities get `image_encoder` ("cnn": `small_cnn` with
    `image_channels` output channels; "alexnet": AlexNet's trunk, 256 channels) and `image_grid` x
    `image_grid` patch tokens.
    """

    embed_dim: int = 64
    encoder_hidden: int = 128
    encoder_depth: int = 2
    adapter: str = "single"
    fusion_depth: int = 1
    fusion_heads: int = 4
    head_hidden: int = 256
    head_out: int = 128
    image_encoder: str = "cnn"
    image_channels: int = 64
    image_grid: int = 4

    def __post_init__(self) -> None:
        check_int("embed_dim", self.embed_dim, 1)
        check_int("encoder_hidden", self.encoder_hidden, 1)
        check_int("encoder_depth", self.encoder_depth, 1)
        check_choice("adapter", self.adapter, ADAPTERS)
        check_int("fusion_depth", self.fusion_depth, 1)
        check_int("fusion_heads", self.fusion_heads, 1)
        if self.embed_dim % self.fusion_heads:
            raise ValueError(
                f"embed_dim must be a multiple of fusion_heads ({self.fusion_heads}), got {self.embed_dim}"
            )
        check_int("head_hidden", self.head_hidden, 1)
        check_int("head_out", self.head_out, 1)
        check_choice("image_encoder", self.image_encoder, IMAGE_ENCODERS)
        check_int("image_channels", self.image_channels, 4)
        check_int("image_grid", self.image_grid, 1)
