"""Root of a decreasing scalar function of a log-scale variable: jit/vmap-safe, differentiable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array

# Safeguarded Newton iterations. The residuals of this package are written as differences of
# logarithms of positive sums (log S(t) - log c), which are close to linear in t both far from
# the root (S ~ e^-t) and across power-law spectra (S ~ e^(-t / alpha)), so Newton converges in a
# few steps; where a Newton step would leave the bracket, the step bisects it instead. The loop
# stops after a Newton step of at most eps^(2/3) (1 + |t|) (converged to rounding: the next step
# would be O(step^2)), or after NEWTON_STEPS steps. Measured (rf_risk): on lambda_i = i^-1.5,
# P = 1e4, a 32 x 32 (N, delta) grid stops after 3-10 steps (mean 5.8) from the upper end of the
# bracket; on 6,200 random spectra spanning 1e+-12 (P = 1, 2, 40, 1000, ridges over 1e+-10) a
# few points need more than 32 (n ~ N ~ P with a tiny ridge, and roots on an end of the
# bracket, where every Newton step rounds outside it and the step bisects).
NEWTON_STEPS = 64


def log_root(
    residual: Callable[[Array, Any], Array],
    params: Any,
    log_lower: Array,
    log_upper: Array,
    steps: int = NEWTON_STEPS,
    start: Array | None = None,
) -> Array:
    """Root t of a residual decreasing in t: `newton_root` on h, then `implicit_step`.

    The slope of h comes from a forward-mode pass on stop-gradient params.

    Args:
        residual: h(t, params) -> scalar, decreasing in t.
        params: pytree of arrays the residual depends on (differentiable leaves).
        log_lower: scalar below the root (or where the residual is positive).
        log_upper: scalar above the root (where the residual is <= 0).
        steps: largest number of Newton/bisection steps.
        start: first iterate (a guess of the root), or None for log_upper.

    Returns:
        The root t (scalar). If the residual has no sign change in the bracket, an end of it.
    """
    params0 = jax.lax.stop_gradient(params)

    def value_and_slope(t: Array) -> tuple[Array, Array]:
        return jax.jvp(lambda s: residual(s, params0), (t,), (jnp.ones_like(t),))

    t0 = newton_root(value_and_slope, log_lower, log_upper, steps, start)
    return implicit_step(residual, params, t0)


def newton_root(
    value_and_slope: Callable[[Array], tuple[Array, Array]],
    log_lower: Array,
    log_upper: Array,
    steps: int = NEWTON_STEPS,
    start: Array | None = None,
) -> Array:
    """Root of a decreasing h by safeguarded Newton in a shrinking bracket (no gradient).

    Each step evaluates h and h' at t, shrinks the bracket [lo, hi] to the side of the sign
    change, and moves to the Newton point t - h/h' if it lies inside the closed bracket, else
    to its midpoint. It starts at `start` (clipped to the bracket; default log_upper) and stops
    after a Newton step of at most eps^(2/3) (1 + |t|) (converged to rounding: the next one
    would be O(step^2)) or after `steps` steps. A `lax.while_loop`: under `vmap` every lane runs
    until the slowest has stopped; stopped lanes stay put. Points where h is positive are below
    the root; h may be any positive value where it is undefined below the root (a slope of 0
    there makes the step bisect).

    Args:
        value_and_slope: t -> (h(t), h'(t)), scalars.
        log_lower: scalar below the root (or where h is positive).
        log_upper: scalar above the root (where h <= 0).
        steps: largest number of Newton/bisection steps.
        start: first iterate, or None for log_upper.

    Returns:
        t0 (stop-gradient scalar): the root, or an end of the bracket if h has no sign change.
    """
    log_lower, log_upper = jax.lax.stop_gradient((log_lower, log_upper))
    t_start = log_upper if start is None else jnp.clip(start, log_lower, log_upper)
    t_start = jax.lax.stop_gradient(t_start)
    tol = jnp.finfo(jnp.result_type(t_start)).eps ** (2 / 3)

    def running(state: tuple[Array, ...]) -> Array:
        k, _, _, t, moved = state
        return (k < steps) & (moved > tol * (1.0 + jnp.abs(t)))

    def step(state: tuple[Array, ...]) -> tuple[Array, ...]:
        k, lo, hi, t, _ = state
        value, slope = value_and_slope(t)
        above = value > 0  # root lies above t
        lo, hi = jnp.where(above, t, lo), jnp.where(above, hi, t)
        newton = t - value / jnp.where(slope < 0, slope, -1.0)
        # Inside the closed bracket (False for NaN): a converged step that rounds onto an end
        # stays there rather than bisecting away from the root.
        inside = (slope < 0) & (newton >= lo) & (newton <= hi)
        t_next = jnp.where(inside, newton, 0.5 * (lo + hi))
        # Only a Newton step tells convergence (a bisection step leaves an error up to its
        # size); NaN (an undefined residual) counts as no move: the loop stops, not spins.
        moved = jnp.where(inside, jnp.abs(t_next - t), jnp.inf)
        moved = jnp.where(jnp.isnan(t_next), 0.0, moved)
        return k + 1, lo, hi, t_next, moved

    state = (0, log_lower, log_upper, t_start, jnp.full_like(t_start, jnp.inf))
    return jax.lax.stop_gradient(jax.lax.while_loop(running, step, state)[3])


def implicit_step(residual: Callable[[Array, Any], Array], params: Any, t0: Array) -> Array:
    """t0 with the implicit-function derivative dt/dparams = -(dh/dparams) / (dh/dt).

    The zero-valued Newton step t = t0 - (h(t0, params) - h(t0, stop_gradient(params))) /
    stop_gradient(h'(t0)) keeps the value t0 and has exactly that first derivative (second
    derivatives through t are not exact). The slope is guarded against underflow to 0.
    """
    params0 = jax.lax.stop_gradient(params)
    _, slope = jax.jvp(lambda s: residual(s, params0), (t0,), (jnp.ones_like(t0),))
    slope = jnp.where(slope < 0, slope, -1.0)
    return t0 - (residual(t0, params) - residual(t0, params0)) / slope


def safe_log(x: Array) -> Array:
    """log(max(x, smallest normal float)): finite, with a finite gradient, also at x = 0.

    Residuals select between forms with `jnp.where`; an unselected log(0) = -inf would turn the
    gradient of the selected form into NaN.
    """
    return jnp.log(jnp.maximum(x, jnp.finfo(jnp.result_type(x)).tiny))


def learnabilities(log_lam: Array, t: Array) -> tuple[Array, Array]:
    """(L_i, 1 - L_i) with L_i = lambda_i / (lambda_i + e^t) = sigmoid(log lambda_i - t).

    Both from one exponential e^-|x| (x = log lambda_i - t), each without cancellation.
    """
    x = log_lam - t
    e = jnp.exp(-jnp.abs(x))
    inv = 1.0 / (1.0 + e)
    big = x >= 0
    return jnp.where(big, inv, e * inv), jnp.where(big, e * inv, inv)


def learnabilities_linear(lam: Array, gamma: Array) -> tuple[Array, Array]:
    """(L_i, 1 - L_i) = (lambda_i, gamma) / (lambda_i + gamma): one division per mode.

    Each is a ratio of positive numbers, exact to a few ulps (no cancellation) and without a
    transcendental function per mode; gamma = 0 gives (1, 0).
    """
    inv = 1.0 / (lam + gamma)
    return lam * inv, gamma * inv


def log_sum(x: Array) -> Array:
    """log sum_i x_i of positive x without overflow or a logarithm per element."""
    top = jnp.max(x)
    return jnp.log(top) + jnp.log(jnp.sum(x / top))
