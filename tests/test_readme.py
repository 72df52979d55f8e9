"""The README's plug-in examples (an objective, a generator preset) run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from conftest import install_entry_point

import generators.registry as registry
from generators import available_generators, builtin_generators, generator_preset
from interactions.grid import grid, run_grid
from interactions.objectives import build_objective
from interactions.report import write_reports
from interactions.store import ResultsStore

README = Path(__file__).resolve().parent.parent / "README.md"


def test_plugin_example_trains_and_is_scored(capsys) -> None:
    text = README.read_text()
    block = re.search(r"<!-- plugin-example -->\n```python\n(.*?)```", text, re.S)
    assert block is not None
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 30
    namespace = {"__name__": "readme_example"}
    exec(compile(code, "README plug-in example", "exec"), namespace)
    printed = capsys.readouterr().out
    scores = eval(printed.strip().splitlines()[-1])  # the dict of balanced accuracies it prints
    assert set(scores) == {"redundancy", "unique1", "unique2", "synergy", "all"}
    # What the plug-in adds over its initialisation: the two modalities' encodings agree (an untrained
    # pair of encoders already decodes the redundant factor, so decoding it proves nothing).
    trained = namespace["objective"].eval()
    untrained = build_objective("align_spread", [32, 32]).eval()
    xs = [torch.as_tensor(x) for x in namespace["gen"].sample(1000, seed=5).modalities]

    def disagreement(objective) -> float:
        with torch.no_grad():
            z1, z2 = objective.represent(xs).per_modality
        return float(((z1 - z2) ** 2).mean() / (z1.var(0).mean() + z2.var(0).mean()))

    assert disagreement(trained) < 0.1 * disagreement(untrained)
    assert scores["redundancy"] > 0.9


def test_generator_preset_example_plugs_in_through_an_entry_point(tmp_path: Path, monkeypatch) -> None:
    block = re.search(r"<!-- generator-example -->\n```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    install_entry_point(tmp_path, "my_presets", block.group(1), "interactions.generators", "my_presets")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_PRESETS", dict(registry._PRESETS))  # forget the plug-in afterwards
    monkeypatch.delitem(__import__("sys").modules, "my_presets", raising=False)
    with pytest.raises(ValueError, match="generator must be one of"):
        generator_preset("no_such_preset")
    assert "redundancy_only" in available_generators() and "redundancy_only" not in builtin_generators()
    (spec,) = grid("smoke", ["redundancy_only"], ["cross"], device="cpu")
    assert spec.model().embed_dim == 16 and spec.build_generator().truth("all").redundancy == 2.0
    store = ResultsStore(tmp_path / "r.sqlite")
    assert run_grid([spec], store, log=None) == {
        "trained": 1,
        "cached": 0,
        "failed": 0,
        "stale": 0,
        "retried": 0,
    }
    summary = write_reports(store, tmp_path / "reports")["summary"].read_text()
    assert "## redundancy_only" in summary and "2 bits of redundancy and nothing else" in summary
    scores = store.scores()
    accuracy = scores[(scores["probe"] == "linear") & (scores["metric"] == "balanced_accuracy")]
    final = accuracy[accuracy["epoch"].isna()].set_index("task")["value"]
    assert final["redundancy"] > 0.9  # Cross keeps what the modalities share


def test_usable_pid_example_matches_its_closed_form(capsys) -> None:
    block = re.search(r"<!-- usable-example -->\n```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    exec(compile(block.group(1), "README usable-PID example", "exec"), {"__name__": "readme_usable"})
    estimate, truth = (eval(line) for line in capsys.readouterr().out.strip().splitlines()[-2:])
    assert set(estimate) == set(truth) == {"redundancy", "unique1", "unique2", "synergy"}
    assert all(abs(estimate[a] - truth[a]) <= 0.1 for a in truth), (estimate, truth)
