"""The two variance-reduced Halpern methods of Cai, Alacaoglu and Diakonikolas (ICLR 2024).

Schedules, batch sizes and inner iteration counts follow the authors' experiment code
(`zephyr-cai/Finite-Sum-Halpern-Iteration`, `matrix_game.py` and `quadratic_programming.py`);
every oracle call is counted, including the first full evaluation of each inner solve.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Int

from ._methods import Method, _count, _inverse, _scaled
from ._problems import AffineProblem


class VRHalpernState(NamedTuple):
    """x_k, the anchor x_0, x_{k-1}, the PAGE estimate g_k of F(x_k), k, oracle calls, eta."""

    z: Array
    anchor: Array
    previous: Array
    estimate: Array
    k: Array
    oracle: Array
    step: Array


def batch_size(n: int | Int[Array, ""]) -> int | Int[Array, ""]:
    """The mini-batch of Algorithm 1: floor(sqrt(n)) components, at least 1 (authors' code).

    A traced n (a padded problem) gives a traced int32 batch size.
    """
    if isinstance(n, int | np.integer):
        return max(1, math.isqrt(n))
    n = jnp.asarray(n, jnp.int32)
    root = jnp.floor(jnp.sqrt(n.astype(float))).astype(jnp.int32)
    root = root - (root * root > n) + ((root + 1) * (root + 1) <= n)  # exact isqrt
    return jnp.maximum(root, 1)


def refresh_probability(k: Array, n: int | Int[Array, ""]) -> Array:
    """p_k of Algorithm 1: 1 for k <= 1, 4/(k+4) while k <= sqrt(n) + 1, then 4/(sqrt(n)+5)."""
    k = jnp.asarray(k, float)
    root = _sqrt(n, k.dtype)
    return jnp.where(k <= 1, 1.0, jnp.where(k <= root + 1, 4.0 / (k + 4.0), 4.0 / (root + 5.0)))


def _sqrt(n: int | Int[Array, ""], dtype: jnp.dtype) -> float | Array:
    """sqrt(n): a Python float for a static n, else in `dtype`."""
    return math.sqrt(n) if isinstance(n, int | np.integer) else jnp.sqrt(jnp.asarray(n, dtype))


_UINT32_MAX = int(np.iinfo(np.uint32).max)


def sample_batch(
    key: Array, n: int | Int[Array, ""], draws: int, size: int
) -> Int[Array, " draws"]:
    """The first `draws` entries of a uniformly random permutation of range(n), n <= size.

    What `jax.random.choice(key, n, (draws,), replace=False)` draws, for an n that may be
    traced (a padded problem): `jax.random.permutation`'s rounds of a stable sort by fresh
    32-bit keys (3 ln(n) / ln(2^32 - 1) rounds, rounded up), run on range(size) with the
    largest key at positions >= n, so those sort last and the first n positions hold the
    permutation of range(n) that n alone gives (threefry keys depend on the position only).
    Entries past n (when draws > n) are padding.
    """
    order = jnp.arange(size)
    padded = jnp.arange(size) >= n
    for r in range(_rounds(size)):
        key, subkey = jax.random.split(key)
        bits = jnp.where(padded, _UINT32_MAX, jax.random.bits(subkey, (size,), jnp.uint32))
        shuffled = jax.lax.sort_key_val(bits, order)[1]
        order = jnp.where(n > _UINT32_MAX ** (r / 3), shuffled, order)  # round r of n's
    return order[:draws]


def _rounds(n: int) -> int:
    """The sorting rounds of `jax.random.permutation` of n elements (its uniqueness heuristic)."""
    return int(np.ceil(3 * np.log(max(1, n)) / np.log(_UINT32_MAX)))


def vr_halpern(*, step: ArrayLike | None = None, step_scale: ArrayLike = 1.0) -> Method:
    """Variance-reduced Halpern iteration for cocoercive finite sums (Algorithm 1).

        x_{k+1} = P_C(lambda_k x_0 + (1 - lambda_k) x_k - eta g_k),  lambda_k = 2/(k+4)

    with the PAGE estimator g_k = F(x_k) with probability p_k (n calls), else
    g_k = g_{k-1} + (1/b) sum_{i in S_k} (F_i(x_k) - F_i(x_{k-1})) over b = floor(sqrt(n))
    components drawn without replacement (2b calls); p_k = `refresh_probability`. Oracle
    complexity O(n + sqrt(n) L / eps) for F cocoercive on average with constant L.
    Default eta = step_scale / beta_avg, beta_avg = `problem.mean_cocoercivity()`; where F is
    not cocoercive on average (beta_avg = inf: games, the authors' quadratic, any skew part)
    eta = step_scale / L_avg, the Lipschitz case, outside the cocoercive theory (a choice: the
    authors tune eta per problem, 5/||A||_F on their game, 15/L_avg on their n = 500
    instance, and 0.3 on their quadratic; pass `step=` for those).
    """

    def init(problem: AffineProblem, z0: Array) -> VRHalpernState:
        beta = problem.mean_cocoercivity().astype(z0.dtype)
        lip = problem.mean_lipschitz().astype(z0.dtype)
        default = jnp.where(jnp.isfinite(beta), _inverse(beta), _inverse(lip))
        eta = _scaled(step, default, step_scale)
        zero = jnp.zeros_like(z0)
        return VRHalpernState(z0, z0, z0, zero, _count(0), _count(0), eta)

    def update(problem: AffineProblem, state: VRHalpernState, key: Array) -> VRHalpernState:
        n, b, most = problem.n, batch_size(problem.n), batch_size(problem.size)
        k_coin, k_batch = jax.random.split(key)
        full = jax.random.bernoulli(k_coin, refresh_probability(state.k, n))
        batch = sample_batch(k_batch, n, most, problem.size)
        used = None if isinstance(b, int) else b  # a padded problem's batch: the first b of most
        difference = problem.batch(batch, state.z, used) - problem.batch(
            batch, state.previous, used
        )
        estimate = jax.lax.cond(
            full, lambda: problem.operator(state.z), lambda: state.estimate + difference
        )
        lam = 2.0 / (state.k + 4.0)
        point = lam * state.anchor + (1.0 - lam) * state.z - state.step * estimate
        return state._replace(
            z=problem.project(point),
            previous=state.z,
            estimate=estimate,
            k=state.k + 1,
            oracle=state.oracle + jnp.where(full, n, 2 * b),
        )

    return Method(
        init, update, lambda n: min(n, 2 * batch_size(n)), lambda n: max(n, 2 * batch_size(n))
    )


class InexactHalpernState(NamedTuple):
    """Outer x_k (= z) and anchor; inner VR-FoRB iterate v, snapshots w, w_prev, G(w); counters.

    `inner` counts the inner steps taken in the current resolvent, `inner_total` is M_k.
    """

    z: Array
    anchor: Array
    v: Array
    w: Array
    w_prev: Array
    gw: Array
    k: Array
    inner: Array
    inner_total: Array
    oracle: Array
    step: Array
    inner_step: Array
    p: Array
    inner_factor: Array


def inner_iterations(k: Array, n: int, factor: Array) -> Array:
    """M_k = max(1, floor(factor n log(k + 2))) (the authors' code uses factor = 0.05)."""
    count = jnp.floor(factor * n * jnp.log(jnp.asarray(k, float) + 2.0))
    return jnp.maximum(count, 1.0).astype(jnp.int32)


def inexact_vr_halpern(
    *,
    step: ArrayLike | None = None,
    step_scale: ArrayLike = 1.0,
    inner_step: ArrayLike | None = None,
    inner_factor: ArrayLike = 0.05,
) -> Method:
    """Inexact Halpern iteration with a VR-FoRB resolvent, for monotone Lipschitz sums (Alg. 2).

    Outer: x_{k+1} = lambda_k x_0 + (1 - lambda_k) v_k, lambda_k = 1/(k+2), where v_k
    approximates the resolvent J_{eta (F + N_C)}(x_k): the zero of the 1-strongly monotone
    G(v) = v - x_k + eta F(v) over C, with components G_i(v) = v - x_k + eta F_i(v). Inner
    (loopless VR forward-reflected-backward, Alacaoglu, Malitsky and Cevher 2021), from
    v_0 = w_0 = w_{-1} = x_k and M_k = `inner_iterations(k)` steps:

        vbar = alpha v_t + (1 - alpha) w_t
        v_{t+1} = P_C(vbar - gamma [G(w_t) + G_i(v_t) - G_i(w_{t-1})]),   i ~ Uniform
        w_{t+1} = v_{t+1} with probability p (n calls), else w_t

    p = 1/n, alpha = 1 - p. Calls: n for G(w_0) (counted), 2 per inner step, n per refresh.
    One `update` is one inner step (the outer update happens at the M_k-th), so a `sweep.Loop`
    can stop between inner steps. Defaults (the authors' matrix-game choices, with their
    constant in place of ||A||_F): eta = step_scale sqrt(n) / L_avg, gamma =
    sqrt(p (1 - p)) / (1 + eta L_avg) (a bound on G's mean-square Lipschitz constant).
    The authors' code resets the snapshot to x_k instead of v_{t+1}; this follows the VR-FoRB
    algorithm the paper cites.
    """

    def init(problem: AffineProblem, z0: Array) -> InexactHalpernState:
        n = problem.n
        lip = problem.mean_lipschitz().astype(z0.dtype)
        root = jnp.sqrt(float(n) if isinstance(n, int) else jnp.asarray(n, z0.dtype))
        eta = _scaled(step, root * _inverse(lip), step_scale)
        prob = jnp.asarray(1.0 / n, z0.dtype)
        default_inner = jnp.sqrt(prob * (1.0 - prob)) / (1.0 + eta * lip)
        gamma = default_inner if inner_step is None else jnp.asarray(inner_step) + 0 * eta
        factor = jnp.asarray(inner_factor, z0.dtype)
        return InexactHalpernState(
            z=z0,
            anchor=z0,
            v=z0,
            w=z0,
            w_prev=z0,
            gw=eta * problem.operator(z0),
            k=_count(0),
            inner=_count(0),
            inner_total=inner_iterations(0, n, factor),
            oracle=_count(n),
            step=eta,
            inner_step=gamma,
            p=prob,
            inner_factor=factor,
        )

    def update(problem: AffineProblem, s: InexactHalpernState, key: Array) -> InexactHalpernState:
        n = problem.n
        k_i, k_p = jax.random.split(key)
        i = jax.random.randint(k_i, (), 0, n)
        alpha = 1.0 - s.p
        vbar = alpha * s.v + (1.0 - alpha) * s.w
        correction = s.step * (problem.component(i, s.v) - problem.component(i, s.w_prev))
        v = problem.project(vbar - s.inner_step * (s.gw + correction + s.v - s.w_prev))
        refresh = jax.random.bernoulli(k_p, s.p)
        w = jnp.where(refresh, v, s.w)
        inner = s.inner + 1
        done = inner >= s.inner_total
        lam = 1.0 / (s.k + 2.0)
        outer = lam * s.anchor + (1.0 - lam) * v
        z = jnp.where(done, outer, s.z)
        w = jnp.where(done, z, w)
        evaluate = done | refresh
        gw = jax.lax.cond(evaluate, lambda: s.step * problem.operator(w) + w - z, lambda: s.gw)
        k = s.k + done.astype(s.k.dtype)
        return s._replace(
            z=z,
            v=jnp.where(done, z, v),
            w=w,
            w_prev=jnp.where(done, z, s.w),
            gw=gw,
            k=k,
            inner=jnp.where(done, 0, inner),
            inner_total=jnp.where(done, inner_iterations(k, n, s.inner_factor), s.inner_total),
            oracle=s.oracle + 2 + jnp.where(evaluate, n, 0),
        )

    return Method(init, update, lambda n: 2, lambda n: n + 2)
