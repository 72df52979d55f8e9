"""The profile times the real run: its stages cover the run's wall time, training shows only for a trained
arm, and a preset without the MLP probe spends nothing on it. The training floor times trained arms only
and adds up every seed over the workers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from interactions.presets import Preset
from interactions.profiling import (
    STAGES,
    default_generators,
    profile_table,
    training_markdown,
    training_table,
    write_profile,
)

TINY = Preset("tiny", ("bimodal_1bit",), ("cross",), (0,), 600, 400, 400, 1200, 2, (0, 2),
              n_permutations=3, n_bootstrap=4)  # fmt: skip


def test_the_stages_cover_the_run_and_follow_what_it_does(tmp_path: Path) -> None:
    rows = profile_table(
        replace(TINY, epochs=6, checkpoints=(0, 6)), ["bimodal_1bit"], ["cross", "random_fused"]
    )
    by_arm = {r["arm"]: r for r in rows}
    for row in rows:
        assert abs(row["other"]) < 0.1 * row["total"], row  # the timed stages account for the run
        assert row["data"] > 0 and row["extraction"] > 0 and row["linear probe"] > 0 and row["mlp probe"] > 0
        assert row["pid codes"] > 0 and row["pid solver"] > 0
    assert by_arm["cross"]["training"] > 0.02 and by_arm["random_fused"]["training"] < 0.01  # not trained
    (no_mlp,) = profile_table(replace(TINY, mlp_probe=False), ["bimodal_1bit"], ["random_fused"])
    assert no_mlp["mlp probe"] == 0
    text = write_profile(rows, "tiny", "a test machine", tmp_path / "profile.md").read_text()
    assert "| arm | " + " | ".join(STAGES) + " | total |" in text and "| cross |" in text
    assert "--generators bimodal_1bit`" in text
    assert default_generators() == ["bimodal_1bit", "trifeature"]  # one of each kind, first declared


def test_the_training_floor_counts_trained_arms_and_every_seed() -> None:
    three_seeds = replace(TINY, seeds=(0, 1, 2))
    rows = training_table(three_seeds, ["bimodal_1bit"], ["cross", "random_fused"])
    assert [r["arm"] for r in rows] == ["cross"] and rows[0]["training"] > 0  # a random arm never trains
    made_up = [
        {"generator": "g1", "arm": "a", "training": 30.0},
        {"generator": "g2", "arm": "a", "training": 50.0},
        {"generator": "g2", "arm": "b", "training": 40.0},
    ]
    text = training_markdown(made_up, three_seeds, "a test machine", workers=2)
    assert "| g1 | 30.0 |  | 30.0 |" in text and "| all generators | 80.0 | 40.0 | 120.0 |" in text
    assert "3 seeds for 360 s, so with 2 workers no schedule of these runs ends in less than 3.0 min" in text
