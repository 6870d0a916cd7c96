"""DADAO: exact flow, the conserved alpha~ sum z + alpha sum z~, linear convergence, clock rates."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from gossip_setups import (
    EVENT_HORIZON,
    EVENT_RUNS,
    D,
    N,
    converge_from_zero,
    dadao_setup,
    event_counts,
    invariant_run,
    random_state,
)

from theorytk import gossip, sweep


def test_graph_rates_of_the_complete_graph_match_the_closed_form():
    # K_n: Laplacian eigenvalue n (so chi_1 = |E|/n), resistance 2/n per edge (chi_2 = |E|/n).
    rates = gossip.graph_rates(gossip.complete(N))
    edges = N * (N - 1) / 2
    assert rates.edges.shape == (edges, 2)
    np.testing.assert_allclose([rates.chi_1, rates.chi_2], [edges / N, edges / N], rtol=1e-12)
    np.testing.assert_allclose(rates.comm_rate, np.sqrt(2) * edges / N, rtol=1e-12)


def _ring_rates(n: int) -> tuple[float, float]:
    """chi_1, chi_2 of the n-cycle in closed form (the Laplacian normalised by |E| = n).

    The cycle's Laplacian has eigenvalues 2 - 2 cos(2 pi k / n), so lambda_2 of L / n is
    (2 - 2 cos(2 pi / n)) / n; an edge of the cycle has effective resistance (n - 1) / n
    (1 in parallel with n - 1), which L / n scales by n: chi_2 = (n - 1) / 2.
    """
    return n / (2 - 2 * np.cos(2 * np.pi / n)), (n - 1) / 2


def _path_rates(n: int) -> tuple[float, float]:
    """chi_1, chi_2 of the path on n nodes: lambda_2(L) = 2 - 2 cos(pi / n), |E| = n - 1, and
    every edge of a tree has effective resistance 1."""
    return (n - 1) / (2 - 2 * np.cos(np.pi / n)), (n - 1) / 2


@pytest.mark.parametrize("n", [5, 8, 13])
def test_graph_rates_of_the_ring_and_the_path_match_their_closed_forms(n):
    path = np.zeros((n, n), bool)
    path[np.arange(n - 1), np.arange(1, n)] = path[np.arange(1, n), np.arange(n - 1)] = True
    for adj, (chi_1, chi_2) in ((gossip.ring(n), _ring_rates(n)), (path, _path_rates(n))):
        rates = gossip.graph_rates(adj)
        np.testing.assert_allclose([rates.chi_1, rates.chi_2], [chi_1, chi_2], rtol=1e-10)
        np.testing.assert_allclose(rates.comm_rate, np.sqrt(2 * chi_1 * chi_2), rtol=1e-10)


def test_flow_is_the_exact_solution_of_the_linear_ode():
    config, _, adj = dadao_setup()
    c = gossip.dadao_constants(gossip.graph_rates(adj), N, config.mu, config.smoothness)
    state = random_state(jax.random.key(0))
    m = np.asarray(gossip.flow_matrix(c))
    stacked = np.stack(state[:6])
    # Semigroup: exp(M s) exp(M t) = exp(M (s + t)), to rounding (entries O(1), 1e-12).
    two = gossip.flow(gossip.flow(state, c, 0.7), c, 1.9)
    one = gossip.flow(state, c, 2.6)
    np.testing.assert_allclose(np.stack(two[:6]), np.stack(one[:6]), atol=1e-12)
    # Derivative at 0 is M v: central difference with h = 1e-4 has error O(h^2 |M|^3) < 1e-7.
    h = 1e-4
    diff = (np.stack(gossip.flow(state, c, h)[:6]) - np.stack(gossip.flow(state, c, -h)[:6])) / (
        2 * h
    )
    np.testing.assert_allclose(diff, np.tensordot(m, stacked, axes=1), atol=1e-7)


def test_alpha_tilde_sum_z_plus_alpha_sum_z_tilde_is_invariant_to_machine_precision():
    start, c, traces, status = invariant_run()
    assert status == sweep.Status.OK
    inv0 = np.asarray(gossip.invariant(start, c))
    # Every event adds and subtracts O(1) numbers: the drift is a few eps64 per event,
    # ~ sqrt(2000) * 1e-16 as a random walk; 1e-12 is machine precision with margin.
    assert np.abs(np.asarray(traces["invariant"]) - inv0).max() < 1e-12
    # The separate sums do move (the flow exchanges z and z~), so the check can fail.
    assert np.abs(np.asarray(traces["sum_z"]) - np.asarray(start.z.sum(0))).max() > 1e-2


@pytest.mark.parametrize("graph", ["ring", "star"])
def test_dadao_converges_linearly_on_a_strongly_convex_quadratic(graph):
    initial, final, traces, status = converge_from_zero(graph, horizon=200.0, events=6000)
    assert status == sweep.Status.OK
    t, err = np.asarray(traces["t"]), np.asarray(traces["error"])
    # Linear convergence: log error falls on a straight line in t. Least-squares slope of
    # log err against t on the second half: negative, with a standard error under 10% of it,
    # and the error has fallen by more than 10^6 (a sublinear O(1/t^2) rate gives ~1e-4).
    late = (t > 100) & (t <= 200)
    (slope, _), cov = np.polyfit(t[late], np.log(err[late]), 1, cov=True)
    assert slope < 0 and np.sqrt(cov[0, 0]) < 0.1 * abs(slope), (slope, cov[0, 0])
    assert final < 1e-6 * initial, (final, initial)


def test_event_counts_per_unit_time_match_n_and_sqrt_2_chi1_chi2():
    horizon, runs = EVENT_HORIZON, EVENT_RUNS
    # The rates from the ring's closed form (not from `graph_rates`, which the simulation uses):
    # one gradient clock per node, and lambda = comm_scale sqrt(2 chi_1 chi_2) = 9.78 comm_scale.
    chi_1, chi_2 = _ring_rates(N)
    for scale in (1.0, 3.0):
        out, theory = event_counts(scale)
        rates = {"grad_rate": float(N), "comm_rate": scale * np.sqrt(2 * chi_1 * chi_2)}
        assert (np.asarray(out["status"]) == sweep.Status.OK).all()
        for name in ("grad_rate", "comm_rate"):
            np.testing.assert_allclose(float(theory[name]), rates[name], rtol=1e-10)
            counts = np.asarray(out[name]) * horizon  # Poisson(rate * T) per run
            expected = rates[name] * horizon
            # Mean of 400 Poisson counts: standard error sqrt(rate T / 400); 4 SE.
            assert abs(counts.mean() - expected) < 4 * np.sqrt(expected / runs), (name, scale)
            # Poisson: variance = mean; the sample variance has SE ~ mean sqrt(2/400).
            assert abs(counts.var(ddof=1) / expected - 1) < 4 * np.sqrt(2 / runs), (name, scale)


def test_a_too_small_event_budget_is_reported_as_budget_status():
    config = gossip.DadaoConfig(graph="ring", n_nodes=N, dim=D, events=50)
    # ~ (8 + 9.8) * 20 = 356 events are needed: 50 runs out.
    out = gossip.dadao_simulate(
        {"horizon": 20.0, "comm_scale": 1.0}, jax.random.key(0), config=config
    )
    assert out["status"] == sweep.Status.BUDGET


def test_dadao_sweep_refuses_a_nonpositive_horizon_before_tracing():
    config = gossip.DadaoConfig(events=10)
    grid = sweep.Grid(horizon=[0.0, 1.0], comm_scale=[1.0], seed=range(2))
    with pytest.raises(ValueError, match="values must be"):
        sweep.run(gossip.dadao_simulate, grid, key=jax.random.key(0), config=config)
