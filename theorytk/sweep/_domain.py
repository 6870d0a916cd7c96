"""Parameter domains: what values a model accepts, checked on the grid before anything runs.

A model declares the domain of its swept parameters once,

    @sweep.domain(ridge=sweep.POSITIVE, n=sweep.POSITIVE_INTEGER)
    def simulate(params, key, *, config): ...

and `sweep.run` rejects a grid value outside it with a `ValueError` naming the axis, the
offending values and what is allowed, before tracing or computing anything. The same
`Constraint` can be evaluated on traced values (`valid_params`), so a model called directly
under `jit`/`vmap` can report an invalid point as `Status.INVALID` data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import jax.numpy as jnp
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


class GridError(ValueError):
    """A grid value the sweep cannot accept (outside the model's domain, repeated, ...)."""


class Constraint(NamedTuple):
    """An allowed set of values for one parameter.

    Attributes:
        description: what is allowed, as it reads after "values must be", e.g. "> 0".
        test: `test(values) -> bool array`, elementwise; it must work on NumPy arrays (the
            grid check) and on JAX arrays (traced checks), so use operators and `%`, not
            `np.`/`jnp.` functions.
    """

    description: str
    test: Callable[[Any], Any]


POSITIVE = Constraint("> 0", lambda v: v > 0)
NONNEGATIVE = Constraint(">= 0", lambda v: v >= 0)
POSITIVE_INTEGER = Constraint("integers >= 1", lambda v: (v >= 1) & (v % 1 == 0))
NONNEGATIVE_INTEGER = Constraint("integers >= 0", lambda v: (v >= 0) & (v % 1 == 0))
UNIT_INTERVAL = Constraint("in [0, 1]", lambda v: (v >= 0) & (v <= 1))


def integers_in(low: int, high: int) -> Constraint:
    """The integers low, low + 1, ..., high (e.g. a batch size at most the training set)."""
    return Constraint(
        f"integers in [{low}, {high}]", lambda v: (v >= low) & (v <= high) & (v % 1 == 0)
    )


def domain(**constraints: Constraint) -> Callable[[F], F]:
    """Declare the allowed values of a swept function's parameters (marks the function).

    Constraints add to those already declared (a later declaration of the same name wins),
    and the mark survives `sweep.refillable`. `sweep.run` checks every grid axis with a
    declared constraint before compiling.

    Args:
        **constraints: parameter name -> `Constraint` (e.g. `sweep.POSITIVE`).
    """
    for name, constraint in constraints.items():
        if not isinstance(constraint, Constraint):
            raise TypeError(
                f"domain({name}=...) needs a sweep.Constraint such as sweep.POSITIVE, "
                f"got {constraint!r}"
            )

    def mark(fn: F) -> F:
        fn.param_domain = {**param_domain(fn), **constraints}  # type: ignore[attr-defined]
        return fn

    return mark


def param_domain(fn: Callable[..., Any]) -> dict[str, Constraint]:
    """The constraints declared on `fn` with `domain` (empty if none)."""
    return dict(getattr(fn, "param_domain", {}))


def check_values(constraints: Mapping[str, Constraint], values: Mapping[str, Any]) -> None:
    """ValueError naming the first parameter whose concrete values break its constraint."""
    for name, constraint in constraints.items():
        if name not in values:
            continue
        array = np.asarray(values[name])
        bad = array[~np.asarray(constraint.test(array), bool)]
        if bad.size:
            raise GridError(
                f"grid axis {name!r}: values must be {constraint.description}, got "
                f"{_show(bad)} (the model's declared domain; change the grid values)"
            )


def valid_params(constraints: Mapping[str, Constraint], params: Mapping[str, Any]) -> Any:
    """A traced bool: whether every declared parameter present in `params` is in its domain."""
    valid = jnp.asarray(True)
    for name, constraint in constraints.items():
        if name in params:
            valid = valid & jnp.all(constraint.test(jnp.asarray(params[name])))
    return valid


def _show(bad: np.ndarray) -> str:
    shown = ", ".join(f"{v:g}" for v in bad[:5].tolist())
    return f"{shown}{', ...' if bad.size > 5 else ''}"
