"""Topologies and mixing matrices: structure, double stochasticity, spectral gaps, bad input."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk import gossip

# Rounding of float64 row sums of <= 64 terms: 1e-12 is ~ 64 * 2^-52 with a wide margin.
ATOL = 1e-12


def topologies(draw_n: int) -> dict[str, np.ndarray]:
    """One instance of every topology on roughly draw_n nodes."""
    side = max(3, int(round(np.sqrt(draw_n))))
    dim = max(1, int(round(np.log2(draw_n))))
    key = jax.random.key(draw_n)
    return {
        "ring": gossip.ring(max(3, draw_n)),
        "torus": gossip.torus(side, side + 1),
        "hypercube": gossip.hypercube(dim),
        "complete": gossip.complete(draw_n),
        "star": gossip.star(draw_n),
        "exponential": gossip.exponential(draw_n),
        "erdos_renyi": gossip.erdos_renyi(draw_n, 0.5, key),
        "random_geometric": gossip.random_geometric(draw_n, 0.6, key),
    }


def test_degrees_of_regular_topologies_are_their_textbook_values():
    assert set(gossip.degrees(gossip.ring(7))) == {2}
    assert set(gossip.degrees(gossip.torus(4, 5))) == {4}
    assert set(gossip.degrees(gossip.hypercube(4))) == {4}
    assert set(gossip.degrees(gossip.complete(6))) == {5}
    assert sorted(gossip.degrees(gossip.star(5))) == [1, 1, 1, 1, 4]
    # exponential graph on 16 nodes: hops 1, 2, 4, 8 both ways; +8 = -8, so degree 7
    assert set(gossip.degrees(gossip.exponential(16))) == {7}


@pytest.mark.parametrize("build", [gossip.metropolis_hastings, gossip.max_degree])
@given(n=st.integers(3, 24))
@settings(max_examples=15, deadline=None)
def test_mixing_is_symmetric_doubly_stochastic_with_positive_gap_on_every_topology(build, n):
    for name, adj in topologies(n).items():
        w = build(adj)
        assert np.allclose(w, w.T, atol=ATOL), name
        assert np.allclose(w.sum(0), 1, atol=ATOL) and np.allclose(w.sum(1), 1, atol=ATOL), name
        assert (w >= 0).all() and (w[~adj & ~np.eye(len(w), dtype=bool)] == 0).all(), name
        assert 0 < gossip.spectral_gap(w) <= 1 + ATOL, name
        gossip.check_mixing(w)


def test_ring_spectral_gap_matches_closed_form():
    # uniform-neighbour on C_n: W = (I + S + S^T)/3, eigenvalues (1 + 2 cos(2 pi k / n))/3;
    # rho = max over k != 0 of |.|; at n = 12 the largest is k = 1.
    n = 12
    w = gossip.uniform_neighbour(gossip.ring(n))
    lam = (1 + 2 * np.cos(2 * np.pi * np.arange(1, n) / n)) / 3
    assert abs(gossip.spectral_gap(w) - (1 - np.abs(lam).max())) < 1e-12


def test_complete_graph_uniform_weights_average_in_one_step():
    w = gossip.uniform_neighbour(gossip.complete(5))
    assert np.allclose(w, 1 / 5) and abs(gossip.spectral_gap(w) - 1) < 1e-12


def test_lazy_mixing_moves_spectrum_to_unit_interval_and_halves_gap():
    w = gossip.metropolis_hastings(gossip.hypercube(3))
    eig = np.linalg.eigvalsh(gossip.lazy(w))
    assert eig.min() >= -ATOL
    # lambda_2((I+W)/2) = (1 + lambda_2(W))/2, so on a graph whose rho is lambda_2 the gap halves
    assert abs(gossip.spectral_gap(gossip.lazy(w)) - gossip.spectral_gap(w) / 2) < 1e-12


def test_one_peer_hypercube_sequence_averages_exactly_after_one_period():
    dim = 3
    seq = gossip.time_varying([(np.eye(8) + m) / 2 for m in gossip.one_peer_hypercube(dim)])
    assert gossip.contraction_factor(seq) < 1e-12
    product = seq[2] @ seq[1] @ seq[0]
    assert np.allclose(product, 1 / 8, atol=ATOL)


def test_random_graphs_are_connected_and_reproducible_from_the_key():
    key = jax.random.key(3)
    a = gossip.erdos_renyi(20, 0.2, key)
    assert gossip.is_connected(a) and (a == gossip.erdos_renyi(20, 0.2, key)).all()
    b = gossip.random_geometric(20, 0.35, key)
    assert gossip.is_connected(b) and (b == gossip.random_geometric(20, 0.35, key)).all()


def test_bad_graphs_and_mixing_matrices_raise_clear_value_errors():
    two_rings = np.zeros((6, 6), dtype=bool)
    two_rings[:3, :3] = two_rings[3:, 3:] = gossip.complete(3)
    with pytest.raises(ValueError, match="disconnected"):
        gossip.metropolis_hastings(two_rings)
    with pytest.raises(ValueError, match="symmetric"):
        gossip.check_mixing(np.array([[0.5, 0.5], [0.4, 0.6]]))
    with pytest.raises(ValueError, match="doubly stochastic"):
        gossip.check_mixing(np.array([[0.6, 0.6], [0.6, 0.6]]))
    with pytest.raises(ValueError, match="regular"):
        gossip.uniform_neighbour(gossip.star(4))
    with pytest.raises(ValueError, match="contract"):
        gossip.check_mixing(np.eye(3))
    with pytest.raises(ValueError, match="no connected graph"):
        gossip.erdos_renyi(30, 0.01, jax.random.key(0), max_tries=3)
    with pytest.raises(ValueError, match="integer >= 3"):
        gossip.ring(2)
    with pytest.raises(ValueError, match="jointly connected"):
        gossip.time_varying([(np.eye(8) + gossip.one_peer_hypercube(3)[0]) / 2])
