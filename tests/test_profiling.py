"""The profile times the real run: its stages cover the run's wall time, training shows only for a trained
arm, and a preset without the MLP probe spends nothing on it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from interactions.presets import Preset
from interactions.profiling import STAGES, default_generators, profile_table, write_profile

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
