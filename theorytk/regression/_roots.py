"""Root of a decreasing scalar function of a log-scale variable: jit/vmap-safe, differentiable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array

# Bisection iterations. Brackets used in this package are under ~3000 nats wide even for inputs
# spanning the whole float64 range, and 2^-80 * 3000 < 3e-21, so bisection alone pins the root to
# within rounding; the Newton step afterwards mainly supplies the gradients.
BISECTION_STEPS = 80


def log_root(
    residual: Callable[[Array, Any], Array],
    params: Any,
    log_lower: Array,
    log_upper: Array,
    steps: int = BISECTION_STEPS,
) -> Array:
    """Root t of a residual decreasing in t: fixed-step bisection, then one Newton step.

    Fixed-step bisection of [log_lower, log_upper] runs on stop-gradient params (the same cost
    for every input, so it jits and vmaps). Points where the residual is positive are below the
    root; `residual` may return any positive value on a region where it is undefined below the
    root. At t0, the upper end of the final bracket (never in such a region), the zero-valued
    Newton step t = t0 - (h(t0, params) - h(t0, stop_gradient(params))) / stop_gradient(h'(t0))
    keeps the bisection value (also when the root is a jump that no float resolves) and makes
    dt/dparams = -(d h / dparams) / (d h / dt) exactly, i.e. implicit differentiation to first
    order. Second derivatives through t are not exact.

    Args:
        residual: h(t, params) -> scalar, decreasing in t.
        params: pytree of arrays the residual depends on (differentiable leaves).
        log_lower: scalar below the root (or where the residual is positive).
        log_upper: scalar above the root (where the residual is <= 0).
        steps: number of bisection steps.

    Returns:
        The root t (scalar). If the residual has no sign change in the bracket, an end of it.
    """
    params0 = jax.lax.stop_gradient(params)

    def bisect(_: int, bounds: tuple[Array, Array]) -> tuple[Array, Array]:
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        above = residual(mid, params0) > 0  # root lies above mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    _, t0 = jax.lax.fori_loop(0, steps, bisect, (log_lower, log_upper))
    t0 = jax.lax.stop_gradient(t0)
    slope = jax.grad(residual)(t0, params0)
    slope = jnp.where(slope < 0, slope, -1.0)  # guarded against underflow to 0
    return t0 - (residual(t0, params) - residual(t0, params0)) / slope
