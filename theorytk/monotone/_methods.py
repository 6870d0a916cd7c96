"""Deterministic and variance-reduced methods for 0 in F(z) + N_C(z), with exact oracle counts.

Every method is an optax-style pair of pure functions, `Method(init, update)`:

    state = method.init(problem, z0)          # hyperparameters live in the state (traced)
    state = method.update(problem, state, key)

A state is a NamedTuple with at least `z` (the point the method reports) and `oracle` (component
oracle calls so far: one F_i evaluation counts 1, one full F counts n). Hyperparameters
(`step`, ...) default to the theory's values computed from the problem's exact constants and
are stored in the state, so they can be traced and vmapped (pass a traced `step_scale`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._problems import AffineProblem

Operator = Callable[[AffineProblem, Float[Array, " d"], Float[Array, ""]], Float[Array, " d"]]


class Method(NamedTuple):
    """A method as two pure functions and the range of its update costs (for budgets).

    Attributes:
        init: `init(problem, z0) -> state`.
        update: `update(problem, state, key) -> state`.
        min_cost: `min_cost(n) -> int`, the fewest oracle calls one update can make (static).
        max_cost: `max_cost(n) -> int`, the most oracle calls `init` or one update can make.
    """

    init: Callable[[AffineProblem, Array], Any]
    update: Callable[[AffineProblem, Any, Array], Any]
    min_cost: Callable[[int], int]
    max_cost: Callable[[int], int]


COUNT_LIMIT = int(np.iinfo(np.int32).max)
"""The largest oracle count (and step count) a run may reach: counters are int32."""


def _count(n: int) -> Int[Array, ""]:
    return jnp.asarray(n, jnp.int32)


def _inverse(constant: Array) -> Array:
    """1/constant for a constant > 0, else 1: a step for F constant (L = 0), where any step is."""
    positive = constant > 0
    return jnp.where(positive, 1.0 / jnp.where(positive, constant, 1.0), 1.0)


def _scaled(step: ArrayLike | None, default: Array, scale: ArrayLike) -> Array:
    return (
        default * jnp.asarray(scale) if step is None else jnp.asarray(step) * jnp.ones_like(default)
    )


# --- Halpern iteration ----------------------------------------------------------------------


class HalpernState(NamedTuple):
    """z = x_k, the anchor x_0, k, oracle calls, and the step eta of T."""

    z: Array
    anchor: Array
    k: Array
    oracle: Array
    step: Array


def forward_operator(problem: AffineProblem, z: Array, step: Array) -> Array:
    """T z = P_C(z - eta F(z)): nonexpansive when F is (1/beta)-cocoercive and eta <= 2/beta."""
    return problem.project(z - step * problem.operator(z))


def resolvent_operator(problem: AffineProblem, z: Array, step: Array) -> Array:
    """T z = (I + eta F)^{-1} z = (I + eta B)^{-1} (z - eta c): exact, unconstrained only."""
    eye = jnp.eye(problem.dim, dtype=z.dtype)
    return jnp.linalg.solve(eye + step * problem.matrix, z - step * problem.offset)


def halpern(
    operator: Operator = forward_operator,
    *,
    step: ArrayLike | None = None,
    step_scale: ArrayLike = 1.0,
    cost: int | None = None,
) -> Method:
    """Halpern iteration x_{k+1} = lambda_k x_0 + (1 - lambda_k) T x_k, lambda_k = 1/(k+2).

    For nonexpansive T, ||x_k - T x_k|| <= 2 ||x_0 - x*|| / (k + 1) at every k (Lieder 2021,
    tight for T = -I at even k). With the default T = `forward_operator` and
    eta = step_scale / beta (beta the cocoercivity constant), ||F(x_k)|| <= 2 ||x_0 - x*|| /
    (eta (k + 1)) when unconstrained (when F is not cocoercive, beta = inf, the default is
    step_scale / L, outside the theory); `resolvent_operator` is the proximal point map of
    eta F (any monotone F, step default step_scale / L).

    Args:
        operator: `T(problem, z, step) -> z`.
        step: eta passed to T (default from the problem's constants, see above).
        step_scale: multiplier of the default step (traced allowed).
        cost: oracle calls per T evaluation (default n for the forward operator, 0 otherwise:
            an exact resolvent calls no oracle).
    """

    def init(problem: AffineProblem, z0: Array) -> HalpernState:
        if operator is resolvent_operator and problem.constrained:
            raise ValueError(
                "halpern(resolvent_operator) solves unconstrained problems only; pass "
                "operator=forward_operator for a constrained problem"
            )
        beta = problem.cocoercivity()
        if operator is forward_operator:
            default = jnp.where(jnp.isfinite(beta), _inverse(beta), _inverse(problem.lipschitz()))
        else:
            default = _inverse(problem.lipschitz())
        eta = _scaled(step, default.astype(z0.dtype), step_scale)
        return HalpernState(z0, z0, _count(0), _count(0), eta)

    def calls(n: int) -> int:
        if cost is not None:
            return cost
        return n if operator is forward_operator else 0

    def update(problem: AffineProblem, state: HalpernState, key: Array) -> HalpernState:
        del key
        lam = 1.0 / (state.k + 2.0)
        tz = operator(problem, state.z, state.step)
        z = lam * state.anchor + (1.0 - lam) * tz
        return state._replace(z=z, k=state.k + 1, oracle=state.oracle + calls(problem.n))

    return Method(init, update, calls, calls)


# --- Extragradient and anchored extragradient -------------------------------------------------


class ExtragradientState(NamedTuple):
    """z, F(z) (cached for the next update), the anchor, k, oracle calls, step, and L."""

    z: Array
    fz: Array
    anchor: Array
    k: Array
    oracle: Array
    step: Array
    lipschitz: Array


def _eg_init(default_scale: float, step: ArrayLike | None, step_scale: ArrayLike):
    def init(problem: AffineProblem, z0: Array) -> ExtragradientState:
        lip = problem.lipschitz().astype(z0.dtype)
        eta = _scaled(step, default_scale * _inverse(lip), step_scale)
        return ExtragradientState(
            z0, problem.operator(z0), z0, _count(0), _count(problem.n), eta, lip
        )

    return init


def extragradient(*, step: ArrayLike | None = None, step_scale: ArrayLike = 1.0) -> Method:
    """Projected extragradient (Korpelevich 1976), 2n oracle calls per update.

        z_{k+1/2} = P(z_k - eta F(z_k)),  z_{k+1} = P(z_k - eta F(z_{k+1/2}))

    F(z_{k+1}) is evaluated once and reused by the next update (the first F(z_0) counts n).
    Default eta = step_scale / (2L) (eta < 1/L is needed: at eta = 1/L the map
    z -> z - eta M (z - eta M z) has an eigenvalue 1 - 1 + 1 = 1 for M = L I).
    """

    def update(problem: AffineProblem, state: ExtragradientState, key: Array):
        del key
        half = problem.project(state.z - state.step * state.fz)
        z = problem.project(state.z - state.step * problem.operator(half))
        return state._replace(
            z=z, fz=problem.operator(z), k=state.k + 1, oracle=state.oracle + 2 * problem.n
        )

    return Method(_eg_init(0.5, step, step_scale), update, lambda n: 2 * n, lambda n: 2 * n)


def _anchored_update(problem: AffineProblem, state: ExtragradientState, step: Array):
    """One EAG update with beta_k = 1/(k+2) and step `step` (projected when constrained)."""
    beta = 1.0 / (state.k + 2.0)
    base = state.z + beta * (state.anchor - state.z)
    half = problem.project(base - step * state.fz)
    z = problem.project(base - step * problem.operator(half))
    return state._replace(
        z=z, fz=problem.operator(z), k=state.k + 1, oracle=state.oracle + 2 * problem.n
    )


def eag_c(*, step: ArrayLike | None = None, step_scale: ArrayLike = 1.0) -> Method:
    """Extra anchored gradient with constant step, EAG-C (Yoon and Ryu 2021), 2n calls per update.

        z_{k+1/2} = z_k + beta_k (z_0 - z_k) - alpha F(z_k)
        z_{k+1}   = z_k + beta_k (z_0 - z_k) - alpha F(z_{k+1/2}),   beta_k = 1/(k+2)

    With alpha = 1/(8L): ||F(z_k)||^2 <= 260 L^2 ||z_0 - z*||^2 / (k+1)^2 (Yoon and Ryu 2021,
    EAG-C theorem; the constant is 4 (1 + aL + a^2 L^2) / (a^2 L^2 (1 + aL)) = 259.6 at
    aL = 1/8). Constrained problems project both points (the "EAG" of the authors' code).
    """

    def update(problem: AffineProblem, state: ExtragradientState, key: Array):
        del key
        return _anchored_update(problem, state, state.step)

    return Method(_eg_init(1.0 / 8.0, step, step_scale), update, lambda n: 2 * n, lambda n: 2 * n)


def eag_v(*, step: ArrayLike | None = None, step_scale: ArrayLike = 1.0) -> Method:
    """Extra anchored gradient with varying step, EAG-V (Yoon and Ryu 2021), 2n calls per update.

    The EAG-C update with alpha_k in place of alpha, alpha_0 = 0.618 / L and

        alpha_{k+1} = alpha_k / (1 - alpha_k^2 L^2) (1 - (k+2)^2 / ((k+1)(k+3)) alpha_k^2 L^2),

    which decreases to a limit alpha_inf > 0.4 / L; ||F(z_k)||^2 <= 27 L^2 ||z_0 - z*||^2 /
    ((k+1)(k+2)) (Yoon and Ryu 2021, EAG-V theorem: 4 (1 + alpha_0 alpha_inf L^2) /
    (alpha_inf L)^2 = 26.65 with alpha_inf L = 0.43654).
    """

    def update(problem: AffineProblem, state: ExtragradientState, key: Array):
        del key
        new = _anchored_update(problem, state, state.step)
        a2 = (state.step * state.lipschitz) ** 2
        k = state.k.astype(a2.dtype)
        ratio = (k + 2.0) ** 2 / ((k + 1.0) * (k + 3.0))
        return new._replace(step=state.step / (1.0 - a2) * (1.0 - ratio * a2))

    return Method(_eg_init(0.618, step, step_scale), update, lambda n: 2 * n, lambda n: 2 * n)


# --- Loopless variance-reduced extragradient ----------------------------------------------------


class VREGState(NamedTuple):
    """z, the snapshot w and F(w), oracle calls, step tau, refresh probability p, alpha."""

    z: Array
    w: Array
    fw: Array
    oracle: Array
    step: Array
    p: Array
    alpha: Array


def vr_extragradient(
    *,
    step: ArrayLike | None = None,
    step_scale: ArrayLike = 1.0,
    p: ArrayLike | None = None,
) -> Method:
    """Loopless variance-reduced extragradient (Alacaoglu and Malitsky 2022, Algorithm 1).

        zbar = alpha z_k + (1 - alpha) w_k
        z_{k+1/2} = P(zbar - tau F(w_k))
        z_{k+1} = P(zbar - tau [F(w_k) + F_i(z_{k+1/2}) - F_i(w_k)]),  i ~ Uniform{1..n}
        w_{k+1} = z_{k+1} with probability p (a full F: n calls), else w_k

    2 calls per update plus n per refresh (and n for F(w_0)). Defaults p = 1/n,
    alpha = 1 - p, tau = 0.99 step_scale sqrt(p) / L_avg (their step
    gamma sqrt(p) / L with gamma < 1, here 0.99).
    """

    def init(problem: AffineProblem, z0: Array) -> VREGState:
        prob = jnp.asarray(1.0 / problem.n if p is None else p, z0.dtype)
        default = 0.99 * jnp.sqrt(prob) * _inverse(problem.mean_lipschitz().astype(z0.dtype))
        tau = _scaled(step, default, step_scale)
        return VREGState(z0, z0, problem.operator(z0), _count(problem.n), tau, prob, 1.0 - prob)

    def update(problem: AffineProblem, state: VREGState, key: Array) -> VREGState:
        k_i, k_p = jax.random.split(key)
        i = jax.random.randint(k_i, (), 0, problem.n)
        zbar = state.alpha * state.z + (1.0 - state.alpha) * state.w
        half = problem.project(zbar - state.step * state.fw)
        correction = problem.component(i, half) - problem.component(i, state.w)
        z = problem.project(zbar - state.step * (state.fw + correction))
        refresh = jax.random.bernoulli(k_p, state.p)
        w = jnp.where(refresh, z, state.w)
        fw = jax.lax.cond(refresh, lambda: problem.operator(z), lambda: state.fw)
        oracle = state.oracle + 2 + jnp.where(refresh, problem.n, 0)
        return state._replace(z=z, w=w, fw=fw, oracle=oracle)

    return Method(init, update, lambda n: 2, lambda n: n + 2)
