"""Variance-corrected averaging restores the Xavier variance that plain averaging loses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk import gossip

WIDTH = 256
XAVIER_VAR = 2.0 / (WIDTH + WIDTH)  # Glorot normal variance of a 256 x 256 layer


def _average_of_independent_layers(n: int, eps: float | None):
    layers = jnp.sqrt(XAVIER_VAR) * jax.random.normal(jax.random.key(n), (n, WIDTH, WIDTH))
    w = gossip.as_stack(gossip.uniform_neighbour(gossip.complete(n)))  # W = 11^T / n
    if eps is None:
        mixed = gossip.gossip(w, layers)
    else:
        mixed = gossip.variance_corrected_gossip(w, layers, 0, eps)
    return gossip.tensor_variance(mixed) / gossip.tensor_variance(layers).mean()


# The sample variance of 65536 entries has relative standard error sqrt(2 / 65536) = 0.55%;
# the ratio of two such estimates about 0.8%: 3% is more than 3.5 standard errors.
REL = 0.03


@pytest.mark.parametrize("n", [2, 4, 16, 32])
def test_plain_averaging_keeps_one_over_n_of_the_variance(n):
    ratio = np.asarray(_average_of_independent_layers(n, None))
    assert np.allclose(ratio, 1 / n, rtol=REL), ratio[:3]


@pytest.mark.parametrize("n", [2, 4, 16, 32])
def test_exact_correction_restores_the_variance_exactly(n):
    ratio = np.asarray(_average_of_independent_layers(n, 0.0))
    # a deterministic rescale to the mean received variance: exact up to float64 rounding
    assert np.abs(ratio - 1).max() < 1e-12


@pytest.mark.parametrize("n", [2, 4, 16, 32])
def test_authors_eps_restores_only_part_of_a_small_variance(n):
    ratio = float(_average_of_independent_layers(n, gossip.AUTHORS_EPS).mean())
    # With averaged variance s/n, the corrected variance is (s/n)(s + eps)/(s/n + eps), i.e. a
    # share (s + eps)/(s + n eps) of s: 0.976, 0.930, 0.728, 0.564 for n = 2, 4, 16, 32 at
    # s = 1/256 (measured: 0.976, 0.930, 0.727, 0.562).
    s, eps = XAVIER_VAR, gossip.AUTHORS_EPS
    assert ratio == pytest.approx((s + eps) / (s + n * eps), rel=REL)
    assert ratio < 1 - 0.5 * (n - 1) * eps / (s + n * eps)  # strictly partial, not 1


def test_correction_keeps_the_tensor_mean_and_skips_scalars():
    tree = {
        "w": 1.0 + jax.random.normal(jax.random.key(0), (4, 8, 8)),
        "scale": jnp.arange(4.0)[:, None],
    }
    w = gossip.as_stack(gossip.metropolis_hastings(gossip.ring(4)))
    plain = gossip.gossip(w, tree)
    fixed = gossip.variance_corrected_gossip(w, tree, 0, 0.0)
    assert jnp.allclose(fixed["w"].mean((1, 2)), plain["w"].mean((1, 2)), atol=1e-12)
    assert (fixed["scale"] == plain["scale"]).all()
    target = w[0] @ gossip.tensor_variance(tree["w"])
    assert jnp.allclose(gossip.tensor_variance(fixed["w"]), target, rtol=1e-12)
