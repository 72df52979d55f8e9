"""Estimators of what a representation holds: information in bits from tables and samples."""

from estimators.information import (
    encode,
    entropy_bits,
    joint_table,
    mutual_information_bits,
    plugin_mutual_information_bits,
)

__all__ = [
    "encode",
    "entropy_bits",
    "joint_table",
    "mutual_information_bits",
    "plugin_mutual_information_bits",
]
