"""Validation shared by every public function and knob: a bad value raises ValueError naming the knob and
what it accepts (numpy integers and floats are accepted wherever Python ones are)."""

from __future__ import annotations

import math

import numpy as np


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """Return `value` as an int, or raise ValueError naming the knob and its allowed range."""
    allowed = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def check_float(name: str, value: object, minimum: float, *, strict: bool = False) -> float:
    """Return `value` as a finite float >= minimum (> minimum when `strict`), else raise ValueError."""
    allowed = f"a finite number {'>' if strict else '>='} {minimum}"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def check_confidence(name: str, value: object) -> float:
    """Return a confidence level in (0, 1) as a float, else raise ValueError naming the knob."""
    level = check_float(name, value, 0.0, strict=True)
    if level >= 1:
        raise ValueError(f"{name} must be in (0, 1), got {level!r}")
    return level


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)


def check_codes(name: str, values: object) -> np.ndarray:
    """Return discrete labels or codes as a 1-D int64 array, or raise ValueError naming them: NaN, infinite
    and fractional values are refused (casting them would invent a class or merge two)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integer labels, got shape {array.shape}")
    if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name} must hold integer labels, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must hold integer labels, got NaN or infinite values")
    fractional = array[array != np.round(array)]
    if fractional.size:
        raise ValueError(f"{name} must hold integer labels, got fractional values such as {fractional[0]!r}")
    return array.astype(np.int64)
