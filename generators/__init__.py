"""Procedural multimodal data with exact ground truth (PID atoms in bits, chance, Bayes ceilings)."""

from generators.base import SPLITS, Sample, Truth
from generators.factors import FactorGenerator, bimodal
from generators.tables import CANONICAL, CanonicalTable, dirichlet_table, sample_table
from generators.torch_data import SampleDataset
from generators.trifeature import TrifeatureGenerator

__all__ = [
    "CANONICAL",
    "SPLITS",
    "CanonicalTable",
    "FactorGenerator",
    "Sample",
    "SampleDataset",
    "TrifeatureGenerator",
    "Truth",
    "bimodal",
    "dirichlet_table",
    "sample_table",
]
