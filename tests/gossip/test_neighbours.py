"""Sparse gossip: mixing by padded neighbour lists equals the dense W @ X on every topology."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from theorytk import gossip

N = 16


def topologies() -> dict[str, np.ndarray]:
    """Mixing matrices (or time-varying stacks) of every graph family, degrees 2 to n - 1."""
    mh = gossip.metropolis_hastings
    key = jax.random.key(4)
    return {
        "ring": mh(gossip.ring(N)),
        "lazy ring": gossip.lazy(mh(gossip.ring(N))),
        "torus": mh(gossip.torus(4, 4)),
        "hypercube": mh(gossip.hypercube(4)),
        "exponential": mh(gossip.exponential(N)),
        "complete": mh(gossip.complete(N)),
        "star": mh(gossip.star(N)),
        "star, max-degree weights": gossip.max_degree(gossip.star(N)),
        "erdos-renyi": mh(gossip.erdos_renyi(N, 0.2, key)),
        "random geometric": mh(gossip.random_geometric(N, 0.45, key)),
        "one-peer hypercube (time-varying)": gossip.time_varying(
            [(np.eye(N) + a) / 2 for a in gossip.one_peer_hypercube(4)]
        ),
    }


def node_tree(key: jax.Array) -> dict:
    k1, k2 = jax.random.split(key)
    return {"w": jax.random.normal(k1, (N, 3, 2)), "b": jax.random.normal(k2, (N,))}


@pytest.mark.parametrize("name", list(topologies()))
def test_neighbour_gossip_equals_the_dense_product_on_every_topology(name):
    w = topologies()[name]
    dense, sparse = gossip.as_stack(w), gossip.neighbours(w)
    tree = node_tree(jax.random.key(0))
    for t in range(dense.shape[0] + 1):  # every matrix of a time-varying stack, and wrap-around
        got, want = gossip.gossip(sparse, tree, t), gossip.gossip(dense, tree, t)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # the lists hold exactly the nonzeros: the widest row of W, no more
    assert sparse.index.shape[-1] == int((np.atleast_3d(dense) != 0).sum(-1).max())


def test_topologies_of_different_degrees_vmap_once_padded_to_one_width():
    # ring (3 terms a row), star (16 for the hub), torus (5): padded to 16 and stacked, one
    # vmapped call mixes a batch of models, each on the topology its point picks.
    ws = [
        gossip.metropolis_hastings(g) for g in (gossip.ring(N), gossip.star(N), gossip.torus(4, 4))
    ]
    lists = [gossip.neighbours(w, width=N) for w in ws]
    family = jax.tree.map(lambda *a: jnp.stack(a), *lists)
    picks = jnp.array([0, 1, 2, 1, 0])
    xs = jax.random.normal(jax.random.key(1), (picks.size, N, 4))

    def one(pick, x):
        return gossip.gossip(jax.tree.map(lambda a: a[pick], family), x, 0)

    got = jax.jit(jax.vmap(one))(picks, xs)
    for i, pick in enumerate(np.asarray(picks)):
        np.testing.assert_allclose(got[i], ws[pick] @ np.asarray(xs[i]), rtol=0, atol=1e-12)


def test_d_sgd_on_a_sparse_stack_mixes_by_neighbours_and_matches_dense_mixing():
    # a concrete ring stack (3 of 64 entries a row) is mixed by neighbour lists: no matrix
    # product in the program, and the run equals the dense one to rounding
    n = 64
    w = gossip.as_stack(gossip.metropolis_hastings(gossip.ring(n)))
    problem = gossip.random_quadratic(jax.random.key(0), n, 3)
    x0 = problem.init_nodes(jax.random.key(1))

    def final(mixing):
        method = gossip.dsgd(problem, mixing, optax.sgd(0.05))
        state, _ = gossip.run(method, x0, jax.random.key(2), steps=50, metrics=lambda s: {})
        return state.x

    jaxpr = str(jax.make_jaxpr(lambda x: gossip.as_mixer(w)(x, 0))(x0))
    assert "dot_general" not in jaxpr and "gather" in jaxpr
    dense = gossip.as_mixer(lambda tree, t: gossip.gossip(w, tree, t))
    np.testing.assert_allclose(final(w), final(dense), rtol=0, atol=1e-12)


def test_the_variance_correction_reads_neighbour_lists_like_the_dense_stack():
    w = topologies()["torus"]
    tree = node_tree(jax.random.key(3))
    got = gossip.variance_corrected_gossip(gossip.neighbours(w), tree, 0, 1e-4)
    want = gossip.variance_corrected_gossip(gossip.as_stack(w), tree, 0, 1e-4)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_a_width_below_the_widest_row_is_refused():
    with pytest.raises(ValueError, match="width must be an integer >= 3"):
        gossip.neighbours(gossip.metropolis_hastings(gossip.ring(N)), width=2)
