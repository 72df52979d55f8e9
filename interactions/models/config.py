"""Architecture knobs shared by every objective, so that objectives compare on the same encoders."""

from __future__ import annotations

from dataclasses import dataclass

from generators.base import check_choice, check_int

ADAPTERS = ("single", "features")


@dataclass(frozen=True)
class ModelConfig:
    """Encoders, token adapters, fusion transformer and projection head sizes.

    CoMM's published runs use fusion width 512 (40 for the affect data), 8 heads, 1 layer and a head
    E -> 512 -> 512 -> 256; the CPU-sized defaults here keep the same shapes, narrower.
    """

    embed_dim: int = 64
    encoder_hidden: int = 128
    encoder_depth: int = 2
    adapter: str = "single"
    fusion_depth: int = 1
    fusion_heads: int = 4
    head_hidden: int = 256
    head_out: int = 128

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
