"""DADAO and token-SGD setups whose numbers the tests check and docs/gossip_numbers.py prints.

The tests import this module from their own folder (pytest puts it on the path); the script
puts tests/gossip on the path first. Both run in float64. The two DADAO runs are called
eagerly, as the script always ran them (under jax.jit XLA fuses the event updates
differently: the invariant's rounding drift over 2000 events is 3.6e-15 jitted, 4.6e-15 eager).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from theorytk import gossip

N, D = 8, 3  # DADAO: nodes, dimension
EVENT_HORIZON, EVENT_RUNS = 10.0, 400  # the event-rate runs: time horizon, runs per scale
TOKEN_WALKS = 16


def dadao_setup(graph: str = "ring") -> tuple[gossip.DadaoConfig, gossip.Problem, jax.Array]:
    """The config, quadratic problem and adjacency of DADAO on `graph` (N nodes, d = D)."""
    config = gossip.DadaoConfig(graph=graph, n_nodes=N, dim=D)
    problem, adj = config.setup()
    return config, problem, adj


def random_state(key: jax.Array) -> gossip.DadaoState:
    """A DADAO state with standard normal x, y, z and their tilde copies, at time 0."""
    parts = jax.random.normal(key, (6, N, D))
    zero = jnp.asarray(0)
    return gossip.DadaoState(*parts, jnp.asarray(0.0), zero, zero, jnp.asarray(0.0))


def squared_distance(problem: gossip.Problem) -> Callable[[gossip.DadaoState], dict]:
    """The metric "error": the mean over nodes of the squared distance of x to x*."""

    def error(s: gossip.DadaoState) -> dict[str, jax.Array]:
        return {"error": jnp.mean(jnp.sum((s.x - problem.optimum) ** 2, axis=1))}

    return error


def converge_from_zero(
    graph: str, horizon: float, events: int
) -> tuple[float, float, dict[str, jax.Array], jax.Array]:
    """DADAO from x = 0 on `graph` (key 3) tracing `squared_distance`: the error at the start
    and at the end, the traces ("t", "error") and the status."""
    config, problem, adj = dadao_setup(graph)
    x0 = jnp.zeros((N, D))
    error = squared_distance(problem)
    state, traces, status = gossip.dadao(
        problem,
        adj,
        x0,
        jax.random.key(3),
        mu=config.mu,
        smoothness=config.smoothness,
        horizon=horizon,
        events=events,
        metrics=error,
    )
    initial = float(error(gossip.dadao_init(x0))["error"])
    return initial, float(error(state)["error"]), traces, status


def invariant_run() -> tuple[gossip.DadaoState, jax.Array, dict[str, jax.Array], jax.Array]:
    """DADAO on the ring from `random_state(key 1)` over 2000 events (key 2, horizon 100),
    tracing alpha~ sum z + alpha sum z~ ("invariant"), "sum_z" and "sum_z_tilde": the start,
    the DADAO constants, the traces and the status."""
    config, problem, adj = dadao_setup()
    c = gossip.dadao_constants(gossip.graph_rates(adj), N, config.mu, config.smoothness)
    start = random_state(jax.random.key(1))

    def metrics(s: gossip.DadaoState) -> dict[str, jax.Array]:
        return {
            "invariant": gossip.invariant(s, c),
            "sum_z": s.z.sum(0),
            "sum_z_tilde": s.z_tilde.sum(0),
        }

    _, traces, status = gossip.dadao(
        problem,
        adj,
        start.x,
        jax.random.key(2),
        mu=config.mu,
        smoothness=config.smoothness,
        horizon=100.0,
        events=2000,
        metrics=metrics,
        init=start,
    )
    return start, c, traces, status


@functools.cache
def _event_simulation() -> tuple[gossip.DadaoConfig, Callable]:
    # Budget: (8 + 3 * 9.78) * 10 = 373 events expected at comm_scale 3, +6 sd (116) < 500.
    config = gossip.DadaoConfig(graph="ring", n_nodes=N, dim=D, events=500)
    simulate = jax.jit(
        jax.vmap(lambda params, key: gossip.dadao_simulate(params, key, config=config), (None, 0))
    )
    return config, simulate


def event_counts(scale: float) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """EVENT_RUNS DADAO simulations on the ring over [0, EVENT_HORIZON] at `comm_scale`
    (keys split from key 4), and the theory: each a dict with "grad_rate" and "comm_rate"."""
    config, simulate = _event_simulation()
    params = {"horizon": EVENT_HORIZON, "comm_scale": scale}
    out = simulate(params, jax.random.split(jax.random.key(4), EVENT_RUNS))
    return out, gossip.dadao_theory(params, config=config)


def reweighted_token_sgd() -> tuple[gossip.Problem, jax.Array, np.ndarray]:
    """Token SGD reweighted to the average of 10 quadratics in d = 2 (key 2) on the lollipop
    with the degree target, alpha = 2, steps 1 / (k + 10), 20,000 steps, TOKEN_WALKS walks
    (keys split from key 4): the problem, the target mu and the final models."""
    problem = gossip.random_quadratic(jax.random.key(2), 10, 2, mu=1.0, smoothness=2.0)
    p, mu, _ = gossip.SrrwConfig(graph="lollipop", target="degree").walk()
    opt = optax.sgd(lambda k: 1.0 / (k + 10.0))
    run = jax.jit(
        jax.vmap(
            lambda key: (
                gossip.token_sgd(
                    problem, p, mu, opt, jnp.zeros(2), key, alpha=2.0, steps=20000
                ).params
            )
        )
    )
    return problem, mu, np.asarray(run(jax.random.split(jax.random.key(4), TOKEN_WALKS)))
