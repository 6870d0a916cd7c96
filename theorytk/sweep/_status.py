"""Status codes: failure inside a sweep is data, never an exception."""

from __future__ import annotations

import enum

import jax.numpy as jnp
from jaxtyping import Array, Int


class Status(enum.IntEnum):
    """Outcome of one grid point, stored in the `status` variable of a sweep result.

    A swept function may report DIVERGED, BUDGET or INVALID itself by returning a `status`
    entry; the engine marks any point with a NaN or infinite metric NONFINITE. INVALID is a
    point whose (traced) parameters lie outside the model's domain: its metrics are NaN,
    never a plausible number.
    """

    OK = 0
    NONFINITE = 1
    DIVERGED = 2
    BUDGET = 3
    INVALID = 4


STATUS_CODES = ", ".join(f"{s.value}={s.name.lower()}" for s in Status)


def combine_status(model_status: Int[Array, ""] | None, all_finite: Array) -> Int[Array, ""]:
    """A model's own status wins; otherwise NONFINITE if any metric is not finite."""
    engine = jnp.where(all_finite, Status.OK, Status.NONFINITE).astype(jnp.int8)
    if model_status is None:
        return engine
    model_status = jnp.asarray(model_status).astype(jnp.int8)
    return jnp.where(model_status != Status.OK, model_status, engine)
