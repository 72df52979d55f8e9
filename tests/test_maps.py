"""Interaction maps: knob parsing and checking before any run, run keys, numbers read back from a store."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from interactions.cli import main as cli_main
from interactions.fingerprint import code_fingerprint, run_fingerprint
from interactions.grid import grid
from interactions.maps import (
    MAPS,
    InteractionMap,
    leaves_chance,
    map_markdown,
    map_results,
    parse_vary,
    run_maps,
)
from interactions.presets import PRESETS
from interactions.report import seed_summary
from interactions.store import ResultsStore, run_id


def test_parse_vary_reads_numbers_flags_and_names() -> None:
    assert parse_vary("noise=0.1, 0.2") == ("noise", (0.1, 0.2))
    assert parse_vary("mlp_depth=0,1,3") == ("mlp_depth", (0, 1, 3))
    assert parse_vary("mixing=linear,mlp") == ("mixing", ("linear", "mlp"))
    assert parse_vary("biased_pairing=true") == ("biased_pairing", (True,))
    for bad in ("noise", "=0.1", "noise="):
        with pytest.raises(ValueError, match="--vary must be KNOB=V1,V2"):
            parse_vary(bad)


@pytest.mark.parametrize(
    ("generator", "vary", "message"),
    [
        ("bimodal_1bit", "biased_fraction=0,0.5", "biased_fraction applies only with biased_pairing"),
        ("biased_synergy", "biased_fraction=0.5,1.5", r"biased_fraction must be a number in \[0, 1\]"),
        ("bimodal_1bit", "loudness=1,2", "'loudness' is not a knob of FactorGenerator"),
        ("bimodal_1bit", "noise=0.1,-1", "noise must be a finite number >= 0"),
        ("bimodal_1bit", "cross_self.cross_weight=1,-1", "cross_weight must be a finite number >= 0"),
        ("bimodal_1bit", "cross_self.alignment=1", "'alignment' is not a knob of objective 'cross_self'"),
        ("bimodal_1bit", "cmc.temperature=0.2", "objective 'cmc' is not among this map's objectives"),
        ("bimodal_1bit", "noise=0.1,0.1", "give distinct values"),
        ("no_such_preset", "noise=0.1", "generators must be among"),
    ],
)
def test_a_bad_knob_is_refused_in_one_line_before_anything_runs(
    generator: str, vary: str, message: str, tmp_path, capsys
) -> None:
    store = tmp_path / "maps.sqlite"
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["sweep", "--generator", generator, "--vary", vary, "--store", str(store),
                  "--reports", str(tmp_path / "out")])  # fmt: skip
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("interactions: error: ") and len(error.splitlines()) == 1
    assert re.search(message, error), error
    assert not store.exists()  # nothing ran, nothing was stored


def test_a_map_name_must_be_a_file_name() -> None:
    with pytest.raises(ValueError, match="map name must be"):
        InteractionMap("../elsewhere", "bimodal_1bit", "noise", (0.1,))


def test_map_runs_share_keys_with_plain_runs_and_across_maps() -> None:
    plain = {run_id(s.config()) for s in grid("maps", ["biased_synergy"], MAPS["biased_fraction"].objectives)}
    at_one = {run_id(s.config()) for v, s in MAPS["biased_fraction"].specs() if v == 1.0}
    assert at_one == plain  # the knob's default value is the plain run
    alignment = MAPS["alignment_biased_synergy"].specs()
    by_value = {}
    for value, spec in alignment:
        by_value.setdefault(value, {})[(spec.arm, spec.seed)] = run_id(spec.config())
    others = [{k: v for k, v in keys.items() if k[0] != "cross_self"} for keys in by_value.values()]
    assert all(o == others[0] for o in others)  # an objective knob leaves other objectives' runs alone
    cross_self = [keys[("cross_self", 0)] for keys in by_value.values()]
    assert len(set(cross_self)) == len(cross_self) and by_value[1.0][("cross_self", 0)] in plain
    # an integer for a number knob is the same run as the number (one value, one key)
    as_int = InteractionMap("x", "bimodal_1bit", "nuisance_std", (3,), objectives=("cross",), seeds=(0,))
    as_float = replace(as_int, values=(3.0,))
    assert run_id(as_int.specs()[0][1].config()) == run_id(as_float.specs()[0][1].config())


def _record(store: ResultsStore, spec, accuracy: dict[str, float], bits: dict[str, float], code: str) -> None:
    rows = [(task, "linear", "balanced_accuracy", None, value) for task, value in accuracy.items()]
    rows += [("all", "usable_pid", f"{atom}_corrected", None, value) for atom, value in bits.items()]
    meta = {**run_fingerprint(spec), "code": code, "wall_seconds": 30.0}
    store.record(run_id(spec.config()), spec.config(), rows, meta=meta)


def test_map_numbers_read_back_from_a_hand_made_store(tmp_path) -> None:
    imap = InteractionMap(
        "hand", "biased_synergy", "biased_fraction", (0.0, 1.0), ("comm", "cross"), (0, 1, 2)
    )
    store = ResultsStore(tmp_path / "hand.sqlite")
    gen = imap.specs()[0][1].build_generator()
    chance, bayes = gen.truth("synergy").chance, gen.truth("synergy").bayes
    synergy = {}
    for value, spec in imap.specs():
        if (value, spec.arm, spec.seed) == (0.0, "cross", 2):
            continue  # one run missing
        s = chance + (bayes - chance) * (0.2 * spec.seed + (0.5 if spec.arm == "comm" else 0.0) + value / 4)
        synergy[(value, spec.arm, spec.seed)] = s
        accuracy = {"redundancy": 0.9, "unique1": 0.8, "unique2": 0.7, "synergy": s}
        bits = {"redundancy": 0.5, "unique1": 0.4, "unique2": 0.3, "synergy": 0.1 * spec.seed}
        stale = (value, spec.arm, spec.seed) == (1.0, "comm", 0)
        _record(store, spec, accuracy, bits, "another-fingerprint" if stale else code_fingerprint())
    results = map_results(imap, store)
    assert not results.complete and results.runs["status"].value_counts().to_dict() == {
        "done": 11,
        "missing": 1,
    }
    assert int(results.runs["stale"].sum()) == 1
    summary = results.summary.set_index(["knob_value", "objective", "measure", "atom"])
    for value in imap.values:
        for arm in imap.objectives:
            got = summary.loc[(value, arm, "fraction", "synergy")]
            fractions = [
                (synergy[(value, arm, seed)] - chance) / (bayes - chance)
                for seed in imap.seeds
                if (value, arm, seed) in synergy
            ]
            expected = seed_summary(np.array(fractions))
            assert got["n"] == len(fractions)
            assert got["mean"] == pytest.approx(expected.mean) and got["low"] == pytest.approx(expected.low)
            assert summary.loc[(value, arm, "usable_bits", "unique1")]["mean"] == pytest.approx(0.4)
    # comm's synergy interval is above chance at both values; cross's at neither
    assert leaves_chance(results, "comm", "synergy") == 0.0
    assert leaves_chance(results, "cross", "synergy") is None
    truth = results.truth.set_index(["knob_value", "atom"])["bits"]
    assert truth[(0.0, "synergy")] == pytest.approx(gen.observed_atoms()["synergy"])
    text = map_markdown(results)
    assert "Runs: 11 of 12 done (0 failed, 1 not run)" in text
    assert "**1 of these runs were made by other code**" in text
    assert re.search(r"\| 1\.0 \| comm \| .* \| 0\.95 \[", text)  # S: 0.5 + 1.0 / 4 + 0.2 * mean seed
    assert "| comm | 0.0 / 0.0 | 0.0 / 0.0 | 0.0 / 0.0 | 0.0 / never |" in text
    assert "| cross | 0.0 / 0.0 | 0.0 / 0.0 | 0.0 / 0.0 | never / never |" in text


def test_a_small_sweep_runs_end_to_end_and_resumes(tmp_path) -> None:
    tiny = replace(PRESETS["smoke"], name="tiny", epochs=2, checkpoints=(2,), mlp_probe=False, n_pid=1000)
    imap = InteractionMap("tiny", "bimodal_1bit", "noise", (0.3, 0.6), ("cross",), (0,), preset=tiny)
    lines = run_maps([imap], tmp_path / "tiny.sqlite", tmp_path, device="cpu", workers=1, log=None)
    assert lines[0] == "trained 2, cached 0, failed 0"
    assert (tmp_path / "tiny.png").stat().st_size > 0 and (tmp_path / "tiny.pdf").stat().st_size > 0
    assert "| 0.6 | cross |" in (tmp_path / "tiny.md").read_text()
    configs = [json.loads(c) for c in ResultsStore(tmp_path / "tiny.sqlite").runs()["config"]]
    assert sorted(c["generator"]["noise"] for c in configs) == [0.3, 0.6]
    again = run_maps([imap], tmp_path / "tiny.sqlite", tmp_path, device="cpu", workers=1, log=None)
    assert again[0] == "trained 0, cached 2, failed 0"
