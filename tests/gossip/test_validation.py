"""Bad gossip inputs are refused before tracing, with the argument named."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

from theorytk import gossip

N = 8


def _problem(n: int = N) -> gossip.Problem:
    return gossip.random_quadratic(0, n, 2)


def _ring(n: int = N) -> np.ndarray:
    return gossip.metropolis_hastings(gossip.ring(n))


METHODS = {
    "dsgd": lambda p, w: gossip.dsgd(p, w, optax.sgd(0.1)),
    "gradient_tracking": lambda p, w: gossip.gradient_tracking(p, w, 0.1),
    "dfedsam": lambda p, w: gossip.dfedsam(
        p, w, optax.sgd(0.1), radius=0.05, local_steps=1, gossip_steps=1
    ),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_mixing_stack_for_another_node_count_is_refused_before_tracing(name):
    with pytest.raises(ValueError, match="8 nodes but the problem has 16"):
        METHODS[name](_problem(16), gossip.as_stack(_ring(8)))


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (lambda: _ring()[None] * 2, "doubly stochastic"),
        (lambda: np.eye(N)[None], "does not contract"),
        (lambda: np.ones((1, N, N + 1)) / N, r"shape \(p, n, n\)"),
        (lambda: _ring(), "wrap it with gossip.as_stack"),
        (lambda: np.triu(np.ones((N, N)))[None] / np.arange(N, 0, -1)[:, None], "symmetric"),
    ],
    ids=["2W", "identity", "not-square", "2-D", "row-stochastic-only"],
)
def test_a_mixing_matrix_that_cannot_drive_consensus_is_refused(name, bad, message):
    with pytest.raises(ValueError, match=message):
        METHODS[name](_problem(), bad())


def test_gossip_averaging_checks_its_stack_too():
    with pytest.raises(ValueError, match="doubly stochastic"):
        gossip.gossip_averaging(_ring()[None] * 2)


def test_a_float32_stack_passes_the_check():
    method = gossip.dsgd(_problem(), gossip.as_stack(_ring(), np.float32), optax.sgd(0.1))
    assert callable(method.step)


@pytest.mark.parametrize("n", [256, 1024])
def test_a_large_float32_ring_passes_and_a_disconnected_one_is_refused(n):
    # 1 - rho of the Metropolis ring is ~ (2 pi / n)^2 / 3, below the row-sum tolerance that
    # float32 needs at these n, but far above float32's eps that bounds rho's rounding.
    ring = gossip.as_stack(_ring(n), np.float32)
    assert callable(gossip.dsgd(_problem(n), ring, optax.sgd(0.1)).step)
    half = _ring(n // 2)
    two_rings = np.block([[half, np.zeros_like(half)], [np.zeros_like(half), half]])
    with pytest.raises(ValueError, match="does not contract"):
        gossip.dsgd(_problem(n), np.asarray(two_rings[None], np.float32), optax.sgd(0.1))


@pytest.mark.parametrize("lr", [-0.1, 0.0, float("nan")])
def test_gradient_tracking_refuses_a_step_that_is_not_positive(lr):
    with pytest.raises(ValueError, match="lr must be a finite scalar > 0"):
        gossip.gradient_tracking(_problem(), gossip.as_stack(_ring()), lr)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius": -0.1}, "radius"),
        ({"eps": -1.0}, "eps"),
        ({"gossip_steps": 3, "max_gossip_steps": 2}, "gossip_steps"),
        ({"local_steps": 0}, "local_steps"),
    ],
)
def test_dfedsam_refuses_bad_hyperparameters(kwargs, message):
    args = {"radius": 0.05, "local_steps": 1, "gossip_steps": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        gossip.dfedsam(_problem(), gossip.as_stack(_ring()), optax.sgd(0.1), **args)


def test_dirichlet_partition_refuses_more_nodes_than_samples():
    with pytest.raises(ValueError, match="n_nodes must be at most the number of samples"):
        gossip.dirichlet_partition(np.arange(14) % 3, 50, 0.5, 0)


def test_budgets_beyond_int32_counters_are_refused():
    method = gossip.dsgd(_problem(), gossip.as_stack(_ring()), optax.sgd(0.1))
    with pytest.raises(ValueError, match="steps must be an integer <= 2147483647"):
        gossip.run(method, np.zeros((N, 2)), jax.random.key(0), steps=2**31, metrics=dict)
    with pytest.raises(ValueError, match="events must be an integer <= 2147483647"):
        gossip.DadaoConfig(events=2**31)
    with pytest.raises(ValueError, match="events must be an integer <= 2147483647"):
        gossip.dadao(
            _problem(),
            gossip.ring(N),
            np.zeros((N, 2)),
            jax.random.key(0),
            mu=1.0,
            smoothness=10.0,
            horizon=1.0,
            events=2**40,
        )
    with pytest.raises(ValueError, match="steps must be an integer <= 2147483647"):
        gossip.SrrwConfig(steps=2**31)


def test_dadao_refuses_a_graph_for_another_node_count():
    with pytest.raises(ValueError, match="adjacency has 4 nodes but the problem has 8"):
        gossip.dadao(
            _problem(),
            gossip.ring(4),
            np.zeros((N, 2)),
            jax.random.key(0),
            mu=1.0,
            smoothness=10.0,
            horizon=1.0,
            events=10,
        )
