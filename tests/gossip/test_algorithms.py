"""Invariants and rates of gossip, D-SGD, gradient tracking and DFedSAM-MGS (float64)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk import fit, gossip

TOPOLOGIES = {
    "ring": lambda: gossip.ring(12),
    "torus": lambda: gossip.torus(3, 4),
    "hypercube": lambda: gossip.hypercube(3),
    "complete": lambda: gossip.complete(6),
    "star": lambda: gossip.star(9),
    "exponential": lambda: gossip.exponential(10),
    "erdos_renyi": lambda: gossip.erdos_renyi(10, 0.3, jax.random.key(1)),
    "random_geometric": lambda: gossip.random_geometric(10, 0.5, jax.random.key(2)),
}
STEPS = 12


def _gossip_trace(w: jax.Array, x0: jax.Array):
    method = gossip.gossip_averaging(w)
    metrics = lambda s: {"mean": s.x.mean(0), "dev": jnp.linalg.norm(s.x - s.x.mean(0))}  # noqa: E731
    return gossip.run(method, x0, jax.random.key(0), steps=STEPS, metrics=metrics)[1]


_gossip_trace = jax.jit(_gossip_trace)


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
@given(seed=st.integers(0, 2**31 - 1), lazy=st.booleans(), scale=st.floats(1e-3, 1e3))
@settings(max_examples=10, deadline=None)
def test_gossip_preserves_average_and_contracts_at_least_as_rho_to_the_t(name, seed, lazy, scale):
    w = gossip.metropolis_hastings(TOPOLOGIES[name]())
    w = gossip.lazy(w) if lazy else w
    rho = gossip.contraction_factor(w)
    x0 = scale * jax.random.normal(jax.random.key(seed), (w.shape[0], 3))
    trace = _gossip_trace(gossip.as_stack(w), x0)
    # W^T 1 = 1 makes the mean exact up to rounding: n * eps64 * |x| per step, STEPS steps.
    assert np.abs(trace["mean"] - x0.mean(0)).max() <= 1e-13 * scale * STEPS * w.shape[0]
    bound = rho ** np.arange(1, STEPS + 1) * float(jnp.linalg.norm(x0 - x0.mean(0)))
    # ||(W - J)^t (X - 1 xbar)|| <= rho^t ||X - 1 xbar||, up to rounding (relative 1e-12).
    assert (np.asarray(trace["dev"]) <= bound * (1 + 1e-12) + 1e-14 * scale).all()


def _quadratic_setup(n: int = 8, d: int = 3):
    problem = gossip.random_quadratic(jax.random.key(5), n, d, mu=1.0, smoothness=4.0)
    w = gossip.as_stack(gossip.metropolis_hastings(gossip.ring(n)))
    return problem, w


def test_gradient_tracking_tracks_the_average_gradient_at_every_step():
    problem, w = _quadratic_setup()
    method = gossip.gradient_tracking(problem, w, 0.05)

    def metrics(state):
        g = problem.grads(state.x)
        return {"gap": jnp.abs(state.y.mean(0) - g.mean(0)).max(), "scale": jnp.abs(g).max()}

    x0 = jax.random.normal(jax.random.key(1), (8, 3))
    _, trace = jax.jit(
        lambda x: gossip.run(method, x, jax.random.key(0), steps=300, metrics=metrics)
    )(x0)
    # mean(y) - mean(g) is zero in exact arithmetic; each step adds rounding ~ eps64 * |g| * n,
    # so after 300 steps it stays below 300 * 8 * 2.2e-16 * max|g| ~ 5e-13 max|g|.
    assert (trace["gap"] <= 1e-12 * jnp.maximum(trace["scale"].max(), 1.0)).all()


def test_gradient_tracking_converges_to_the_exact_optimum_in_float64():
    problem, w = _quadratic_setup()
    method = gossip.gradient_tracking(problem, w, 0.05)
    x0 = jax.random.normal(jax.random.key(1), (8, 3))
    state, trace = gossip.run(
        method,
        x0,
        jax.random.key(0),
        steps=3000,
        metrics=lambda s: {"err": jnp.abs(s.x - problem.optimum).max()},
    )
    assert float(trace["err"][-1]) < 1e-10
    # while D-SGD with the same step stalls at its O(lr) consensus bias
    dsgd = gossip.dsgd(problem, w, optax.sgd(0.05))
    final, _ = gossip.run(dsgd, x0, jax.random.key(0), steps=3000, metrics=lambda s: {})
    assert float(jnp.abs(final.x - problem.optimum).max()) > 1e-4


@pytest.mark.parametrize("order", gossip.ORDERS)
def test_dsgd_constant_step_bias_is_linear_in_the_step(order):
    problem = gossip.random_quadratic(jax.random.key(5), 8, 3, mu=1.0, smoothness=4.0)
    w = gossip.as_stack(gossip.metropolis_hastings(gossip.hypercube(3)))  # gap 1 - rho = 1/2
    lrs = np.geomspace(1e-3, 1e-2, 5)
    x0 = jnp.broadcast_to(problem.optimum, (8, 3))  # start at x*: the run only builds the bias

    def bias(lr):
        method = gossip.dsgd(problem, w, optax.sgd(lr), order=order)
        state, _ = gossip.run(method, x0, jax.random.key(0), steps=10_000, metrics=lambda s: {})
        return jnp.linalg.norm(state.x.mean(0) - problem.optimum)

    b = np.asarray(jax.jit(jax.vmap(bias))(jnp.asarray(lrs)))
    slope = -float(fit.fit_power_law(lrs, b, with_constant=False).b)  # fit: b ~ lrs^(-fit.b)
    # The fixed point is analytic in lr: bias = c1 lr (1 + O(lr L / (1 - rho))), and
    # lr L / (1 - rho) <= 0.01 * 4 / 0.5 = 0.08 here, so the log-log slope is 1 within 0.08.
    # The transient from x* decays as (1 - lr mu)^10000 <= e^-10 relative to the bias.
    assert abs(slope - 1.0) < 0.08, slope


def test_dfedsam_mgs_gossip_phase_shrinks_consensus_as_rho_to_the_q():
    n = 16
    problem = gossip.random_quadratic(jax.random.key(2), n, 4, noise=0.5)
    mixing = gossip.uniform_neighbour(gossip.ring(n))
    rho = gossip.contraction_factor(mixing)
    w = gossip.as_stack(mixing)
    x0 = jax.random.normal(jax.random.key(3), (n, 4))
    qs = jnp.arange(0, 25)

    def consensus_after_round(q):
        method = gossip.dfedsam(
            problem,
            w,
            optax.sgd(0.05),
            radius=0.05,
            local_steps=3,
            gossip_steps=q,
            max_gossip_steps=24,
        )
        state = method.step(method.init(x0), jnp.asarray(0), jax.random.key(4))
        return gossip.consensus_error(state.x)

    c = np.asarray(jax.jit(jax.vmap(consensus_after_round))(qs))
    # squared disagreement after Q steps <= rho^(2Q) times that before (Q = 0), rounding aside
    assert (c <= c[0] * rho ** (2 * np.asarray(qs)) * (1 + 1e-10)).all()
    # and the rate is rho itself: between Q = 16 and 24 the second eigenvector dominates; the
    # third mode (lambda_3 / lambda_2 = 0.849 on C_16) contaminates it by <= 0.849^32 = 5e-3.
    rate = (c[24] / c[16]) ** (1 / 16)
    assert abs(rate - rho) < 0.01 * rho, (rate, rho)


def test_dsgd_stochastic_run_is_reproducible_and_key_dependent():
    problem, w = _quadratic_setup()
    problem = gossip.random_quadratic(jax.random.key(5), 8, 3, noise=1.0)
    method = gossip.dsgd(problem, w, optax.sgd(0.05), stochastic=True)
    x0 = jnp.zeros((8, 3))
    a, _ = gossip.run(method, x0, jax.random.key(0), steps=20, metrics=lambda s: {})
    b, _ = gossip.run(method, x0, jax.random.key(0), steps=20, metrics=lambda s: {})
    c, _ = gossip.run(method, x0, jax.random.key(1), steps=20, metrics=lambda s: {})
    assert (a.x == b.x).all() and not jnp.allclose(a.x, c.x)
