"""Factor generators: multimodal vector data with a chosen amount of each information type.

Latent factors, each uniform over its own number of classes K (log2 K bits; K = 1 means absent):

* ``r``: redundant, seen by every modality;
* ``u1``, ..., ``uM``: unique, ``um`` seen by modality m only;
* ``s1``, ..., ``sM``: the synergy parts, ``sm`` seen by modality m only, with the synergy label
  ``s = (s1 + ... + sM) mod K`` (a generalised XOR: independent of any proper subset of modalities).

With ``biased_pairing`` (CoMM's protocol for synergy) the pre-training split obeys
``sM = pi((s1 + ... + s_{M-1}) mod K)`` for a fixed permutation pi, while every other split is unbiased and
the synergy label is the balanced-scored binary ``1[sM == pi((s1 + ... + s_{M-1}) mod K)]``.
``biased_fraction`` sets the share of pre-training pairs that obey the bijection (1: all of them; 0: an
unbiased pre-training split with the same evaluation task).

Each factor value of modality m maps to its own prototype: ``separation`` times one of K orthonormal
directions in a random ``factor_dim``-dimensional block (equidistant prototypes, which make the Bayes
ceilings exact). Blocks get isotropic Gaussian ``noise``; ``nuisance_dim`` pure-noise dimensions of standard
deviation ``nuisance_std`` are appended; the latent vector is then mixed into ``dim`` observed dimensions
by a fixed random injective map: ``linear`` (orthonormal columns) or ``mlp`` (``mlp_depth`` layers of
orthogonal map + bias + leaky ReLU with slope 0.2). Injectivity keeps the latent Bayes ceiling the
ceiling on observations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from estimators.validation import check_choice, check_float, check_int
from generators import bayes
from generators.base import SPLITS, Sample, Truth, binary_entropy
from generators.registry import GeneratorPreset, dataclass_with_knobs, register_generator

MIXINGS = ("linear", "mlp")
_LEAKY_SLOPE = 0.2
_STRUCTURE_STREAM = 0
_SAMPLE_STREAM = 1


@dataclass(frozen=True)
class FactorGenerator:
    """M-modal factor generator (see the module docstring). Frozen and validated: a config and a generator.

    `seed` fixes the structure (prototypes, mixing maps, pairing permutation); `sample(n, seed, split)`
    draws data from it.
    """

    n_modalities: int = 2
    redundancy: int = 2
    unique: int | tuple[int, ...] = 2
    synergy: int = 2
    biased_pairing: bool = False
    biased_fraction: float = 1.0
    noise: float = 0.3
    separation: float = 1.0
    factor_dim: int = 8
    nuisance_dim: int = 4
    nuisance_std: float = 0.3
    dim: int = 32
    mixing: str = "linear"
    mlp_depth: int = 2
    seed: int = 0

    joint_task = "all"  # the task whose label the PID of representations uses

    def __post_init__(self) -> None:
        m = check_int("n_modalities", self.n_modalities, 2)
        check_int("redundancy", self.redundancy, 1)
        if isinstance(self.unique, int | np.integer) and not isinstance(self.unique, bool):
            unique = (self.unique,) * m
        elif isinstance(self.unique, tuple | list):
            unique = tuple(self.unique)
        else:
            raise ValueError(
                f"unique must be one class count (an integer >= 1) or {m} of them, got {self.unique!r}"
            )
        if len(unique) != m:
            raise ValueError(
                f"unique must be one class count or {m} of them (one per modality), got {unique!r}"
            )
        object.__setattr__(
            self, "unique", tuple(check_int(f"unique{i + 1}", k, 1) for i, k in enumerate(unique))
        )
        check_int("synergy", self.synergy, 1)
        if not isinstance(self.biased_pairing, bool):
            raise ValueError(f"biased_pairing must be True or False, got {self.biased_pairing!r}")
        if self.biased_pairing and self.synergy < 2:
            raise ValueError(
                f"synergy must be an integer >= 2 when biased_pairing is on, got {self.synergy!r}"
            )
        fraction = check_float("biased_fraction", self.biased_fraction, 0.0)
        if fraction > 1.0:
            raise ValueError(f"biased_fraction must be a number in [0, 1], got {self.biased_fraction!r}")
        if fraction != 1.0 and not self.biased_pairing:
            raise ValueError(
                f"biased_fraction applies only with biased_pairing=True, got {self.biased_fraction!r} "
                "without it"
            )
        check_float("noise", self.noise, 0.0)
        check_float("separation", self.separation, 0.0, strict=True)
        largest = max(self.redundancy, self.synergy, *self.unique)
        check_int("factor_dim", self.factor_dim, largest)
        check_int("nuisance_dim", self.nuisance_dim, 0)
        check_float("nuisance_std", self.nuisance_std, 0.0)
        if min(self.latent_dim(i) for i in range(m)) == 0:
            raise ValueError(
                "nuisance_dim must be >= 1 when a modality sees no factor (all its class counts are 1)"
            )
        check_int("dim", self.dim, max(self.latent_dim(i) for i in range(m)))
        check_choice("mixing", self.mixing, MIXINGS)
        check_int("mlp_depth", self.mlp_depth, 1)
        check_int("seed", self.seed, 0)

    # ---- structure -------------------------------------------------------------------------------
    def factor_classes(self, modality: int) -> dict[str, int]:
        """Class counts of the factors modality `modality` (0-based) sees, in latent order."""
        return {
            "r": self.redundancy,
            f"u{modality + 1}": self.unique[modality],
            f"s{modality + 1}": self.synergy,
        }

    def latent_dim(self, modality: int) -> int:
        present = sum(k > 1 for k in self.factor_classes(modality).values())
        return present * self.factor_dim + self.nuisance_dim

    @property
    def tasks(self) -> tuple[str, ...]:
        uniques = tuple(f"unique{i + 1}" for i in range(self.n_modalities))
        return ("redundancy", *uniques, "synergy", "all")

    @cached_property
    def _structure(self) -> dict:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _STRUCTURE_STREAM]))
        prototypes, mixers = [], []
        for m in range(self.n_modalities):
            blocks = {}
            for name, k in self.factor_classes(m).items():
                if k > 1:  # K orthonormal directions in a random block basis, scaled by `separation`
                    basis = _orthonormal(rng, self.factor_dim, k)
                    blocks[name] = (self.separation * basis.T).astype(np.float32)
            prototypes.append(blocks)
            mixers.append(self._mixer(rng, self.latent_dim(m)))
        permutation = rng.permutation(self.synergy)
        return {"prototypes": prototypes, "mixers": mixers, "permutation": permutation}

    def _mixer(self, rng: np.random.Generator, latent_dim: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
        if self.mixing == "linear":
            return [(_orthonormal(rng, self.dim, latent_dim).T.astype(np.float32), None)]
        layers, fan_in = [], latent_dim
        for _ in range(self.mlp_depth):
            weight = _orthonormal(rng, self.dim, fan_in).T.astype(np.float32)
            bias = rng.normal(0.0, 0.5, size=self.dim).astype(np.float32)
            layers.append((weight, bias))
            fan_in = self.dim
        return layers

    @property
    def permutation(self) -> np.ndarray:
        """The fixed pairing permutation pi used by `biased_pairing`."""
        return self._structure["permutation"].copy()

    # ---- sampling ----------------------------------------------------------------------------------
    def sample(self, n: int, seed: int = 0, split: str = "train") -> Sample:
        """Draw `n` samples. Same (generator, n, seed, split) gives byte-identical arrays."""
        check_int("n", n, 1)
        check_int("seed", seed, 0)
        check_choice("split", split, SPLITS)
        rng = np.random.default_rng(
            np.random.SeedSequence([self.seed, _SAMPLE_STREAM, seed, SPLITS.index(split)])
        )
        factors = self._draw_factors(rng, n, split)
        modalities = tuple(self._observe(rng, m, factors) for m in range(self.n_modalities))
        return Sample(modalities=modalities, labels=self.labels(factors), factors=factors)

    def _draw_factors(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        m = self.n_modalities
        factors = {"r": rng.integers(self.redundancy, size=n)}
        for i in range(m):
            factors[f"u{i + 1}"] = rng.integers(self.unique[i], size=n)
        for i in range(m):
            factors[f"s{i + 1}"] = rng.integers(self.synergy, size=n)
        if self.biased_pairing and split == "pretrain":
            # rows are exchangeable (the trainer shuffles), so the first share of them is a random share;
            # no extra draw, so that biased_fraction=1 gives exactly the data of the fully biased split
            biased = slice(0, round(self.biased_fraction * n))
            factors[f"s{m}"][biased] = self.permutation[self._partial_sum(factors)][biased]
        return factors

    def _partial_sum(self, factors: dict[str, np.ndarray]) -> np.ndarray:
        """(s1 + ... + s_{M-1}) mod K."""
        return sum(factors[f"s{i + 1}"] for i in range(self.n_modalities - 1)) % self.synergy

    def labels(self, factors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Task labels (int64) from latent factor values."""
        m = self.n_modalities
        labels = {"redundancy": factors["r"]}
        for i in range(m):
            labels[f"unique{i + 1}"] = factors[f"u{i + 1}"]
        if self.biased_pairing:
            synergy = (factors[f"s{m}"] == self.permutation[self._partial_sum(factors)]).astype(np.int64)
        else:
            synergy = sum(factors[f"s{i + 1}"] for i in range(m)) % self.synergy
        labels["synergy"] = synergy
        parts = [labels[t] for t in self.tasks[:-1]]
        labels["all"] = np.ravel_multi_index(parts, [self._n_classes(t) for t in self.tasks[:-1]])
        return {name: np.asarray(v, dtype=np.int64) for name, v in labels.items()}

    def _observe(self, rng: np.random.Generator, modality: int, factors: dict[str, np.ndarray]) -> np.ndarray:
        n = len(factors["r"])
        blocks = self._structure["prototypes"][modality]
        latent = rng.standard_normal((n, self.latent_dim(modality)), dtype=np.float32)
        factor_cols = len(blocks) * self.factor_dim
        latent[:, :factor_cols] *= np.float32(self.noise)
        latent[:, factor_cols:] *= np.float32(self.nuisance_std)
        for b, (name, protos) in enumerate(blocks.items()):
            latent[:, b * self.factor_dim : (b + 1) * self.factor_dim] += protos[factors[name]]
        out = latent
        for weight, bias in self._structure["mixers"][modality]:
            out = out @ weight
            if bias is not None:
                out += bias
                np.maximum(out, _LEAKY_SLOPE * out, out=out)  # leaky ReLU, in place
        return np.ascontiguousarray(out, dtype=np.float32)

    # ---- ground truth ---------------------------------------------------------------------------------
    def _n_classes(self, task: str) -> int:
        if task == "redundancy":
            return self.redundancy
        if task == "synergy":
            return 2 if self.biased_pairing else self.synergy
        if task == "all":
            return math.prod(self._n_classes(t) for t in self.tasks[:-1])
        return self.unique[int(task.removeprefix("unique")) - 1]

    def _check_task(self, task: str) -> str:
        return check_choice("task", task, self.tasks)

    def truth(self, task: str) -> Truth:
        """PID atoms (bits), chance and Bayes balanced accuracy of `task` on unbiased (evaluation) data."""
        self._check_task(task)
        m = self.n_modalities
        bits = {
            "redundancy": math.log2(self.redundancy),
            **{f"unique{i + 1}": math.log2(self.unique[i]) for i in range(m)},
            "synergy": binary_entropy(1.0 / self.synergy) if self.biased_pairing else math.log2(self.synergy),
        }
        atoms = {name: (value if task in (name, "all") else 0.0) for name, value in bits.items()}
        accuracy = {name: self._bayes(name) for name in bits} if task == "all" else {task: self._bayes(task)}
        n_classes = self._n_classes(task)
        return Truth(task, atoms, n_classes, 1.0 / n_classes, math.prod(accuracy.values()))

    def observed_atoms(self) -> dict[str, float]:
        """Exact PID atoms (bits) of (modality 1's observation, the other modalities' observations; `all`).

        `truth` gives the atoms of the latent factors; noise takes some bits away and turns a little
        redundancy into synergy (the rest's extra views of r add to one view only jointly). The factors
        are independent, so the atoms add up over them (BROJA is additive over independent subsystems, a
        test checks it), and each factor's share has a closed form. One view of r is a garbling of any
        other set of views, so BROJA gives r's redundancy I(1 view; r), the rest's uniqueness
        I(M-1 views; r) - I(1 view; r) and synergy I(M views; r) - I(M-1 views; r). No proper subset of
        modalities says anything about the synergy label, so its bits are all synergy. The mixing maps are
        injective and the nuisance dimensions independent of everything, so neither changes the atoms.
        Information terms are 1-D integrals done by a fixed-seed Monte Carlo over exact posteriors
        (`bayes`), within about 1e-3 bit.
        """
        m = self.n_modalities
        snr = bayes.snr(self.separation, self.noise)

        def views(n: int) -> float:  # n independent views of r act as one view with sqrt(n) times the snr
            return bayes.factor_information(self.redundancy, math.sqrt(n) * snr)

        label = self._synergy_label_bits(snr)
        unique = [bayes.factor_information(k, snr) for k in self.unique]
        return {
            "redundancy": views(1),
            "unique1": unique[0],
            "unique2": sum(unique[1:]) + views(m - 1) - views(1),
            "synergy": label + views(m) - views(m - 1),
        }

    def usable_atoms(self, linear: bool = True, synergy_feature: bool = False) -> dict[str, float]:
        """Exact usable-information PID (bits) of readouts of the raw observations (modality 1 against the
        other modalities; `all`), as `estimators.usable_pid` defines it: R, U1, U2 are `observed_atoms`'s,
        since each modality's Bayes posterior is what its readout learns; S is what the joint readout uses
        beyond a readout of the modality-wise readouts' logits (late fusion), which already combines the
        views of r (their log-likelihoods add).

        `linear=True` (linear readouts; linear mixing only): each factor block is a class prototype plus
        isotropic Gaussian noise and the mixing an isometry, so each modality's Bayes posterior is
        linear-logistic, and the synergy label has the same conditional mean under every class: S = 0.
        `linear=False` (readouts that learn the Bayes posteriors): S is all the synergy label's bits.
        `synergy_feature=True`: the joint representation also holds the synergy label one-hot (one that
        linearises it), so the joint readout uses its whole entropy: S = H(synergy label)."""
        if linear and self.mixing != "linear":
            raise ValueError(f"usable_atoms(linear=True) needs mixing='linear', got {self.mixing!r}")
        atoms = self.observed_atoms()
        if synergy_feature:
            atoms["synergy"] = self.truth("synergy").atoms["synergy"]
        else:
            atoms["synergy"] = (
                0.0 if linear else self._synergy_label_bits(bayes.snr(self.separation, self.noise))
            )
        return atoms

    def _synergy_label_bits(self, snr: float) -> float:
        """I(all observations; synergy label) in bits, every modality at signal-to-noise ratio `snr`."""
        snrs = (snr,) * self.n_modalities
        if self.biased_pairing:
            return bayes.matching_information(self.synergy, snrs, tuple(self.permutation.tolist()))
        return bayes.sum_mod_information(self.synergy, snrs)

    def _bayes(self, task: str) -> float:
        snr = bayes.snr(self.separation, self.noise)
        if (
            task == "redundancy"
        ):  # M independent views of r: the sufficient statistic has sqrt(M) times the snr
            return bayes.factor_accuracy(self.redundancy, math.sqrt(self.n_modalities) * snr)
        if task.startswith("unique"):
            return bayes.factor_accuracy(self._n_classes(task), snr)
        snrs = (snr,) * self.n_modalities
        if self.biased_pairing:
            return bayes.matching_balanced_accuracy(self.synergy, snrs, tuple(self.permutation.tolist()))
        return bayes.sum_mod_accuracy(self.synergy, snrs)

    def latent_table(self, task: str, split: str = "test") -> np.ndarray:
        """Exact joint distribution p[x1, ..., xM, y] of each modality's latent factors and the label.

        x_m indexes modality m's factor tuple (r, u_m, s_m) in row-major order. `split="pretrain"` gives the
        biased pre-training distribution when `biased_pairing` is on: the mixture of `biased_fraction` of
        the bijection's pairs and the rest unbiased.
        """
        self._check_task(task)
        check_choice("split", split, SPLITS)
        m = self.n_modalities
        names = ["r", *(f"u{i + 1}" for i in range(m)), *(f"s{i + 1}" for i in range(m))]
        sizes = [self.redundancy, *self.unique, *([self.synergy] * m)]
        grid = np.indices(sizes).reshape(len(sizes), -1)
        factors = dict(zip(names, grid, strict=True))
        weights = np.ones(grid.shape[1])
        if self.biased_pairing and split == "pretrain":
            obeys = factors[f"s{m}"] == self.permutation[self._partial_sum(factors)]
            weights = self.biased_fraction * obeys / obeys.mean() + (1.0 - self.biased_fraction)
        states = []
        for i in range(m):
            classes = self.factor_classes(i)
            states.append(np.ravel_multi_index([factors[f] for f in classes], list(classes.values())))
        label = self.labels(factors)[task]
        shape = [math.prod(self.factor_classes(i).values()) for i in range(m)] + [self._n_classes(task)]
        table = np.zeros(shape)
        np.add.at(table, (*states, label), weights)
        return table / table.sum()

    def config(self) -> dict:
        """The knobs as a JSON-ready dict (the generator's identity). `biased_fraction` is recorded only when
        it is not 1, so that the keys of runs stored before it existed still name the same data."""
        config = {"generator": "factors", **asdict(self), "unique": list(self.unique)}
        if self.biased_fraction == 1.0:
            del config["biased_fraction"]
        return config

    def with_knobs(self, **knobs: object) -> FactorGenerator:
        """This generator with some knobs changed (an interaction map's sweep), validated as a new one.
        `mlp_depth=0` means linear mixing and `mlp_depth >= 1` MLP mixing of that depth, so that one knob
        sweeps the nonlinearity from none up."""
        if "mlp_depth" in knobs and "mixing" not in knobs:
            depth = check_int("mlp_depth", knobs["mlp_depth"], 0)
            knobs["mixing"] = "mlp" if depth else "linear"
            knobs["mlp_depth"] = depth or self.mlp_depth  # linear mixing keeps the (unused) depth
        return dataclass_with_knobs(self, knobs)


def bimodal(
    redundancy: int = 2, unique1: int = 2, unique2: int = 2, synergy: int = 2, **knobs: object
) -> FactorGenerator:
    """The bimodal factor generator: one class count per information type (log2 K bits each)."""
    return FactorGenerator(
        n_modalities=2, redundancy=redundancy, unique=(unique1, unique2), synergy=synergy, **knobs
    )


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A random rows x cols matrix with orthonormal columns (rows >= cols)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


# Benchmark presets of the factor generators (the grid's vector scale).
register_generator(
    GeneratorPreset(
        "bimodal_1bit",
        lambda: bimodal(),
        "1 bit each of R, U1, U2 and S (XOR): the reference point, every type present.",
    )
)
register_generator(
    GeneratorPreset(
        "synergy_heavy",
        lambda: bimodal(redundancy=2, unique1=1, unique2=1, synergy=4),
        "1 bit R, no uniqueness, 2 bits of synergy (sum mod 4): whether an objective keeps a multi-class "
        "synergy that a random network does not hand it.",
    )
)
register_generator(
    GeneratorPreset(
        "biased_synergy",
        lambda: bimodal(synergy=2, biased_pairing=True),
        "CoMM's biased pairing: pre-training pairs obey s2 = pi(s1), probing is on unbiased pairs with the "
        "label 1[s2 = pi(s1)]; synergy can only be learned jointly (fused objectives).",
    )
)
register_generator(
    GeneratorPreset(
        "trimodal",
        lambda: FactorGenerator(n_modalities=3),
        "3 modalities, 1 bit each of R, U1, U2, U3 and S = s1 + s2 + s3 mod 2: the n-modal case.",
    )
)
register_generator(
    GeneratorPreset(
        "narrow_nuisance",
        lambda: bimodal(nuisance_dim=24, nuisance_std=2.0, dim=48),
        "1 bit each of R, U1, U2, S, 24 loud nuisance dimensions (std 2) per modality and an 8-wide "
        "representation: objectives cannot keep everything and must choose.",
        model={"embed_dim": 8, "fusion_heads": 2},  # the representation is narrower than the factors
    )
)
