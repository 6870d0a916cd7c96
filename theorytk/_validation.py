"""Checks of user input at the public boundary (outside jit): clear errors, nothing traced.

Traced values cannot be inspected, so every check here skips them: validation happens
when a user calls a function with concrete numbers, and inside `jit`/`vmap`/`grad` the
function reports failure as data instead (NaN metrics, a status code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def is_concrete(value: Any) -> bool:
    """Whether `value` holds numbers we can look at (not a tracer inside jit/vmap/grad)."""
    return not isinstance(value, jax.core.Tracer)


INT32_MAX = int(np.iinfo(np.int32).max)
"""The largest step or event budget a loop counting in int32 (JAX's default) accepts."""


def check_integer(label: str, value: Any, least: int = 1, most: int | None = None) -> None:
    """ValueError unless `value` is a Python or NumPy integer (not a bool) in [least, most]."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise ValueError(f"{label} must be an integer >= {least}, got {value!r}")
    if most is not None and value > most:
        raise ValueError(f"{label} must be an integer <= {most}, got {value!r}")


def check_scalar(label: str, value: Any, allowed: str, ok: Callable[[np.ndarray], bool]) -> None:
    """ValueError unless a concrete `value` is a finite real scalar with `ok(value)`.

    The message names the argument, what is allowed, and what was given, e.g.
    "ridge must be a finite scalar >= 0, got -1.0".
    """
    if not is_concrete(value):
        return
    x = np.asarray(value)
    if x.shape != () or not np.isrealobj(x) or not np.isfinite(x) or not ok(x):
        raise ValueError(f"{label} must be a finite scalar {allowed}, got {value!r}")
