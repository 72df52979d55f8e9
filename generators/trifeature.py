"""Bimodal Trifeature: CoMM's controlled image experiment (Dufumier, Castillo-Navarro et al., ICLR 2025, §4),
rendered procedurally (`generators.render`).

The 1,000 (shape, texture, colour) combinations are split 80/20 by a seeded shuffle; every training
combination is rendered `train_renders` times and every test combination `test_renders` times (CoMM: 3 and
1), so test images show unseen combinations. A sample is an ordered pair of images that share their shape
(modality 1 = image 1, modality 2 = image 2), drawn uniformly from all such pairs of one pool:

- `redundancy`: the shape (10 classes, in both images);
- `unique1` / `unique2`: the texture of image 1 / image 2 (10 classes);
- `synergy`: 1[colour(image 2) = M(texture(image 1))] for a fixed random bijection M (2 classes, about 10%
  positive on unbiased pairs; balanced accuracy, chance 50%).

With `biased_pairing`, pre-training pairs all obey M (CoMM's "biased" run, in which synergy is learnable
only jointly); every other split is unbiased. Splits `pretrain` and `train` draw from the training pool,
`val` and `test` from the test pool. Pairs are drawn without replacement while there are enough of them.

Ground truth is exact for the evaluation distribution (uniform over the test pool's same-shape pairs): the
atoms come from BROJA on each task's latent table (image attributes that are conditionally independent of
the label and the other image are dropped, which leaves the atoms unchanged). Every attribute is a function
of the rendered image, so the Bayes ceiling is 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache, cached_property, lru_cache

import numpy as np

from estimators.pid import broja_pid
from estimators.validation import check_choice, check_float, check_int
from generators.base import SPLITS, Sample, Truth
from generators.registry import GeneratorPreset, PaperComparison, register_comparison, register_generator
from generators.render import COLOURS, MAX_SIZE, MIN_SIZE, SHAPES, TEXTURES, cached_render

N_VALUES = 10  # shapes, textures and colours each
TEST_FRACTION = 0.2
_STRUCTURE_STREAM, _SAMPLE_STREAM = 11, 12
TASKS = ("redundancy", "unique1", "unique2", "synergy")
assert len(SHAPES) == len(TEXTURES) == len(COLOURS) == N_VALUES


@dataclass(frozen=True)
class TrifeatureGenerator:
    """Bimodal Trifeature pairs of `size` x `size` RGB images (uint8, channels first); see the module
    docstring. `seed` fixes the combination split, the renders and the bijection M."""

    size: int = 32
    train_renders: int = 3
    test_renders: int = 1
    biased_pairing: bool = False
    texture_period: float = 1 / 6
    seed: int = 0

    n_modalities = 2
    tasks = TASKS
    joint_task = "synergy"  # the task whose label the PID of representations uses

    def __post_init__(self) -> None:
        check_int("size", self.size, MIN_SIZE, MAX_SIZE)
        check_int("train_renders", self.train_renders, 1)
        check_int("test_renders", self.test_renders, 1)
        if not isinstance(self.biased_pairing, bool):
            raise ValueError(f"biased_pairing must be True or False, got {self.biased_pairing!r}")
        period = check_float("texture_period", self.texture_period, 0.0, strict=True)
        if period > 0.5:
            raise ValueError(f"texture_period must be in (0, 0.5] (a fraction of the image), got {period!r}")
        check_int("seed", self.seed, 0)

    # ---- structure -------------------------------------------------------------------------------
    @cached_property
    def _structure(self) -> dict:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _STRUCTURE_STREAM]))
        combos = rng.permutation(N_VALUES**3)
        n_test = round(TEST_FRACTION * len(combos))
        return {
            "test_combos": np.sort(combos[:n_test]),
            "train_combos": np.sort(combos[n_test:]),
            "bijection": rng.permutation(N_VALUES),
        }

    @property
    def bijection(self) -> np.ndarray:
        """M: texture of image 1 -> colour of image 2."""
        return self._structure["bijection"].copy()

    def combinations(self, pool: str) -> np.ndarray:
        """(shape, texture, colour) rows of the `pool` ("train" or "test") combinations."""
        check_choice("pool", pool, ("train", "test"))
        combos = self._structure[f"{pool}_combos"]
        return np.stack(np.unravel_index(combos, (N_VALUES,) * 3), axis=1)

    def _pool_attributes(self, pool: str) -> np.ndarray:
        renders = self.train_renders if pool == "train" else self.test_renders
        return np.repeat(self.combinations(pool), renders, axis=0)

    def images(self, pool: str) -> np.ndarray:
        """All rendered images of a pool, (n, 3, size, size) uint8 (cached on disk; the last few pools stay
        in memory, shared by equal generators, so repeated draws do not decompress them again)."""
        return _pool_images(self, pool)

    def _render_pool(self, pool: str) -> np.ndarray:
        attributes = self._pool_attributes(pool)
        render_seed = int(
            np.random.SeedSequence([self.seed, _STRUCTURE_STREAM, int(pool == "test")]).generate_state(1)[0]
        )
        return cached_render(*attributes.T, self.size, render_seed, self.texture_period)

    def _pairs(self, pool: str, biased: bool) -> np.ndarray:
        """Every ordered same-shape pair (i1, i2) of the pool (obeying M when `biased`), shape (n, 2)."""
        return _pool_pairs(self, pool, biased)

    def _enumerate_pairs(self, pool: str, biased: bool) -> np.ndarray:
        attributes = self._pool_attributes(pool)
        pairs = []
        for shape in range(N_VALUES):
            members = np.flatnonzero(attributes[:, 0] == shape)
            first, second = np.meshgrid(members, members, indexing="ij")
            pairs.append(np.stack([first.ravel(), second.ravel()], axis=1))
        pairs = np.concatenate(pairs)
        if biased:
            pairs = pairs[attributes[pairs[:, 1], 2] == self.bijection[attributes[pairs[:, 0], 1]]]
        return pairs

    # ---- sampling ----------------------------------------------------------------------------------
    def sample(self, n: int, seed: int = 0, split: str = "train") -> Sample:
        """Draw `n` pairs. Same (generator, n, seed, split) gives byte-identical arrays."""
        check_int("n", n, 1)
        check_int("seed", seed, 0)
        check_choice("split", split, SPLITS)
        pool = "train" if split in ("pretrain", "train") else "test"
        pairs = self._pairs(pool, self.biased_pairing and split == "pretrain")
        rng = np.random.default_rng(
            np.random.SeedSequence([self.seed, _SAMPLE_STREAM, seed, SPLITS.index(split)])
        )
        chosen = pairs[rng.choice(len(pairs), n, replace=n > len(pairs))]
        images, attributes = self.images(pool), self._pool_attributes(pool)
        first, second = attributes[chosen[:, 0]], attributes[chosen[:, 1]]
        factors = {
            "shape": first[:, 0],
            "texture1": first[:, 1],
            "colour1": first[:, 2],
            "texture2": second[:, 1],
            "colour2": second[:, 2],
        }
        return Sample(
            modalities=(images[chosen[:, 0]], images[chosen[:, 1]]),
            labels=self.labels(factors),
            factors={k: v.astype(np.int64) for k, v in factors.items()},
        )

    def labels(self, factors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Task labels (int64) from the pair's attributes."""
        synergy = factors["colour2"] == self.bijection[factors["texture1"]]
        labels = {
            "redundancy": factors["shape"],
            "unique1": factors["texture1"],
            "unique2": factors["texture2"],
            "synergy": synergy,
        }
        return {k: np.asarray(v, dtype=np.int64) for k, v in labels.items()}

    # ---- ground truth ---------------------------------------------------------------------------------
    def latent_table(self, task: str) -> np.ndarray:
        """Exact p[x1, x2, y] of the evaluation pairs, with each image reduced to the attributes that
        matter for `task`: (shape) or (shape, texture / colour), as shape * 10 + attribute."""
        check_choice("task", task, self.tasks)
        factors = self._evaluation_factors()
        shape = factors["shape"]
        x1 = shape * N_VALUES + factors["texture1"] if task in ("unique1", "synergy") else shape
        x2 = {
            "unique2": shape * N_VALUES + factors["texture2"],
            "synergy": shape * N_VALUES + factors["colour2"],
        }
        x2 = x2.get(task, shape)
        y = self.labels(factors)[task]
        n1 = N_VALUES**2 if task in ("unique1", "synergy") else N_VALUES
        n2 = N_VALUES**2 if task in ("unique2", "synergy") else N_VALUES
        table = np.zeros((n1, n2, 2 if task == "synergy" else N_VALUES))
        np.add.at(table, (x1, x2, y), 1.0)
        return table / table.sum()

    def _evaluation_factors(self) -> dict[str, np.ndarray]:
        attributes = self._pool_attributes("test")
        pairs = self._pairs("test", biased=False)
        first, second = attributes[pairs[:, 0]], attributes[pairs[:, 1]]
        return {
            "shape": first[:, 0],
            "texture1": first[:, 1],
            "texture2": second[:, 1],
            "colour2": second[:, 2],
        }

    def truth(self, task: str) -> Truth:
        """Exact PID atoms (bits) of `task` on the evaluation pairs; chance 1 / classes, Bayes ceiling 1."""
        check_choice("task", task, self.tasks)
        n_classes = 2 if task == "synergy" else N_VALUES
        return Truth(task, _atoms(self, task), n_classes, 1.0 / n_classes, 1.0)

    def config(self) -> dict:
        return {"generator": "trifeature", **asdict(self)}


@cache
def _atoms(generator: TrifeatureGenerator, task: str) -> dict[str, float]:
    return broja_pid(generator.latent_table(task)).atoms


@lru_cache(maxsize=4)
def _pool_images(generator: TrifeatureGenerator, pool: str) -> np.ndarray:
    images = generator._render_pool(pool)
    images.flags.writeable = False  # shared between callers
    return images


@lru_cache(maxsize=8)
def _pool_pairs(generator: TrifeatureGenerator, pool: str, biased: bool) -> np.ndarray:
    pairs = generator._enumerate_pairs(pool, biased)
    pairs.flags.writeable = False
    return pairs


# Benchmark presets (the grid's image scale sets `size`) and the paper's numbers to compare with.
register_generator(
    GeneratorPreset(
        "trifeature",
        lambda size: TrifeatureGenerator(size=size),
        "CoMM's bimodal Trifeature, unbiased pairs: two images sharing their shape (R = shape, U1 / U2 = "
        "texture of image 1 / 2); probed on unseen attribute combinations. The R / U run of the paper.",
        scale="image",
    )
)
register_generator(
    GeneratorPreset(
        "trifeature_biased",
        lambda size: TrifeatureGenerator(size=size, biased_pairing=True),
        "CoMM's bimodal Trifeature with biased pairing: pre-training pairs obey colour(image 2) = "
        "M(texture(image 1)); S = 1[pair obeys M] on unbiased test pairs. The S run of the paper.",
        scale="image",
    )
)


def _paper_pattern(score, objectives: list[str]) -> list[str]:
    """Which parts of CoMM's qualitative Trifeature pattern hold (thresholds stated inline)."""

    def verdict(holds: bool | None) -> str:
        return "not measured" if holds is None else ("holds" if holds else "does not hold")

    def value(o: str, generator: str, task: str) -> str:
        v = score(o, generator, task)
        return "" if v is None else f" ({v:.1f})"

    # supervised trains on the synergy label alone here; random networks are not self-supervised
    self_supervised = [o for o in objectives if o != "supervised" and "random" not in o]
    measured = {o: r for o in self_supervised if (r := score(o, "trifeature", "redundancy")) is not None}
    below = ", ".join(f"{o} {r:.1f}" for o, r in measured.items() if r < 90) or "none"
    cross_u, self_u = score("cross", "trifeature", "unique1"), score("cross_self", "trifeature", "unique1")
    synergy = {o: score(o, "trifeature_biased", "synergy") for o in ("comm", "cross", "cross_self")}
    comm_s, *baselines = synergy.values()
    return [
        "The paper's pattern at this scale:",
        "",
        f"- R >= 90% for every self-supervised objective: "
        f"{verdict(all(r >= 90 for r in measured.values()) if measured else None)} (below 90: {below}).",
        f"- Cross's U1 near chance (<= 20%): {verdict(None if cross_u is None else cross_u <= 20)}"
        + value("cross", "trifeature", "unique1")
        + ".",
        f"- Cross+Self's U1 far above chance (>= 50%): {verdict(None if self_u is None else self_u >= 50)}"
        + value("cross_self", "trifeature", "unique1")
        + ".",
        "- CoMM's S clearly above 50% (>= 60%) while Cross and Cross+Self stay within 50 +/- 5: "
        + verdict(
            None
            if None in (comm_s, *baselines)
            else comm_s >= 60 and all(abs(b - 50) <= 5 for b in baselines)
        )
        + " ("
        + ", ".join(f"{o} {v:.1f}" for o, v in synergy.items() if v is not None)
        + ").",
    ]


register_comparison(
    PaperComparison(
        title="Trifeature: ours next to the paper",
        description="R = shape and U1 = texture of image 1 from `trifeature` (unbiased pre-training), S from "
        "`trifeature_biased`. Published numbers are at 224 px with AlexNet encoders and 100 epochs on 10,000 "
        "pairs (CoMM paper Fig. 4; InfMasking's README); ours at the preset's scale, see the generator "
        "sections below. Chance: R 10, U1 10, S 50.",
        columns=(
            ("R", "trifeature", "redundancy"),
            ("U1", "trifeature", "unique1"),
            ("S", "trifeature_biased", "synergy"),
        ),
        published={  # linear probe accuracy (%) at 224 px, AlexNet, 100 epochs
            "cross": ((100.0, 11.6, 50.0), "CoMM paper Fig. 4"),
            "cross_self": ((99.7, 86.9, 50.0), "CoMM paper Fig. 4"),
            "factorcl": ((99.8, 62.5, 46.5), "CoMM paper Fig. 4"),
            "comm": ((99.9, 87.8, 71.9), "CoMM paper Fig. 4"),
            "infmasking": ((99.9, 90.6, 77.0), "InfMasking README, 5 seeds"),
        },
        pattern=_paper_pattern,
    )
)
