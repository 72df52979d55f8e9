"""Plug-in information helpers (bits)."""

from __future__ import annotations

import numpy as np
import pytest

from estimators import (
    encode,
    entropy_bits,
    joint_table,
    mutual_information_bits,
    plugin_mutual_information_bits,
)


def test_entropy_and_mutual_information_in_bits() -> None:
    assert entropy_bits(np.full(8, 1 / 8)) == pytest.approx(3.0)
    assert entropy_bits(np.array([1.0, 0.0])) == 0.0
    copy = np.eye(4) / 4
    assert mutual_information_bits(copy) == pytest.approx(2.0)
    assert mutual_information_bits(np.full((3, 5), 1 / 15)) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="2-D"):
        mutual_information_bits(np.ones((2, 2, 2)) / 8)


def test_joint_table_encode_and_plugin_mi() -> None:
    a = np.array([0, 1, 1, 2])
    b = np.array([1, 1, 0, 0])
    table = joint_table(a, b)
    assert table.shape == (3, 2) and table.sum() == pytest.approx(1.0) and table[1, 1] == 0.25
    codes = encode(a, b)
    assert len(np.unique(codes)) == 4 and codes.min() == 0
    assert plugin_mutual_information_bits(a, a) == pytest.approx(entropy_bits(np.array([0.25, 0.5, 0.25])))
    with pytest.raises(ValueError, match="same length"):
        joint_table(a, b[:2])
