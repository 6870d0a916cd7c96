"""Rate bounds of Halpern, EAG-C and EAG-V checked at every iterate."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk import monotone

# Floating-point slack only: every bound below is a theorem, checked in float64.
SLACK = 1e-9

# Methods built once, so the compiled runs are reused across hypothesis examples.
EAG_C, EAG_V = monotone.eag_c(), monotone.eag_v()
HALPERN = {scale: monotone.halpern(step_scale=scale) for scale in (1.0, 2.0)}


def _carrier(d: int) -> monotone.LinearProblem:
    """A problem object for methods on a user map T (its F is never evaluated)."""
    return monotone.LinearProblem(jnp.zeros((1, d, d)), jnp.zeros((1, d)))


def _halpern_iterates(t_map, x0: jnp.ndarray, steps: int) -> np.ndarray:
    method = monotone.halpern(lambda problem, z, step: t_map(z), step=1.0)
    problem = _carrier(x0.shape[0])
    state = method.init(problem, x0)

    def one(s, _):
        return method.update(problem, s, jax.random.key(0)), s.z

    _, zs = jax.lax.scan(one, state, None, length=steps)
    return zs


def _nonexpansive(draw, d: int, rng: np.random.Generator):
    """A nonexpansive linear map: rotation, reflection, projection or resolvent."""
    kind = draw(st.sampled_from(["rotation", "reflection", "projection", "resolvent"]))
    if kind == "rotation":
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        return q
    if kind == "reflection":
        u = rng.standard_normal(d)
        return np.eye(d) - 2 * np.outer(u, u) / (u @ u)
    if kind == "projection":
        basis, _ = np.linalg.qr(rng.standard_normal((d, max(1, d // 2))))
        return basis @ basis.T
    g, k = rng.standard_normal((d, d)), rng.standard_normal((d, d))
    return np.linalg.inv(np.eye(d) + g @ g.T / d + (k - k.T))


@st.composite
def nonexpansive_maps(draw):
    """(T, x*, x0): T a composition of nonexpansive maps that all fix x*."""
    d = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    linear = np.eye(d)
    for _ in range(draw(st.integers(1, 3))):
        linear = _nonexpansive(draw, d, rng) @ linear
    clip = draw(st.sampled_from([None, "ball", "box"]))
    x_star, x0 = rng.standard_normal(d), 3 * rng.standard_normal(d)
    radius = float(rng.uniform(0.1, 2.0))
    linear, xs = jnp.asarray(linear), jnp.asarray(x_star)

    def t_map(z):
        u = linear @ (z - xs)
        if clip == "ball":
            u = u * jnp.minimum(1.0, radius / jnp.maximum(jnp.linalg.norm(u), 1e-300))
        elif clip == "box":
            u = jnp.clip(u, -radius, radius)
        return xs + u

    return t_map, xs, jnp.asarray(x0)


@settings(max_examples=15, deadline=None)
@given(nonexpansive_maps())
def test_halpern_meets_lieder_bound_at_every_iterate(case):
    t_map, x_star, x0 = case
    zs = _halpern_iterates(t_map, x0, 60)
    gaps = np.linalg.norm(zs - jax.vmap(t_map)(zs), axis=1)
    k = np.arange(60)
    bound = 2 * float(jnp.linalg.norm(x0 - x_star)) / (k + 1)
    assert np.all(gaps <= bound * (1 + SLACK) + SLACK)


def test_halpern_attains_lieder_bound_for_minus_identity_at_even_k():
    x0 = jnp.array([1.0, -2.0, 0.5])
    zs = _halpern_iterates(lambda z: -z, x0, 41)
    gaps = np.linalg.norm(2 * zs, axis=1)
    k = np.arange(41)
    bound = 2 * float(jnp.linalg.norm(x0)) / (k + 1)
    np.testing.assert_allclose(gaps[::2], bound[::2], rtol=1e-12)
    assert np.all(gaps[1::2] < bound[1::2])  # odd k: x_k = 0 exactly, so strictly inside


def _cocoercive(seed: int, d: int) -> monotone.LinearProblem:
    return monotone.random_cocoercive_linear(jax.random.key(seed), d, condition=100.0)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from([2, 6]), st.sampled_from([1.0, 2.0]))
def test_halpern_forward_step_meets_cocoercive_bound_for_eta_1_and_2_over_beta(seed, d, scale):
    # T = I - eta F is nonexpansive for eta <= 2/beta, so ||F(x_k)|| = ||x_k - T x_k|| / eta
    # <= 2 ||x_0 - x*|| / (eta (k + 1)) by Lieder's bound.
    problem = _cocoercive(seed, d)
    out = monotone.trace(problem, HALPERN[scale], jax.random.key(0), updates=200)
    eta = scale / float(problem.cocoercivity())
    k = np.arange(201)
    bound = 2 * float(jnp.linalg.norm(problem.solution)) / (eta * (k + 1))
    assert np.all(np.asarray(out.residual) <= bound * (1 + SLACK))


def _monotone_cases():
    bilinear = st.floats(0.1, 10.0).map(
        lambda a: monotone.LinearProblem(
            jnp.array([[[0.0, a], [-a, 0.0]]]), jnp.array([[a, -a]]), solution=jnp.array([1.0, 1.0])
        )
    )
    random = st.tuples(st.integers(0, 2**31), st.sampled_from([2, 5]), st.floats(0.0, 5.0)).map(
        lambda t: monotone.random_monotone_linear(jax.random.key(t[0]), t[1], skew=t[2])
    )
    return st.one_of(bilinear, random)


def _squared_residuals(problem, method, updates=300):
    out = monotone.trace(problem, method, jax.random.key(0), updates=updates)
    lip = float(problem.lipschitz())
    dist2 = float(jnp.sum((monotone.start_point(problem) - problem.solution) ** 2))
    return np.asarray(out.residual) ** 2, lip**2 * dist2, out


@settings(max_examples=15, deadline=None)
@given(_monotone_cases())
def test_eag_c_meets_260_l2_bound_at_every_iterate(problem):
    # Yoon and Ryu (2021), EAG-C with alpha = 1/(8L), beta_k = 1/(k+2): the bound's constant
    # 4 (1 + aL + a^2L^2) / (a^2 L^2 (1 + aL)) at aL = 1/8 is 259.6, rounded up to 260.
    res2, scale, _ = _squared_residuals(problem, EAG_C)
    k = np.arange(res2.shape[0])
    assert np.all(res2 <= 260 * scale / (k + 1) ** 2 * (1 + SLACK))


@settings(max_examples=15, deadline=None)
@given(_monotone_cases())
def test_eag_v_meets_27_l2_bound_at_every_iterate(problem):
    # Yoon and Ryu (2021), EAG-V with alpha_0 = 0.618 / L.
    res2, scale, out = _squared_residuals(problem, EAG_V)
    k = np.arange(res2.shape[0])
    assert np.all(res2 <= 27 * scale / ((k + 1) * (k + 2)) * (1 + SLACK))
    # The constant 27 is 4 (1 + alpha_0 alpha_inf L^2) / (alpha_inf L)^2 rounded up (the bound
    # of their EAG-V theorem); the step decreases towards alpha_inf, so the constant evaluated
    # at alpha_300 is a lower estimate of it, and must be <= 27 for our recursion (26.62 at
    # alpha_300 L = 0.4369; the limit alpha_inf L = 0.43654 gives 26.65).
    a_k = float(out.state.step * problem.lipschitz())
    assert 4 * (1 + 0.618 * a_k) / a_k**2 <= 27


def test_eag_c_residual_decays_like_one_over_k_on_a_rotation():
    # On F(z) = [[0, 1], [-1, 0]] z the residual decays as Theta(1/k): k ||F(z_k)|| stays
    # within [c, 260^(1/2)] ||z_0 - z*|| L for large k (a lower check: the bound is not vacuous).
    problem = monotone.LinearProblem(
        jnp.array([[[0.0, 1.0], [-1.0, 0.0]]]), jnp.array([[1.0, -1.0]]), solution=jnp.ones(2)
    )
    out = monotone.trace(problem, EAG_C, jax.random.key(0), updates=2000)
    k_res = np.arange(1, 2002)[-100:] * np.asarray(out.residual)[-100:]
    assert np.all(k_res > 0.01) and np.all(k_res < np.sqrt(260 * 2))
