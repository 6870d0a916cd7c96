"""Runs to a tolerance: D-SGD/GT as sweep.Loops and DADAO's counts to tolerance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk import gossip, sweep

TOPOLOGIES = ("ring", "exponential", "complete")


@pytest.fixture(scope="module", autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _config(method: str, **kw) -> gossip.QuadraticConfig:
    return gossip.QuadraticConfig(
        method=method, n_nodes=8, dim=3, steps=2000, topologies=TOPOLOGIES, tolerance=1e-6, **kw
    )


def test_rounds_equal_the_first_step_of_a_fixed_length_run_below_tolerance():
    config = _config("gt")
    problem = config.problem()
    w = gossip.as_stack(gossip.named_mixing("ring", 8))
    gap = gossip.spectral_gap(gossip.named_mixing("ring", 8))
    out = gossip.quadratic_rounds(
        {"lr": 0.05, "spectral_gap": gap}, jax.random.key(0), config=config
    )
    x0 = jnp.zeros((8, 3))
    start = float(jnp.sum(problem.optimum**2))
    metrics = lambda s: {"d": jnp.mean(jnp.sum((s.x - problem.optimum) ** 2, axis=1))}  # noqa: E731
    _, trace = gossip.run(
        gossip.gradient_tracking(problem, w, 0.05),
        x0,
        jax.random.key(0),
        steps=2000,
        metrics=metrics,
    )
    first = int(np.argmax(np.asarray(trace["d"]) <= 1e-6 * start)) + 1
    assert int(out["status"]) == sweep.Status.OK
    assert int(out["rounds"]) == first
    edges = int(np.count_nonzero(np.triu(gossip.ring(8), 1)))
    assert int(out["messages"]) == 2 * edges * first and int(out["gradients"]) == 8 * first


@pytest.mark.slow  # compiles the refilled lanes and 9 direct runs
def test_refilled_lanes_give_the_direct_results_and_flag_bias_and_divergence():
    config = _config("dsgd")
    gaps = np.sort(config.family()[0])
    grid = sweep.Grid(spectral_gap=gaps, lr=[0.01, 0.3, 2.0])
    ds = sweep.run(gossip.quadratic_rounds, grid, key=jax.random.key(0), config=config, lanes=2)
    for i, gap in enumerate(gaps):
        for j, lr in enumerate([0.01, 0.3, 2.0]):
            direct = gossip.quadratic_rounds(
                {"lr": lr, "spectral_gap": gap},
                jax.random.fold_in(jax.random.key(0), i * 3 + j),
                config=config,
            )
            assert float(ds["rounds"][i, j]) == float(direct["rounds"])
    status = ds["status"].values
    # D-SGD's O(lr) bias keeps it above 1e-6 on the ring and exponential graphs (budget), the
    # complete graph (exact averaging) reaches it; lr = 2 > 2/L diverges everywhere
    assert (status[:2, :2] == sweep.Status.BUDGET).all()
    assert (status[2, :2] == sweep.Status.OK).all()
    assert (status[:, 2] == sweep.Status.DIVERGED).all()


@pytest.mark.slow  # 16 DADAO runs of 6000 events and a second compilation
def test_dadao_counts_to_tolerance_are_consistent_with_its_clocks():
    config = gossip.DadaoConfig(graph="ring", n_nodes=8, events=6000, tolerance=1e-3)
    params = {"horizon": 150.0, "comm_scale": 1.0}
    out = jax.vmap(lambda k: gossip.dadao_simulate(params, k, config=config))(
        jax.random.split(jax.random.key(3), 16)
    )
    t, grads, comms = (np.asarray(out[k]) for k in ("time_to_tol", "grads_to_tol", "comms_to_tol"))
    assert np.isfinite(t).all() and (t < 150).all()
    # Poisson clocks: grads ~ n t and comms ~ lambda t, each within 5 standard deviations
    lam = gossip.graph_rates(gossip.ring(8)).comm_rate
    assert (np.abs(grads - 8 * t) < 5 * np.sqrt(8 * t)).all()
    assert (np.abs(comms - lam * t) < 5 * np.sqrt(lam * t)).all()
    # a horizon too short to reach the tolerance gives NaN, not a count
    short = gossip.dadao_simulate(
        {"horizon": 1.0, "comm_scale": 1.0}, jax.random.key(0), config=config
    )
    assert np.isnan(float(short["grads_to_tol"]))
