"""The README and the documentation: their examples run as written (an objective, a generator preset and a
PID estimator, the last two through real entry points; the usable-PID example against its closed form), the
documentation includes the README's examples rather than copies, the README stays short, and the site
builds strictly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import install_entry_point

import generators.registry as registry
from generators import available_generators, builtin_generators, generator_preset
from interactions.grid import grid, run_grid
from interactions.objectives import build_objective
from interactions.report import write_reports
from interactions.store import ResultsStore

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def example(name: str, path: Path = README) -> str:
    """The python block after the marker `<!-- --8<-- [start:name] -->` (a snippet section the documentation
    includes) or `<!-- name -->`."""
    marker = rf"<!-- (?:--8<-- \[start:{name}\]|{name}) -->"
    block = re.search(marker + r"\n```python\n(.*?)```", path.read_text(), re.S)
    assert block is not None, f"no {name} block in {path.name}"
    return block.group(1)


def test_the_readme_is_short_and_the_documentation_includes_its_examples() -> None:
    assert len(README.read_text().splitlines()) <= 200
    extending = (ROOT / "docs" / "extending.md").read_text()
    for name in ("objective-example", "generator-example", "estimator-example"):
        assert f'--8<-- "README.md:{name}"' in extending
        assert f"<!-- --8<-- [end:{name}] -->" in README.read_text()


def test_the_documentation_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict` (as CI runs it): every page, link and API reference resolves."""
    pytest.importorskip("mkdocs")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reports" / "index.html").is_file()
    assert "align_spread" in (tmp_path / "site" / "extending" / "index.html").read_text()


def test_plugin_example_trains_and_is_scored(capsys) -> None:
    code = example("objective-example")
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
    code = example("generator-example")
    install_entry_point(tmp_path, "my_presets", code, "interactions.generators", "my_presets")
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
    code = example("usable-example", ROOT / "docs" / "estimators.md")
    exec(compile(code, "docs usable-PID example", "exec"), {"__name__": "docs_usable"})
    estimate, truth = (eval(line) for line in capsys.readouterr().out.strip().splitlines()[-2:])
    assert set(estimate) == set(truth) == {"redundancy", "unique1", "unique2", "synergy"}
    assert all(abs(estimate[a] - truth[a]) <= 0.1 for a in truth), (estimate, truth)


def test_the_estimator_example_plugs_in_through_an_entry_point(tmp_path: Path, monkeypatch) -> None:
    import estimators.registry as estimator_registry
    from estimators.registry import available_estimators, pid_estimator

    available_estimators()  # the built-in ones registered before the copy below, so that they outlive it
    install_entry_point(
        tmp_path, "my_estimators", example("estimator-example"), "interactions.estimators", "my_estimators"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(estimator_registry, "_ESTIMATORS", dict(estimator_registry._ESTIMATORS))
    monkeypatch.delitem(__import__("sys").modules, "my_estimators", raising=False)
    assert "mmi_argmax" in available_estimators()
    rng = np.random.default_rng(0)
    a, b = rng.integers(2, size=20000), rng.integers(2, size=20000)
    result = pid_estimator("mmi_argmax")(np.eye(2)[a], np.eye(2)[b], 2 * a + b)  # copy: MMI says 1/0/0/1
    copy = {"redundancy": 1, "unique1": 0, "unique2": 0, "synergy": 1}  # MMI's atoms of the copy gate
    assert result.atoms == pytest.approx(copy, abs=0.01)
    assert result.intervals is None
