"""Fuzz: random bad tables, labels and configurations fed to the public estimators, generators, configs and
the CLI. Each call either succeeds with a valid result or raises ValueError: never another exception type,
never a silently wrong number. Seeded, so a failure reproduces."""

from __future__ import annotations

import math
import re
from functools import partial

import numpy as np
import pytest

from estimators import (
    Discretizer,
    LinearProbe,
    broja_pid,
    encode,
    joint_table,
    representation_pid,
    table_pid,
)
from generators import FactorGenerator, TrifeatureGenerator
from interactions.cli import main as cli_main
from interactions.models import ModelConfig
from interactions.train import TrainConfig

ODD_VALUES = [
    0,
    1,
    2,
    -1,
    2.5,
    np.nan,
    np.inf,
    None,
    "2",
    True,
    (2, 2),
    [],
    np.int64(3),
    np.float32(0.5),
    1e9,
]


def _odd_array(rng: np.random.Generator) -> object:
    """An array-like that may be fine or wrong in shape, dtype, values or length."""
    n = int(rng.choice([0, 1, 2, 5, 40]))
    kind = rng.integers(9)
    if kind == 0:
        return rng.integers(0, 4, n)
    if kind == 1:
        return rng.integers(0, 4, n).astype(float) + rng.choice([0.0, 0.5], n)
    if kind == 2:
        a = rng.integers(0, 4, n).astype(float)
        a[rng.random(n) < 0.2] = np.nan
        return a
    if kind == 3:
        return rng.integers(-3, 4, n)
    if kind == 4:
        return np.array(["a", "b"] * (n // 2))
    if kind == 5:
        return rng.integers(0, 4, (n, 2))
    if kind == 6:
        return rng.random(n) > 0.5
    if kind == 7:
        return [None] * n
    return rng.normal(size=(n, 3))


def _odd_table(rng: np.random.Generator) -> object:
    shape = tuple(int(s) for s in rng.integers(0, 4, rng.integers(0, 5)))
    p = rng.random(shape)
    kind = rng.integers(6)
    if kind == 0 and p.size:
        p = p / p.sum()
    elif kind == 1 and p.size:
        p = p / p.sum()
        p.flat[0] = np.nan
    elif kind == 2:
        p = -p
    elif kind == 3:
        return np.full(shape, "x")
    elif kind == 4 and p.size:
        p = p / p.sum() * 1.01
    return p


def _check_pid(result) -> None:
    atoms = (result.redundancy, result.unique1, result.unique2, result.synergy)
    assert all(math.isfinite(a) and a > -1e-6 for a in atoms)
    assert sum(atoms) == pytest.approx(result.mi_x1x2_y, abs=1e-6)


def _either_valid_or_value_error(call, check=lambda result: None) -> str:
    try:
        result = call()
    except ValueError:
        return "error"
    check(result)
    return "ok"


def test_estimators_on_random_bad_tables_and_labels() -> None:
    rng = np.random.default_rng(2026)
    outcomes = []
    for _ in range(60):
        outcomes.append(_either_valid_or_value_error(lambda: broja_pid(_odd_table(rng)), _check_pid))
    for _ in range(60):
        a, b, y = _odd_array(rng), _odd_array(rng), _odd_array(rng)
        z = rng.normal(size=(len(np.atleast_1d(y)), 3)) if np.ndim(y) else rng.normal(size=(3, 3))
        calls = [
            (partial(joint_table, a, b), None),
            (partial(encode, a, y), None),
            (partial(table_pid, a, b, y, n_permutations=1, n_bootstrap=2), _check_pid_estimate),
            (partial(representation_pid, z, z, y, n_permutations=1, n_bootstrap=2), _check_pid_estimate),
            (partial(_probe, z, y), None),
        ]
        outcomes += [_either_valid_or_value_error(call, check or (lambda r: None)) for call, check in calls]
    assert {"ok", "error"} <= set(outcomes)  # the fuzz reached both sides


def _probe(z: np.ndarray, y: object) -> object:
    return LinearProbe(Cs=(1.0,)).fit(z, y).score(z, y)


def _check_pid_estimate(result) -> None:
    for atom in result.atoms.values():
        assert all(math.isfinite(v) for v in (atom.corrected, atom.raw, atom.bias, atom.low, atom.high))


@pytest.mark.parametrize(
    "make",
    [
        lambda **k: FactorGenerator(**k),
        lambda **k: TrifeatureGenerator(**k),
        lambda **k: ModelConfig(**k),
        lambda **k: TrainConfig(**k),
        lambda **k: Discretizer(**k),
    ],
    ids=["FactorGenerator", "TrifeatureGenerator", "ModelConfig", "TrainConfig", "Discretizer"],
)
def test_configurations_with_random_bad_knobs(make) -> None:
    knobs = {
        "FactorGenerator": ["n_modalities", "redundancy", "unique", "synergy", "noise", "separation", "dim",
                            "nuisance_dim", "mixing", "seed", "biased_pairing"],
        "TrifeatureGenerator": ["size", "train_renders", "test_renders", "biased_pairing", "texture_period",
                                "seed"],
        "ModelConfig": ["embed_dim", "encoder_hidden", "fusion_heads", "adapter", "image_encoder",
                        "image_grid"],
        "TrainConfig": ["epochs", "batch_size", "lr", "weight_decay", "schedule", "seed"],
        "Discretizer": ["n_clusters", "n_components", "normalize", "seed"],
    }  # fmt: skip
    rng = np.random.default_rng(7)
    outcomes = set()
    name = next(k for k in knobs if _builds(make, k))
    for _ in range(80):
        chosen = rng.choice(knobs[name], size=rng.integers(1, 3), replace=False)
        config = {str(k): ODD_VALUES[rng.integers(len(ODD_VALUES))] for k in chosen}
        if name == "Discretizer":
            config.setdefault("n_clusters", 2)
        outcomes.add(_either_valid_or_value_error(partial(make, **config)))
    assert "error" in outcomes


def _builds(make, name: str) -> bool:
    """Which configuration class `make` builds (by a call with the class's required knobs only)."""
    try:
        made = make(**({"n_clusters": 2} if name == "Discretizer" else {}))
    except (TypeError, ValueError):
        return False
    return type(made).__name__ == name


def test_cli_with_random_bad_arguments_exits_2_with_a_message(capsys) -> None:
    rng = np.random.default_rng(11)
    bad = [
        ["--seeds", "-3"], ["--seeds", "x"], ["--device", "gpu9"], ["--objectives", ""],
        ["--generators", ",,"], ["--preset", "huge"], ["--workers", "0"], ["--workers", "two"],
        ["--backend", "slurm"],
        ["--stale", "maybe"], ["--objectives", "nope"], ["--generators", "mnist"],
        ["--store", "/proc/x.sqlite"],
    ]  # fmt: skip
    for _ in range(25):
        picks = [bad[i] for i in rng.choice(len(bad), size=rng.integers(1, 3), replace=False)]
        args = ["grid", *(token for pair in picks for token in pair)]
        with pytest.raises(SystemExit) as exit_code:
            cli_main(args)
        err = capsys.readouterr().err
        assert exit_code.value.code == 2, (args, err)
        assert "Traceback" not in err
        assert re.match(r"interactions( grid)?: error: ", err.strip().splitlines()[-1]), err
