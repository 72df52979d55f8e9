"""Bad input gets a clear ValueError naming the problem (or correct output), never a silently wrong number:
labels, selections, options, tiny samples, stale runs, the CLI, the store, checkpoints, training data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli

from estimators import (
    Discretizer,
    LinearProbe,
    broja_pid,
    encode,
    joint_table,
    probe_score,
    representation_pid,
    table_pid,
)
from generators import FactorGenerator, bimodal
from interactions.cli import main as cli_main
from interactions.grid import code_fingerprint, grid, run_grid
from interactions.models import ModelConfig
from interactions.objectives import Objective, build_objective, register_objective
from interactions.objectives.base import concatenated_representations
from interactions.presets import Preset
from interactions.report import write_reports
from interactions.store import ResultsStore, StoreError, run_id
from interactions.train import TrainConfig, load_checkpoint, save_checkpoint, train

SMALL = ModelConfig(embed_dim=8, encoder_hidden=16, fusion_heads=2, head_hidden=16, head_out=8)
TINY = Preset("tiny", ("bimodal_1bit",), ("cross",), (0,), 600, 400, 400, 1200, 2, (0, 2),
              n_permutations=3, n_bootstrap=4)  # fmt: skip


# ---- labels and codes: NaN or fractional values are refused, integral floats mean what they say ----------
def _codes(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c1, c2 = rng.integers(0, 3, n), rng.integers(0, 3, n)
    return c1, c2, (c1 + c2) % 4


@pytest.mark.parametrize("bad", [np.nan, 0.5, np.inf])
def test_nan_or_fractional_labels_are_refused_everywhere(bad: float) -> None:
    c1, c2, y = _codes()
    labels = y.astype(float)
    labels[7] = bad
    z = np.random.default_rng(1).normal(size=(len(y), 4))
    for call in (
        lambda: table_pid(c1, c2, labels, n_permutations=2, n_bootstrap=2),
        lambda: representation_pid(z, z, labels, n_permutations=2, n_bootstrap=2),
        lambda: joint_table(c1, labels),
        lambda: encode(c1, labels),
        lambda: probe_score("linear", z, labels, z, labels),
    ):
        with pytest.raises(ValueError, match=r"labels|codes"):
            call()


def test_integral_float_labels_give_the_same_pid_as_integers() -> None:
    c1, c2, y = _codes()
    as_int = table_pid(c1, c2, y, n_permutations=2, n_bootstrap=2)
    as_float = table_pid(c1.astype(float), c2.astype(float), y.astype(float), n_permutations=2, n_bootstrap=2)
    assert as_int == as_float and as_int.n_labels == 4


def test_numpy_scalars_are_accepted_as_knobs() -> None:
    c1, c2, y = _codes()
    table = joint_table(c1, c2, y % 2)
    assert broja_pid(table, tol_bits=np.float64(1e-9)).gap_bits < 1e-8
    assert Discretizer(np.int64(3), n_components=np.int32(2)).fit_transform(np.eye(5)[c1]).max() == 2
    pid = table_pid(
        c1,
        c2,
        y,
        n_permutations=np.int64(2),
        n_bootstrap=np.int64(2),
        confidence=np.float32(0.9),
        bias="permutation",
    )
    assert pid.n_permutations == 2
    supervised = build_objective("supervised", [4, 4], SMALL, n_classes=np.int64(4))
    assert supervised.options()["n_classes"] == 4


def test_a_probe_with_too_few_samples_per_class_says_so_before_fitting() -> None:
    x = np.random.default_rng(0).normal(size=(12, 3))
    y = np.array([0] * 6 + [1] * 5 + [2])
    with pytest.raises(ValueError, match="class 2 with 1"):
        LinearProbe().fit(x, y)
    with pytest.raises(ValueError, match="at least 3 samples on each side"):
        LinearProbe().fit(x[:4], np.array([0, 1, 2, 0]))


def test_factor_generator_class_counts_must_be_integers() -> None:
    for unique in (2.5, None, "2", True):
        with pytest.raises(ValueError, match="unique must be one class count"):
            FactorGenerator(unique=unique)
    with pytest.raises(ValueError, match="unique2 must be an integer"):
        FactorGenerator(unique=(2, 2.5))


# ---- objectives, training and checkpoints ---------------------------------------------------------------
class _Scaled(Objective):
    """A plug-in with an option and no options() override."""

    def __init__(self, modality_dims, model=None, scale: float = 1.0):
        super().__init__(modality_dims, model)
        self.scale = scale
        self.encoders = torch.nn.ModuleList([torch.nn.Linear(d, 4) for d in self.modality_dims])

    def loss(self, views):
        z1, z2 = (e(x) for e, x in zip(self.encoders, views.first, strict=True))
        return {"loss": self.scale * ((z1 - z2) ** 2).mean()}

    def represent(self, xs):
        return concatenated_representations(
            lambda xs: [e(x) for e, x in zip(self.encoders, xs, strict=True)], xs
        )


class _Hidden(_Scaled):
    def __init__(self, modality_dims, model=None, factor: float = 2.0):
        super().__init__(modality_dims, model, scale=factor)  # stored as `scale`, not `factor`


register_objective("test_scaled")(_Scaled)
register_objective("test_hidden_option")(_Hidden)


@pytest.mark.parametrize("views", [(), ("clean", "crops")])
def test_an_objective_must_train_on_known_views(views: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"_Typo.trains_on must name one or more of clean, light"):

        class _Typo(_Scaled):
            trains_on = views


def test_a_plugin_without_options_override_keeps_its_options_through_a_checkpoint(tmp_path: Path) -> None:
    objective = build_objective("test_scaled", [3, 3], scale=2.5)
    save_checkpoint(tmp_path / "ckpt", objective)
    assert load_checkpoint(tmp_path / "ckpt", device="cpu").scale == 2.5
    with pytest.raises(ValueError, match=r"no attribute for its option\(s\) factor"):
        save_checkpoint(tmp_path / "other", build_objective("test_hidden_option", [3, 3], factor=3.0))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (
            lambda d: (d / "weights.pt").write_bytes((d / "weights.pt").read_bytes()[:200]),
            "weights.pt cannot be",
        ),
        (lambda d: (d / "weights.pt").write_bytes(b""), "weights.pt cannot be"),
        (
            lambda d: (d / "config.json").write_text((d / "config.json").read_text()[:40]),
            "config.json is not",
        ),
        (lambda d: (d / "weights.pt").unlink(), "weights.pt is missing"),
    ],
    ids=["truncated weights", "empty weights", "truncated config", "missing weights"],
)
def test_a_damaged_checkpoint_names_its_file(tmp_path: Path, damage, match: str) -> None:
    folder = save_checkpoint(tmp_path / "ckpt", build_objective("cross", [4, 4], SMALL))
    damage(folder)
    with pytest.raises(ValueError, match=match):
        load_checkpoint(folder, device="cpu")


def test_train_checks_its_data_at_the_entry() -> None:
    gen = bimodal()
    sample = gen.sample(64, seed=0)
    config = TrainConfig(epochs=1, batch_size=32, device="cpu")
    cross = build_objective("cross", [32, 32], SMALL)
    cases = [
        (cross, sample.__class__(tuple(x.astype(np.float64) for x in sample.modalities), sample.labels),
         "modality 1 must be float32"),
        (cross, sample.__class__(sample.modalities[:1], sample.labels), "must have 2 modalities"),
        (build_objective("cross", [32, 10], SMALL), sample, r"modality 2 must have shape \(n, 10\)"),
        (build_objective("supervised", [32, 32], SMALL, task="all", n_classes=4), sample,
         "n_classes must exceed every label"),
        (build_objective("supervised", [32, 32], SMALL, task="colour"), sample, "task must be one of"),
        (cross, gen.sample(1, seed=0), "at least 2 samples"),
    ]  # fmt: skip
    for objective, data, match in cases:
        with pytest.raises(ValueError, match=match):
            train(objective, data, config)


# ---- the grid, the store and stale runs ----------------------------------------------------------------
def test_an_empty_selection_is_an_error_not_everything() -> None:
    for selection in ({"generators": []}, {"objectives": []}, {"seeds": []}):
        with pytest.raises(ValueError, match="must name at least one"):
            grid("smoke", **selection)


def test_stale_runs_are_reported_and_recomputed_on_request(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    (spec,) = grid(TINY, objectives=["random_encoders"], device="cpu")
    assert run_grid([spec], store, log=None)["trained"] == 1
    key = run_id(spec.config())
    assert json.loads(store.run(key)["meta"])["code"] == code_fingerprint()
    summary = write_reports(store, tmp_path / "reports")["summary"].read_text()
    assert "Summarises 1 runs" in summary and "Stale runs" not in summary
    # The same run as another version of the code stored it: same key, other fingerprint.
    row = store.run(key)
    rows = store.scores()[["task", "probe", "metric", "epoch", "value"]].itertuples(index=False)
    store.record(key, json.loads(row["config"]), [tuple(r) for r in rows],
                 meta={**json.loads(row["meta"]), "code": "0" * 16})  # fmt: skip
    assert run_grid([spec], store, log=None) == {
        "trained": 0,
        "cached": 1,
        "failed": 0,
        "stale": 1,
        "retried": 0,
    }
    summary = write_reports(store, tmp_path / "reports")["summary"].read_text()
    assert "**Stale runs:** 1 of them" in summary and "bimodal_1bit / random_encoders / seed 0" in summary
    assert run_grid([spec], store, log=None, stale="recompute")["trained"] == 1
    assert json.loads(store.run(key)["meta"])["code"] == code_fingerprint()


def test_the_store_names_its_file_when_it_cannot_be_used(tmp_path: Path) -> None:
    directory = tmp_path / "folder.sqlite"
    directory.mkdir()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not an SQLite file " * 100)
    truncated = tmp_path / "truncated.sqlite"
    ResultsStore(truncated).record(
        "k", {"objective": {"arm": "a"}, "generator": {"preset": "g"}, "seed": 0}, []
    )
    truncated.write_bytes(truncated.read_bytes()[:100])
    for path, match in (
        (directory, "is a directory"),
        (garbage, "not a readable results store"),
        (truncated, "not a readable results store"),
        (Path("/proc/results.sqlite"), "cannot open it"),
    ):
        with pytest.raises(StoreError, match=str(path)) as error:
            ResultsStore(path).runs()
        assert match in str(error.value)
    with pytest.raises(ValueError, match="holds no finished run"):
        write_reports(ResultsStore(tmp_path / "empty.sqlite"), tmp_path / "reports")


# ---- the command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["grid", "--objectives", ""], "objectives must name at least one"),
        (["grid", "--generators", ","], "generators must name at least one"),
        (["run", "--objective", "simclr9000", "--generator", "bimodal_1bit"], "objective must be one of"),
        (["run", "--objective", "comm", "--generator", "mnist"], "generators must be among"),
        (["run", "--objective", "comm", "--generator", "bimodal_1bit", "--seed", "-1"], "seeds must be"),
        (["run", "--objective", "comm", "--generator", "bimodal_1bit", "--device", "tpu"], "device must be"),
        (["run", "--objective", "comm", "--generator", "bimodal_1bit", "--device", "cuda"], "CUDA is not"),
        (["grid", "--store", "."], "is a directory"),
        (["report", "--store", "{tmp}/empty.sqlite"], "no results store at"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path: Path, args: list[str], match: str) -> None:
    if match == "CUDA is not" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = (
        run_cli(*args, "--workers", "1", cwd=tmp_path)
        if args[0] != "report"
        else run_cli(*args, cwd=tmp_path)
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and match in result.stderr.splitlines()[-1]
    assert not (tmp_path / "reports").exists()  # nothing sampled, trained or written


def test_cli_help_lists_the_generator_presets_and_grid_arms(capsys) -> None:
    with pytest.raises(SystemExit) as exit_code:
        cli_main(["grid", "--help"])
    out = capsys.readouterr().out
    assert exit_code.value.code == 0
    assert "bimodal_1bit" in out and "trifeature_biased" in out and "random_encoders" in out
    assert "--workers" in out and "--backend" in out and "--stale" in out
