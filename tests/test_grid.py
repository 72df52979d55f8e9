"""The grid, the results store and the reports: caching, failures, kill -9 and resume, plug-ins."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import child_pids, is_alive

from interactions import report
from interactions.cli import main as cli_main
from interactions.grid import grid, run_grid
from interactions.objectives import register_objective
from interactions.objectives.cross import Cross
from interactions.presets import Preset
from interactions.report import markdown, write_reports
from interactions.store import ResultsStore, run_id
from interactions.train import TrainingDiverged

TINY = Preset(
    "tiny",
    ("bimodal_1bit",),
    ("cross",),
    (0,),
    600,
    400,
    400,
    1200,
    2,
    (0, 2),
    n_permutations=3,
    n_bootstrap=4,
)


def _done(store: Path) -> set[str]:
    if not store.exists():
        return set()
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return {r[0] for r in db.execute("SELECT run_id FROM runs WHERE status = 'done'")}
    except sqlite3.OperationalError:
        return set()


def test_runs_are_cached_forced_and_failures_recorded(tmp_path: Path, monkeypatch) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    specs = grid(TINY, objectives=["cross", "random_encoders"], device="cpu")
    assert run_grid(specs, store, log=None) == {
        "trained": 2,
        "cached": 0,
        "failed": 0,
        "stale": 0,
        "retried": 0,
    }
    assert run_grid(specs, store, log=None) == {
        "trained": 0,
        "cached": 2,
        "failed": 0,
        "stale": 0,
        "retried": 0,
    }
    assert run_grid(specs[:1], store, force=True, log=None)["trained"] == 1
    scores = store.scores()
    # One run per (objective, generator, seed) counts, and a store never mixes scales: another preset's
    # grid is refused before it runs.
    other = grid(replace(TINY, name="tinier", n_pretrain=500), objectives=["cross"])
    with pytest.raises(ValueError, match="holds preset 'tiny' runs; this grid is preset 'tinier'"):
        run_grid(other, store, log=None)
    assert len(store.runs()) == 2
    assert len(store.scores().groupby(["objective", "generator", "seed"])) == 2
    assert store.scores(version=12345).empty
    assert set(scores["probe"]) == {"linear", "mlp", "pid", "usable_pid"}
    assert set(scores.loc[scores["epoch"].notna(), "epoch"]) == {0, 2}  # learning-dynamics checkpoints

    def diverge(spec):
        raise TrainingDiverged(1, 3, float("nan"))

    monkeypatch.setattr("interactions.grid.run_one", diverge)
    failing = grid(TINY, objectives=["cross_self", "comm"], device="cpu")
    # In this process (workers=1), where the patched run_one is seen.
    assert run_grid(failing, store, log=None, workers=1) == {
        "trained": 0,
        "cached": 0,
        "failed": 2,
        "stale": 0,
        "retried": 0,
    }
    runs = store.runs().set_index("run_id")
    assert runs.loc[run_id(failing[0].config()), "status"] == "failed"
    assert "epoch 1, step 3" in runs.loc[run_id(failing[0].config()), "reason"]
    paths = write_reports(store, tmp_path / "reports")
    assert "Failed runs" in paths["summary"].read_text()


def test_a_killed_grid_retrains_only_unfinished_runs(tmp_path: Path) -> None:
    store = tmp_path / "r.sqlite"
    arms = "random_encoders,random_fused,cross,cross_self"
    command = [
        sys.executable,
        "-m",
        "interactions.cli",
        "grid",
        "--preset",
        "smoke",
        "--generators",
        "bimodal_1bit",
        "--objectives",
        arms,
        "--device",
        "cpu",
        "--store",
        str(store),
        "--reports",
        str(tmp_path / "reports"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    workers: set[int] = set()  # the driver's pool (two workers by default on two cores)
    while len(_done(store)) < 2 and time.time() < deadline and process.poll() is None:
        workers |= child_pids(process.pid)
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = _done(store)
    assert 2 <= len(finished) < 4, "the kill came too late to interrupt a run"
    deadline = time.time() + 60  # orphaned workers finish the run in hand, then find no driver and exit
    while [p for p in workers if is_alive(p)] and time.time() < deadline:
        time.sleep(0.5)
    assert workers and not [p for p in workers if is_alive(p)]
    specs = grid("smoke", ["bimodal_1bit"], arms.split(","), device="cpu")
    counts = run_grid(specs, ResultsStore(store), log=None)
    assert counts == {
        "trained": 4 - len(finished),
        "cached": len(finished),
        "failed": 0,
        "stale": 0,
        "retried": 0,
    }
    assert finished <= _done(store) and len(_done(store)) == 4


# An out-of-tree objective in a few lines: Cross under another name, registered from outside the package.
register_objective("test_plugin_align")(type("PluginCross", (Cross,), {}))


def test_a_plugin_objective_selected_by_name_appears_in_the_reports(tmp_path: Path, capsys) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    run_grid(grid(TINY, objectives=["test_plugin_align"], device="cpu"), store, log=None)
    paths = write_reports(store, tmp_path / "reports")
    assert "| test_plugin_align |" in paths["summary"].read_text()
    assert all(p.exists() for p in paths.values())
    assert "test_plugin_align" in set(store.scores()["objective"])
    # The CLI regenerates the reports from the store alone, and no figure of an earlier report survives.
    os.remove(paths["summary"])
    stale = [tmp_path / "reports" / name for name in ("dynamics.png", "pid_dynamics.png", "accuracy.pdf")]
    for path in stale:
        path.write_bytes(b"an old figure")
    (tmp_path / "reports" / "notes.png").write_bytes(b"not a report figure")
    assert cli_main(["report", "--store", str(store.path), "--out", str(tmp_path / "reports")]) == 0
    assert paths["summary"].exists() and not any(path.exists() for path in stale)
    assert (tmp_path / "reports" / "notes.png").exists()
    assert {"fingerprint.png", "fingerprint.pdf", "pid.pdf", "cost.png", "dynamics_bimodal_1bit.pdf"} <= {
        p.name for p in (tmp_path / "reports").iterdir()
    }
    # A store without a finished run is an error that says why, with a non-zero exit.
    ResultsStore(tmp_path / "empty.sqlite").runs()
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["report", "--store", str(tmp_path / "empty.sqlite"), "--out", str(tmp_path / "empty")])
    assert exit_info.value.code == 2 and "holds no finished run" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists()


def test_reports_are_redrawn_only_when_what_they_show_changed(tmp_path: Path, monkeypatch) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    specs = grid(TINY, objectives=["random_encoders", "cross"], device="cpu")
    run_grid(specs, store, log=None)
    out = tmp_path / "reports"
    paths = write_reports(store, out)
    written = {path: path.stat().st_mtime_ns for path in paths.values()}
    draws = []
    draw = report._draw_reports
    monkeypatch.setattr(report, "_draw_reports", lambda *args: draws.append(1) or draw(*args))
    (out / "dynamics.png").write_bytes(b"an old figure")
    assert write_reports(store, out) == paths and not draws
    assert {path: path.stat().st_mtime_ns for path in paths.values()} == written
    assert not (out / "dynamics.png").exists()  # a stale figure goes even when nothing is redrawn
    # A missing file, or a store that changed, redraws everything.
    paths["pid.png"].unlink()
    assert write_reports(store, out) == paths and len(draws) == 1 and paths["pid.png"].exists()
    store.record("extra", specs[1].config(), [], status="failed", reason="a test failure")
    assert "Failed runs" in write_reports(store, out)["summary"].read_text() and len(draws) == 2


def test_cli_run_prints_final_scores_apart_from_checkpoint_scores(tmp_path: Path, capsys) -> None:
    code = cli_main(
        [
            "run",
            "--objective",
            "cross",
            "--generator",
            "bimodal_1bit",
            "--preset",
            "smoke",
            "--device",
            "cpu",
            "--store",
            str(tmp_path / "r.sqlite"),
        ]
    )
    out = capsys.readouterr().out
    final, checkpoints = out.split("== checkpoint scores by epoch")
    assert code == 0 and "== final scores: probes" in final and "balanced_accuracy" in final
    pid = final.split("== final scores: PID")[1].splitlines()
    assert {"corrected", "low", "high"} <= set(pid[1].split()) and [line.split()[0] for line in pid[3:7]] == [
        "redundancy", "unique1", "unique2", "synergy"]  # fmt: skip
    epochs = [line.split()[0] for line in checkpoints.splitlines()[4:]]
    assert epochs == ["0", "2", "4"]  # the smoke preset's checkpoints, one row each


def test_grid_selection_errors() -> None:
    with pytest.raises(ValueError, match="preset"):
        grid("huge")
    with pytest.raises(ValueError, match="generators"):
        grid("smoke", generators=["mnist"])
    with pytest.raises(ValueError, match="objective must be one of"):
        grid("smoke", objectives=["simclr9000"])


def test_each_objective_s_views_and_augmentations_are_part_of_its_run_configuration() -> None:
    """On images Cross aligns light crops (area 0.5-1, no colour, flip or blur) and CoMM two SimCLR views;
    the run configuration (hashed into the run key) records both augmentations and the views each objective
    trains on. Vector runs have no light transform (Cross aligns the clean pair)."""
    specs = {s.arm: s for s in grid("quick", ["trifeature"], ["cross", "cross_self", "comm"], [0])}
    configs = {arm: spec.config() for arm, spec in specs.items()}
    light = configs["cross"]["train"]["light_augment"]
    assert tuple(light["crop_scale"]) == (0.5, 1.0) and not light["color_jitter"]
    assert light["flip_p"] == 0.0 and light["blur_p"] == 0.0
    assert tuple(configs["comm"]["train"]["augment"]["crop_scale"]) == (0.08, 1.0)
    assert configs["cross"]["objective"]["trains_on"] == ["light"]
    assert configs["cross_self"]["objective"]["trains_on"] == ["light", "first", "second"]
    assert configs["comm"]["objective"]["trains_on"] == ["first", "second"]
    (vector,) = grid("quick", ["bimodal_1bit"], ["cross"], [0])
    assert vector.config()["train"]["light_augment"] is None


def test_image_generators_get_their_preset_scale() -> None:
    """Trifeature runs use the preset's image scale: 32 px and a small CNN at quick, CoMM's protocol
    (224 px, AlexNet trunks, width 512) at paper; the vector generators keep the preset's own sizes."""
    import torch

    from interactions.objectives import build_objective

    (quick,) = grid("quick", ["trifeature"], ["comm"], [0])
    (vector,) = grid("quick", ["bimodal_1bit"], ["comm"], [0])
    assert quick.build_generator().size == 32 and quick.model().image_channels == 32
    assert quick.scale.n_pretrain == 1280 and vector.scale.n_pretrain == 4000
    assert quick.train_config().augment.__class__.__name__ == "ImageAugment"
    assert quick.config()["scoring"]["n_pid"] == 2000 and run_id(quick.config()) != run_id(vector.config())
    (paper,) = grid("paper", ["trifeature_biased"], ["infmasking"], [0])
    model = paper.model()
    assert paper.build_generator().size == 224 and paper.build_generator().biased_pairing
    assert (model.image_encoder, model.embed_dim, model.image_grid) == ("alexnet", 512, 6)
    assert (paper.scale.n_pretrain, paper.scale.epochs, paper.scale.lr) == (10000, 100, 3e-4)
    objective = build_objective("infmasking", [(3, 224, 224)] * 2, model).eval()
    with torch.no_grad():
        rep = objective.represent([torch.rand(2, 3, 224, 224), torch.rand(2, 3, 224, 224)])
    assert rep.joint.shape == (2, 512)


def test_the_report_says_which_parts_of_the_trifeature_pattern_hold() -> None:
    """The Trifeature presets declare the paper's numbers and pattern; the report renders them generically."""
    import pandas as pd

    from generators import comparisons
    from interactions.report.markdown import _comparison_lines

    (trifeature,) = [c for c in comparisons() if "trifeature" in c.generators]

    def rows(generator: str, task: str, values: dict[str, float]) -> list[dict]:
        return [
            {"objective": o, "generator": generator, "task": task, "value": v, "probe": "linear",
             "metric": "balanced_accuracy"}
            for o, v in values.items()
        ]  # fmt: skip

    paper_like = pd.DataFrame(
        rows(
            "trifeature",
            "redundancy",
            {"comm": 0.999, "cross": 1.0, "cross_self": 0.997, "random_fused": 0.4},
        )
        + rows("trifeature", "unique1", {"cross": 0.116, "cross_self": 0.869})
        + rows("trifeature_biased", "synergy", {"comm": 0.719, "cross": 0.5, "cross_self": 0.5})
    )
    lines = _comparison_lines(trifeature, paper_like)
    assert "| comm | 99.9 (n=1) / 99.9 | – / 87.8 | 71.9 (n=1) / 71.9 | CoMM paper Fig. 4 |" in lines
    pattern = lines[lines.index("The paper's pattern at this scale:") :]
    assert sum("does not hold" in line for line in pattern) == 0
    assert sum(": holds" in line for line in pattern) == 4
    weak = paper_like.assign(value=paper_like["value"].where(paper_like["objective"] != "comm", 0.55))
    pattern = _comparison_lines(trifeature, weak)
    pattern = pattern[pattern.index("The paper's pattern at this scale:") :]
    assert "comm 55.0" in pattern[2] and "does not hold" in pattern[2] and "does not hold" in pattern[5]
    assert _comparison_lines(trifeature, paper_like[paper_like["generator"] == "bimodal_1bit"]) == []


def test_each_preset_keeps_its_store_and_reports_apart(tmp_path: Path, monkeypatch) -> None:
    """Only quick writes to reports/ (the committed reports); another preset's CLI defaults go to
    reports/<preset>/, so a medium or paper run never replaces a quick score."""
    from interactions.report import reports_dir

    assert reports_dir("quick") == Path("reports") and reports_dir("medium") == Path("reports/medium")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli_main(["report", "--preset", "medium"])  # no store there yet: a clear error, nothing written
    assert not (tmp_path / "reports").exists()


def test_stored_run_ids_are_unchanged() -> None:
    """Run keys of every preset's grid, recorded before generator presets moved into their registry: no
    committed result needs retraining. Update tests/data/run_ids.json only with a deliberate config change."""
    import json

    recorded = json.loads((Path(__file__).parent / "data" / "run_ids.json").read_text())
    for preset, ids in recorded.items():
        now = {f"{s.generator}/{s.arm}/{s.seed}": run_id(s.config()) for s in grid(preset)}
        assert now == ids, preset


def test_gain_over_init_is_the_score_minus_the_same_architecture_at_initialisation(tmp_path: Path) -> None:
    """Fused objectives are compared with random_fused, encoder objectives with random_encoders, on the same
    generator, seed, task, probe, metric and epoch; PID rows and the random arms themselves get no gain."""
    from interactions.report import tidy_scores

    store = ResultsStore(tmp_path / "r.sqlite")
    values = {"comm": 0.9, "cross": 0.8, "random_fused": 0.6, "random_encoders": 0.55}
    for arm, value in values.items():
        (spec,) = grid(TINY, objectives=[arm])
        rows = [("redundancy", "linear", "balanced_accuracy", None, value),
                ("redundancy", "linear", "balanced_accuracy", 0, value / 2),
                ("all", "pid", "synergy_corrected", None, 0.3)]  # fmt: skip
        store.record(run_id(spec.config()), spec.config(), rows)
    scores = tidy_scores(store).set_index(["objective", "probe", "epoch"])
    assert scores.loc[("comm", "linear", None), "gain_over_init"].item() == pytest.approx(0.3)
    assert scores.loc[("cross", "linear", None), "gain_over_init"].item() == pytest.approx(0.25)
    assert scores.loc[("cross", "linear", 0), "gain_over_init"].item() == pytest.approx(0.125)
    assert scores.loc[("random_fused", "linear", None), "gain_over_init"].item() == pytest.approx(0.0)
    assert scores.xs("pid", level="probe")["gain_over_init"].isna().all()


def test_the_harness_names_no_generator_preset() -> None:
    """Generator presets live beside their generators: the grid, the report and the CLI read declarations."""
    import re

    from generators import available_generators

    pattern = re.compile(r"\b(" + "|".join(map(re.escape, available_generators())) + r")\b")
    report_modules = [
        f"report/{p.name}" for p in (Path(__file__).parent.parent / "interactions" / "report").glob("*.py")
    ]
    for module in ("grid.py", "scoring.py", "fingerprint.py", "profiling.py", "cli.py", *report_modules):
        source = (Path(__file__).parent.parent / "interactions" / module).read_text()
        assert not pattern.search(source), (module, pattern.search(source))


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """A run stopped after a checkpoint keeps its training state and scores beside the store; the next grid
    goes on from there (no checkpoint is scored twice) and records what an uninterrupted run records."""
    import interactions.scoring as scoring_module
    from interactions.grid import partial_dir

    preset = replace(TINY, epochs=3, checkpoints=(0, 1, 2, 3))
    specs = grid(preset, device="cpu")
    whole = ResultsStore(tmp_path / "whole.sqlite")
    run_grid(specs, whole, log=None, workers=1)

    scored, pid_rows = [], scoring_module._pid_rows

    def stop_at_epoch_2(spec, gen, objective, epoch, *usable):
        scored.append(epoch)
        if epoch == 2 and scored.count(2) == 1:
            raise KeyboardInterrupt
        return pid_rows(spec, gen, objective, epoch, *usable)

    monkeypatch.setattr(scoring_module, "_pid_rows", stop_at_epoch_2)
    resumed = ResultsStore(tmp_path / "resumed.sqlite")
    with pytest.raises(KeyboardInterrupt):
        run_grid(specs, resumed, log=None, workers=1)
    assert list(partial_dir(resumed).glob("*.pt")) and resumed.runs().empty
    run_grid(specs, resumed, log=None, workers=1)
    assert scored == [0, 1, 2, 2, None]  # epoch 0 and 1 are not scored again
    assert not list(partial_dir(resumed).glob("*.pt"))
    columns = ["task", "probe", "metric", "epoch", "value"]
    a, b = (s.scores().sort_values(columns[:4])[columns].reset_index(drop=True) for s in (whole, resumed))
    assert a.equals(b)


def test_learning_curves_say_at_which_step_each_part_of_the_pattern_holds() -> None:
    """With several checkpoints (the long preset), the report tabulates each objective's R / U1 / S against
    optimiser steps next to the published number, and the paper's claims per step."""
    import json

    import pandas as pd

    from generators import comparisons
    from interactions.report.markdown import _learning_curve_lines

    (trifeature,) = [c for c in comparisons() if "trifeature" in c.generators]
    curves = {  # (objective, generator, task) -> accuracy at epochs 0, 10, 20, 30
        ("comm", "trifeature", "redundancy"): (0.3, 0.95, 0.99, 0.99),
        ("cross", "trifeature", "redundancy"): (0.3, 0.99, 0.99, 0.99),
        ("cross", "trifeature", "unique1"): (0.1, 0.12, 0.11, 0.1),
        ("cross_self", "trifeature", "unique1"): (0.1, 0.3, 0.55, 0.6),
        ("comm", "trifeature_biased", "synergy"): (0.5, 0.52, 0.58, 0.66),
        ("cross", "trifeature_biased", "synergy"): (0.5, 0.5, 0.51, 0.5),
        ("cross_self", "trifeature_biased", "synergy"): (0.5, 0.49, 0.5, 0.52),
    }
    scores = pd.DataFrame(
        [
            {"objective": o, "generator": g, "task": t, "probe": "linear", "metric": "balanced_accuracy",
             "epoch": float(e), "value": v, "seed": 0}
            for (o, g, t), values in curves.items()
            for e, v in zip((0, 10, 20, 30), values, strict=True)
        ]
    )  # fmt: skip
    one_class = {"objective": "comm", "generator": "trifeature_biased", "task": "synergy", "probe": "linear",
                 "metric": "predicted_classes", "epoch": 0.0, "value": 1, "seed": 0}  # fmt: skip
    scores = pd.concat([scores, pd.DataFrame([one_class])], ignore_index=True)
    config = json.dumps({"scoring": {"n_pretrain": 10000}, "train": {"batch_size": 64}})
    current = pd.DataFrame({"generator": ["trifeature", "trifeature_biased"], "config": [config] * 2})
    lines = _learning_curve_lines(trifeature, scores, current)
    assert "| objective | column | 0 | 1,560 | 3,120 | 4,680 | published |" in lines
    assert "| comm | S | 50.0 † | 52.0 | 58.0 | 66.0 | 71.9 |" in lines  # a one-class probe at step 0
    assert "| cross_self | U1 | 10.0 | 30.0 | 55.0 | 60.0 | 86.9 |" in lines
    claims = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in lines if line.startswith("| ")}
    comm_s = next(v for k, v in claims.items() if k.startswith("CoMM's S"))
    assert [v.strip(" |") for v in comm_s] == ["does not hold"] * 3 + ["holds"]
    cross_self_u = next(v for k, v in claims.items() if k.startswith("Cross+Self's U1"))
    assert [v.strip(" |") for v in cross_self_u] == ["does not hold", "does not hold", "holds", "holds"]
    assert _learning_curve_lines(trifeature, scores[scores["epoch"] < 20], current) == []  # 2 checkpoints


def test_the_summary_flags_a_probe_that_predicted_one_class() -> None:
    import pandas as pd

    from interactions.report import summary_markdown

    def row(objective: str, task: str, metric: str, value: float) -> dict:
        return {"objective": objective, "generator": "trifeature_biased", "task": task, "probe": "linear",
                "metric": metric, "epoch": float("nan"), "value": value, "seed": 0,
                "gain_over_init": None}  # fmt: skip

    scores = pd.DataFrame(
        [
            row("comm", "synergy", "balanced_accuracy", 0.5),
            row("comm", "synergy", "predicted_classes", 1),
            row("cross", "synergy", "balanced_accuracy", 0.52),
            row("cross", "synergy", "predicted_classes", 2),
        ]
    )
    runs = pd.DataFrame({"status": ["done"] * 2, "generator": ["trifeature_biased"] * 2,
                         "objective": ["comm", "cross"], "seed": [0, 0], "meta": ["{}"] * 2})  # fmt: skip
    text = summary_markdown(scores, runs, runs)
    assert "| comm | 50.0 † |" in text and "| cross | 52.0 |" in text
    assert (
        "Degenerate probe" in text and "comm / synergy (seeds [0])" in text and "cross / synergy" not in text
    )


def test_seed_intervals_and_paired_differences_against_hand_computed_values() -> None:
    """t-interval: mean ± t(0.975, n - 1) · s / √n; paired differences are taken per seed before summarising
    (so a constant per-seed advantage has a zero-width interval that excludes 0, while the unpaired spread
    of either objective is large)."""
    import pandas as pd

    from interactions.report.seeds import mean_std_text, paired_differences, seed_summary

    summary = seed_summary([0.8, 0.9, 1.0])
    half = 4.302652729911275 * 0.1 / 3**0.5  # t(0.975, 2) = 4.3027
    assert (summary.n, summary.mean, summary.std) == (3, pytest.approx(0.9), pytest.approx(0.1))
    assert (summary.low, summary.high) == (pytest.approx(0.9 - half), pytest.approx(0.9 + half))
    assert mean_std_text(pd.Series([0.8, 0.9, 1.0])) == "90.0 ± 10.0 [65.2, 114.8]"
    assert mean_std_text(pd.Series([0.5])) == "50.0" and seed_summary([]) is None

    def row(objective: str, seed: int, value: float, gain: float) -> dict:
        return {"objective": objective, "generator": "g", "probe": "linear", "task": "synergy", "seed": seed,
                "metric": "balanced_accuracy", "value": value, "gain_over_init": gain}  # fmt: skip

    final = pd.DataFrame(
        [row("comm", s, v, g) for s, v, g in ((0, 0.70, 0.2), (1, 0.80, 0.1), (2, 0.90, 0.0))]
        + [row("cross", s, v, 0.0) for s, v in ((0, 0.60), (1, 0.70), (2, 0.80))]
    )
    against_cross = paired_differences(final, "cross").set_index("objective").loc["comm"]
    assert against_cross["mean"] == pytest.approx(0.1) and against_cross["std"] == pytest.approx(0.0)
    assert against_cross["low"] == pytest.approx(0.1) and against_cross["high"] == pytest.approx(0.1)
    against_init = paired_differences(final).set_index("objective").loc["comm"]
    assert against_init["mean"] == pytest.approx(0.1)
    assert against_init["low"] == pytest.approx(0.1 - half) and against_init["high"] == pytest.approx(
        0.1 + half
    )
    assert "cross" not in set(paired_differences(final, "cross")["objective"])


@pytest.mark.parametrize(
    ("args", "keyword", "committed"),
    [
        (["benchmarks"], "", True),
        (["benchmarks/"], "", True),
        (["benchmarks/test_pid_speed.py"], "", False),
        (["benchmarks"], "solver", False),
        (["benchmarks/test_scores.py::test_every_run_finished"], "", False),
    ],
)
def test_only_a_full_benchmark_run_writes_the_committed_timings(
    args: list[str], keyword: str, committed: bool
):
    """A subset of `pytest benchmarks/` (a file, a test, -k) writes its timings beside the committed
    reports/benchmarks.json, never over it."""
    import importlib.util
    from types import SimpleNamespace

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("benchmarks_conftest", root / "benchmarks" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = SimpleNamespace(
        args=args,
        invocation_params=SimpleNamespace(dir=root),
        option=SimpleNamespace(keyword=keyword, markexpr="", benchmark_json=None),
    )
    module.pytest_configure(config)
    name = Path(config.option.benchmark_json).name
    assert name == ("benchmarks.json" if committed else "benchmarks-subset.json")


def test_the_usable_pid_table_compares_each_objective_with_comm_seed_by_seed() -> None:
    """The summary's usable-PID table: mean atoms with their mean interval, the data's atoms as the ceiling,
    and per objective the paired difference against CoMM over seeds, marked * where it excludes 0."""
    import pandas as pd

    synergy = {"comm": [0.60, 0.55, 0.58], "cross": [0.01, -0.02, 0.00], "cross_self": [0.50, 0.62, 0.56]}
    rows = []
    for objective, values in synergy.items():
        for seed, value in enumerate(values):
            for atom in ("redundancy", "unique1", "unique2", "synergy"):
                v = value if atom == "synergy" else 0.9
                for kind, x in (("corrected", v), ("low", v - 0.02), ("high", v + 0.02)):
                    rows.append({"generator": "g", "objective": objective, "seed": seed, "task": "all",
                                 "probe": "usable_pid", "metric": f"{atom}_{kind}", "value": x})  # fmt: skip
    sub = pd.DataFrame(rows)
    gt = pd.DataFrame([{"task": "all", "redundancy": 1.0, "unique1": 1.0, "unique2": 1.0, "synergy": 1.0}])
    current = pd.DataFrame(columns=["generator", "objective", "meta", "config"])  # no stale runs
    lines = markdown._pid_lines(sub, "usable_pid", gt.set_index("task"), current, None)
    text = "\n".join(lines)
    assert "| the data (ceiling) | 1.000 | 1.000 | 1.000 | 1.000 | |" in text
    assert (
        "| comm | 0.900 [0.880, 0.920] | 0.900 [0.880, 0.920] | 0.900 [0.880, 0.920] | 0.577 [0.557, 0.597]"
        in text
    )
    cross = next(line for line in lines if line.startswith("| cross |") and "*" in line)
    assert cross.split(" | ")[-1].startswith("-0.580 [") and cross.endswith("* |")
    same = next(line for line in lines[lines.index(cross) :] if line.startswith("| cross_self |"))
    assert "*" not in same.split(" | ")[-1]  # CoMM's and Cross+Self's synergy do not differ at these seeds


def test_run_keys_with_and_without_knob_settings() -> None:
    (plain,) = grid("quick", ["biased_synergy"], ["cross_self"], [0])
    key = run_id(plain.config())
    assert key == "f3700d3ae2491f359f28"  # the key this run had before knobs existed: stored runs stay valid
    at_default = replace(plain, vary=(("biased_fraction", 1.0),))
    assert run_id(at_default.config()) == key and at_default.build_generator() == plain.build_generator()
    varied = replace(plain, vary=(("biased_fraction", 0.5),))
    assert varied.config()["generator"]["biased_fraction"] == 0.5 and run_id(varied.config()) != key
    weighted = replace(plain, vary=(("cross_self.cross_weight", 0.5),))
    assert weighted.config()["objective"]["options"] == {"cross_weight": 0.5}
    assert run_id(weighted.config()) not in (key, run_id(varied.config()))
    (comm,) = grid("quick", ["biased_synergy"], ["comm"], [0])  # another objective's knob does not touch it
    assert replace(comm, vary=weighted.vary).config() == comm.config()


def test_epoch_zero_scores_are_computed_once_per_architecture(tmp_path: Path) -> None:
    """A trained arm's epoch-0 checkpoint scores the untrained network its random arm scores at the end: with
    a grid's `ScoreCache` the second of them reads what the first computed, and every row equals the rows
    computed without the cache."""
    from interactions.scoring import run_one

    specs = grid(TINY, objectives=["random_fused", "comm", "supervised"], device="cpu")
    cache = tmp_path / "cache"
    uncached = {spec.arm: run_one(spec)[0] for spec in specs}
    cached = {spec.arm: run_one(replace(spec, cache=str(cache)))[0] for spec in specs}
    assert cached == uncached
    entries = len(list(cache.glob("*.json")))
    final = [r for r in uncached["random_fused"] if r[3] is None and r[1] in ("linear", "pid")]
    random_final = {r[:3]: r[4] for r in final}
    for arm in ("comm", "supervised"):
        epoch0 = {r[:3]: r[4] for r in uncached[arm] if r[3] == 0}
        assert epoch0 and all(random_final[key] == value for key, value in epoch0.items())
    # The random arm stored its linear rows of the info tasks and its PID; the trained arms added their
    # trained checkpoints' scores only (fewer entries than each arm caching alone: the cache is shared across
    # objectives), and a second pass computes nothing new.
    alone = 0
    for spec in specs:
        run_one(replace(spec, cache=str(tmp_path / spec.arm)))
        alone += len(list((tmp_path / spec.arm).glob("*.json")))
    assert entries < alone
    run_one(replace(specs[1], cache=str(cache)))
    assert len(list(cache.glob("*.json"))) == entries
