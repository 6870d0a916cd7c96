"""The self-repellent random walk: reversibility, convergence to mu, V(alpha), token SGD."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from gossip_setups import reweighted_token_sgd
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk import gossip, sweep

ALPHAS = (0.0, 1.0, 5.0, 10.0)
WALKS = 1000


def _scaled_errors(config: gossip.SrrwConfig, a: float = 1.0) -> np.ndarray:
    """gamma_n^-1 (x_n^T f - mu^T f)^2 of WALKS walks per alpha in ALPHAS: shape (4, WALKS)."""

    def one(alpha, key):
        return gossip.srrw_simulate({"alpha": alpha, "a": a}, key, config=config)["scaled_error"]

    keys = jax.random.split(jax.random.key(11), (len(ALPHAS), WALKS))
    runs = jax.jit(jax.vmap(jax.vmap(one, in_axes=(None, 0))))
    return np.asarray(runs(jnp.asarray(ALPHAS), keys))


def _exact_mse_base_chain(p: np.ndarray, mu: np.ndarray, f: np.ndarray, n: int) -> float:
    """(n+1) E[(x_n^T f - mu^T f)^2] of the base chain (alpha = 0, a = 1) from node 0, exactly.

    x_n^T f - mu^T f = (1/(n+1)) sum_{k=1}^n g(X_k), g = f - mu^T f (x_0 = mu adds 0), and
    E[(sum_k g(X_k))^2] = sum_k p_k^T (g * (g + 2 sum_{j=1}^{n-k} P^j g)), p_k = e_0^T P^k.
    """
    g = f - mu @ f
    tails = [np.zeros_like(g)]  # tails[m] = sum_{j=1}^m P^j g
    power = g
    for _ in range(n - 1):
        power = p @ power
        tails.append(tails[-1] + power)
    dist = np.zeros_like(g)
    dist[0] = 1.0
    total = 0.0
    for k in range(1, n + 1):
        dist = dist @ p
        total += dist @ (g * (g + 2 * tails[n - k]))
    return total / (n + 1)


@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=10, deadline=None)
def test_metropolis_hastings_chain_is_stochastic_and_reversible_towards_its_target(seed):
    adj = gossip.lollipop(4, 3)
    mu = np.random.default_rng(seed).uniform(0.1, 1.0, 7)
    mu /= mu.sum()
    p = gossip.metropolis_hastings_chain(adj, mu)
    # Exact up to rounding of sums of <= 7 terms of size <= 1.
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-14)
    assert (p >= 0).all() and (p[~adj & ~np.eye(7, dtype=bool)] == 0).all()
    np.testing.assert_allclose(mu[:, None] * p, (mu[:, None] * p).T, atol=1e-15)
    np.testing.assert_allclose(mu @ p, mu, atol=1e-14)


def test_srrw_theory_at_alpha_zero_is_the_limit_of_the_exact_base_chain_variance():
    # Independent of the simulation: the finite-n mean squared error of the ergodic average,
    # computed exactly from P, tends to sigma^2(0) = sum_i c_i of the spectral formula.
    for graph, n, rel in (("exponential8", 5000, 0.01), ("lollipop", 20000, 0.02)):
        p, mu, f = gossip.SrrwConfig(graph=graph).walk()
        exact = _exact_mse_base_chain(p, mu, f, n)
        limit = float(gossip.srrw_variance(p, mu, f, 0.0))
        # The finite-n correction is O(t_rel / n) relative (t_rel = 1/(1 - lambda_2) = 1.25
        # and 22): below `rel` at these n, which also bounds the start-up bias of the
        # simulations below.
        assert abs(exact / limit - 1) < rel, (graph, exact, limit)


def _check_variance_ratios(graph: str, steps: int) -> None:
    config = gossip.SrrwConfig(graph=graph, steps=steps)
    p, mu, f = config.walk()
    errors = _scaled_errors(config)
    mean = errors.mean(1)
    sem = errors.std(1, ddof=1) / np.sqrt(WALKS)
    theory = np.asarray(gossip.srrw_variance(p, mu, f, jnp.asarray(ALPHAS)))
    for k in range(1, len(ALPHAS)):
        ratio = mean[k] / mean[0]
        # Independent walks: delta-method standard error of the ratio of two sample means.
        se = ratio * np.hypot(sem[k] / mean[k], sem[0] / mean[0])
        # 4 standard errors: a false alarm has probability < 1e-4 per ratio; the finite-n
        # bias is below 1-2% (previous test), under one standard error (~6%).
        assert abs(ratio - theory[k] / theory[0]) < 4 * se, (graph, ALPHAS[k], ratio, se)


def test_srrw_variance_ratio_matches_theory_on_a_regular_graph():
    _check_variance_ratios("exponential8", 5000)


@pytest.mark.slow
def test_srrw_variance_ratio_matches_theory_on_a_lollipop_graph():
    _check_variance_ratios("lollipop", 20000)


def test_srrw_visit_frequencies_converge_to_a_non_uniform_target():
    config = gossip.SrrwConfig(graph="lollipop", target="degree", steps=20000)
    p, mu, _ = config.walk()
    walks = 64
    keys = jax.random.split(jax.random.key(3), walks)

    def final(alpha, a, key):
        return gossip.srrw_walk(p, mu, key, alpha=alpha, a=a, steps=config.steps)

    run = jax.jit(jax.vmap(final, in_axes=(None, None, 0)))
    for alpha, a in ((0.0, 1.0), (5.0, 1.0), (5.0, 0.75)):
        state = run(alpha, a, keys)
        freq = np.asarray(state.visits) / config.steps
        gamma = (config.steps + 1.0) ** -a
        # E||x_n - mu||^2 ~ gamma_n tr V(alpha): the sum over nodes of the variance of the
        # indicator test functions. The mean over 64 walks of a sum of 10 squared, roughly
        # Gaussian errors is within a factor 2 of its expectation with overwhelming
        # probability (chi-square with >= 64 degrees of freedom).
        expected = gamma * sum(
            float(gossip.srrw_variance(p, mu, np.eye(mu.size)[k], alpha, a)) for k in range(mu.size)
        )
        sq = np.asarray(jnp.sum((state.x - mu) ** 2, axis=1)).mean()
        assert 0.5 < sq / expected < 2.0, (alpha, a, sq, expected)
        if a == 1.0:  # x_n is then the visit frequency (with x_0 = mu as one pseudo-visit)
            assert np.abs(freq - mu).sum(1).max() < 10 * np.sqrt(expected * mu.size)


def test_token_sgd_with_unit_curvature_and_harmonic_steps_is_the_srrw_average_of_centres():
    # f_i = |theta - c_i|^2 / 2 and lr_n = 1/(n + 2): theta_n = (theta_0 + sum_k c_{X_k})/(n+1)
    # = x_n^T C when theta_0 = mu^T C, the SRRW average (a = 1), for any alpha.
    n, d, steps = 7, 3, 300
    centres = jax.random.normal(jax.random.key(0), (n, d))
    problem = gossip.quadratic(np.ones((n, d)), np.asarray(centres))
    adj = gossip.lollipop(4, 3)
    mu = np.arange(1.0, n + 1) / np.arange(1.0, n + 1).sum()
    p = gossip.metropolis_hastings_chain(adj, mu)
    opt = optax.sgd(lambda k: 1.0 / (k + 2.0))
    key = jax.random.key(5)
    state = gossip.token_sgd(
        problem, p, mu, opt, mu @ centres, key, alpha=3.0, steps=steps, reweight=False
    )
    walk = gossip.srrw_walk(p, mu, key, alpha=3.0, steps=steps)
    np.testing.assert_array_equal(state.walk.visits, walk.visits)  # same key, same path
    # Same sums in a different order: rounding error ~ steps * eps64 * |c|.
    np.testing.assert_allclose(state.params, walk.x @ centres, atol=1e-12)


def test_reweighted_token_sgd_under_a_non_uniform_target_reaches_the_average_optimum():
    problem, _, final = reweighted_token_sgd()
    dist = np.linalg.norm(np.asarray(final) - np.asarray(problem.optimum), axis=1)
    # SGD with step ~ 1/n on a 1-strongly-convex problem: error O(sqrt(V/n)) ~ 1e-2 with
    # V of order the gradient variance (centres ~ N(0, 1), curvature <= 2, weights <= 2);
    # 0.04 is a 4x margin, while minimising sum_i mu_i f_i (no reweighting) would land
    # |x*_mu - x*| = 0.12 away (the degree target is far from uniform on the lollipop).
    assert dist.mean() < 0.04, dist


def test_srrw_sweep_refuses_a_negative_alpha_or_a_step_exponent_outside_half_one():
    config = gossip.SrrwConfig(steps=10)
    for grid in (
        sweep.Grid(alpha=[-1.0, 1.0], a=[1.0], seed=range(2)),
        sweep.Grid(alpha=[1.0], a=[0.5], seed=range(2)),
    ):
        with pytest.raises(ValueError, match="values must be"):
            sweep.run(gossip.srrw_simulate, grid, key=jax.random.key(0), config=config)
