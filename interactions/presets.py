"""Benchmark scales: how many samples, epochs, checkpoints and seeds a grid uses, and which generator presets
and objectives it runs by default. Generator presets themselves are declared beside their generators
(`generators.registry`); `quick` and `paper` run every built-in one."""

from __future__ import annotations

from dataclasses import dataclass, replace

from generators import builtin_generators


@dataclass(frozen=True)
class Preset:
    """Sizes of one benchmark scale. `images` holds the sizes of its image generators (Trifeature), which
    train slower than the vector ones; its own name, generators, objectives and seeds are not used."""

    name: str
    generators: tuple[str, ...]
    objectives: tuple[str, ...]
    seeds: tuple[int, ...]
    n_pretrain: int
    n_probe_train: int
    n_probe_test: int
    n_pid: int
    epochs: int
    checkpoints: tuple[
        int, ...
    ]  # epochs after which the learning dynamics are scored (0 = at initialisation)
    mlp_probe: bool = True
    n_permutations: int = 20
    n_bootstrap: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-2
    image_size: int = 32
    image_model: tuple[tuple[str, object], ...] = ()  # ModelConfig overrides for image generators
    images: Preset | None = None


def _images(**sizes: object) -> Preset:
    """An image scale: a Preset whose selection fields are unused."""
    return Preset(name="images", generators=(), objectives=(), seeds=(), weight_decay=1e-4, **sizes)


# Grid arms run by the quick and paper scales (see `interactions.grid.ARMS`).
ALL_ARMS = (
    "comm", "comm_fused", "cross", "cross_self", "supervised", "cmc", "factorcl", "infmasking",
    "random_fused", "random_encoders",
)  # fmt: skip
_QUICK = Preset(
    name="quick",
    generators=builtin_generators(),
    objectives=ALL_ARMS,
    seeds=(0, 1, 2),
    n_pretrain=4000,
    n_probe_train=2000,
    n_probe_test=2000,
    n_pid=6000,
    epochs=15,
    checkpoints=(0, 5, 15),
    n_bootstrap=20,  # the estimator's default; the long and medium runs keep their recorded 50
    images=_images(  # 32 px, small CNN, linear probe only: both Trifeature generators in 10 minutes
        n_pretrain=1280,
        n_probe_train=2000,
        n_probe_test=2000,
        n_pid=2000,
        epochs=10,
        checkpoints=(0, 10),
        batch_size=64,
        mlp_probe=False,
        n_bootstrap=20,
        image_model=(("image_channels", 32),),
    ),
)
# Interaction maps (`interactions.maps`): the quick sizes, scored once at the end of training (the final
# epoch's linear probes and both PIDs; a map's curve is over a knob, not over epochs) and without the MLP
# probe: about two thirds of a trained quick vector run's scoring (reports/profile.md) is left out.
_MAPS = replace(
    _QUICK,
    name="maps",
    generators=("bimodal_1bit", "biased_synergy"),
    objectives=(
        "comm", "comm_fused", "cross", "cross_self", "infmasking", "supervised", "random_fused",
        "random_encoders",
    ),
    checkpoints=(_QUICK.epochs,),
    mlp_probe=False,
    images=replace(_QUICK.images, checkpoints=(_QUICK.images.epochs,)),
)  # fmt: skip
PRESETS = {
    "smoke": Preset(
        name="smoke",
        generators=("bimodal_1bit", "biased_synergy", "trifeature_biased"),
        objectives=ALL_ARMS,
        seeds=(0,),
        n_pretrain=1500,
        n_probe_train=1000,
        n_probe_test=1000,
        n_pid=3000,
        epochs=4,
        checkpoints=(0, 2, 4),
        n_permutations=5,
        n_bootstrap=10,
        images=_images(
            n_pretrain=256, n_probe_train=500, n_probe_test=500, n_pid=1000, epochs=2, checkpoints=(0, 2),
            batch_size=64, n_permutations=5, n_bootstrap=10, mlp_probe=False,
        ),
    ),
    "quick": _QUICK,
    "maps": _MAPS,
    "medium": replace(  # the Trifeature scale study on a CPU (an estimated 1.5 hours on 2 cores)
        _QUICK,
        name="medium",
        seeds=(0,),
        generators=("trifeature", "trifeature_biased"),
        objectives=("comm", "cross", "cross_self", "random_fused", "random_encoders"),
        images=_images(
            n_pretrain=10000, n_probe_train=2000, n_probe_test=2000, n_pid=2000, epochs=28,
            checkpoints=(0, 7, 14, 21, 28), batch_size=128, mlp_probe=False,
        ),
    ),
    "long": replace(  # CoMM's Trifeature step count on a CPU: 100 epochs of 10,000 pairs at batch 64
        _QUICK,
        name="long",
        seeds=(0,),
        generators=("trifeature", "trifeature_biased"),
        objectives=("comm", "cross", "cross_self", "random_fused", "random_encoders"),
        images=_images(
            n_pretrain=10000, n_probe_train=2000, n_probe_test=2000, n_pid=2000, epochs=100,
            checkpoints=tuple(range(0, 101, 10)), batch_size=64, mlp_probe=False,
            image_model=(("image_channels", 32),),
        ),
    ),
    "paper": Preset(
        name="paper",
        generators=builtin_generators(),
        objectives=ALL_ARMS,
        seeds=(0, 1, 2, 3, 4),
        n_pretrain=20000,
        n_probe_train=10000,
        n_probe_test=5000,
        n_pid=20000,
        epochs=100,
        checkpoints=(0, 10, 25, 50, 100),
        images=_images(  # CoMM's Trifeature protocol (comm.md §4.3): meant for a GPU
            n_pretrain=10000, n_probe_train=10000, n_probe_test=4000, n_pid=4000, epochs=100,
            checkpoints=(0, 10, 25, 50, 100), batch_size=64, lr=3e-4, image_size=224,
            image_model=(
                ("image_encoder", "alexnet"), ("image_grid", 6), ("embed_dim", 512), ("fusion_heads", 8),
                ("head_hidden", 512), ("head_out", 256),
            ),
        ),
    ),
}  # fmt: skip


def preset(name: str | Preset) -> Preset:
    """A preset by name (or the preset itself)."""
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {name!r}")
    return PRESETS[name]
