"""The benchmark grid. Everything is scored and reported; only what theory guarantees is asserted."""

from __future__ import annotations

import pandas as pd
import pytest

from generators import generator_preset
from interactions.grid import ARMS
from interactions.store import run_id

CONCATENATED = {arm for arm, (_, architecture) in ARMS.items() if architecture == "encoders"}


def is_image_generator(name: str) -> bool:
    return generator_preset(name).is_image


def _final(scores: pd.DataFrame, probe: str, metric: str = "balanced_accuracy") -> pd.DataFrame:
    return scores[scores["epoch"].isna() & (scores["probe"] == probe) & (scores["metric"] == metric)]


def test_every_selected_run_is_stored(grid_scores) -> None:
    scores, runs, counts, specs = grid_scores
    stored = set(runs["run_id"])
    assert all(run_id(spec.config()) in stored for spec in specs)
    assert counts["trained"] + counts["cached"] + counts["failed"] == len(specs)
    assert {"value", "chance", "bayes", "gain_over_init"} <= set(scores.columns)


# Presets that starve the representation on purpose (narrower than the factors, loud nuisance).
BOTTLENECKED = {"narrow_nuisance"}


def test_trained_objectives_capture_redundancy_above_chance(grid_scores) -> None:
    """Cross's InfoNCE between modalities can only be lowered through what they share, so it keeps the
    redundant factor everywhere; without a bottleneck every trained objective keeps it on the factor
    generators. Reported only: under the bottleneck the self-supervised objectives may spend the
    representation on nuisance, and on Trifeature images the smoke and quick presets train a few hundred
    steps at most, too few to promise anything beyond Cross's cross-modal term."""
    scores = grid_scores[0]
    acc = _final(scores, "linear")
    trained = acc[(acc["task"] == "redundancy") & ~acc["objective"].str.startswith("random")]
    only_cross = trained["generator"].isin(BOTTLENECKED) | trained["generator"].map(is_image_generator)
    checked = trained[~only_cross | (trained["objective"] == "cross")]
    assert not checked.empty
    margin = checked["value"] - checked["chance"]
    assert (margin > 0.1).all(), checked[margin <= 0.1][["objective", "generator", "value"]]


def test_supervised_reaches_near_the_bayes_ceiling_on_its_task(grid_scores) -> None:
    """Supervised trains on the joint label `all` of the factor generators; without a bottleneck its redundant
    and unique factors are learned to near the Bayes ceiling (at least 80% of the way from chance). Its
    synergy factor is reported, not asserted: a parity is slow to fit at quick scale, and biased pairing
    makes it constant in the training split. Under the bottleneck it is reported only (quick, MLP probe:
    unique2 at 97.1 / 86.3 / 91.1% over seeds 0-2, i.e. 75% of the way once). On Trifeature it trains on
    the synergy label alone, so nothing is asserted there."""
    scores = grid_scores[0]
    acc = _final(scores, "mlp")
    sup = acc[(acc["objective"] == "supervised") & acc["task"].str.match(r"redundancy|unique\d")]
    sup = sup[~sup["generator"].map(is_image_generator) & ~sup["generator"].isin(BOTTLENECKED)]
    if sup.empty:
        pytest.skip("no supervised run on a factor generator in this selection")
    progress = (sup["value"] - sup["chance"]) / (sup["bayes"] - sup["chance"])
    assert (progress > 0.8).all(), sup[progress <= 0.8][["generator", "task", "value", "bayes"]]


def test_concatenated_representations_stay_at_chance_on_xor_synergy_under_a_linear_probe(grid_scores) -> None:
    """A linear probe on [z1, z2] scores w1.z1 + w2.z2: a sum of per-modality terms cannot express an XOR
    (parity) of factors held by different modalities, whatever the encoders learned. The biased-pairing
    label at K = 2 is such a parity too. Not asserted: the sum mod 4 of `synergy_heavy`, and Trifeature's
    label 1[colour2 = M(texture1)], on which a sum f(texture1) + g(colour2) can reach about 64% balanced
    accuracy (positive iff both lie in matched halves), so chance is not a theorem there."""
    scores = grid_scores[0]
    acc = _final(scores, "linear")
    syn = acc[(acc["task"] == "synergy") & acc["objective"].isin(CONCATENATED)]
    syn = syn[(syn["generator"] != "synergy_heavy") & ~syn["generator"].map(is_image_generator)]
    if syn.empty:
        pytest.skip("no concatenated-encoder objective on an XOR-synergy generator in this selection")
    assert ((syn["value"] - syn["chance"]).abs() < 0.05).all(), syn[["objective", "generator", "value"]]
