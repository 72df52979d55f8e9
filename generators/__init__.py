"""Procedural multimodal data with exact ground truth (PID atoms in bits, chance, Bayes ceilings), and the
registry of the benchmark's generator presets (each declared beside its generator)."""

from generators.base import SPLITS, Sample, Truth
from generators.factors import FactorGenerator, bimodal
from generators.registry import (
    GeneratorPreset,
    PaperComparison,
    available_generators,
    builtin_generators,
    comparisons,
    generator_preset,
    register_comparison,
    register_generator,
)
from generators.tables import CANONICAL, CanonicalTable, dirichlet_table, sample_table
from generators.torch_data import SampleDataset
from generators.trifeature import TrifeatureGenerator

__all__ = [
    "CANONICAL",
    "SPLITS",
    "CanonicalTable",
    "FactorGenerator",
    "GeneratorPreset",
    "PaperComparison",
    "Sample",
    "SampleDataset",
    "TrifeatureGenerator",
    "Truth",
    "available_generators",
    "bimodal",
    "builtin_generators",
    "comparisons",
    "dirichlet_table",
    "generator_preset",
    "register_comparison",
    "register_generator",
    "sample_table",
]
