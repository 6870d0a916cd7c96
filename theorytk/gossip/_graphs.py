"""Communication topologies as symmetric 0/1 adjacency matrices (NumPy, concrete, validated).

A graph is static structure: it sets the sparsity of the mixing matrix and is built once,
outside any trace, so every constructor returns a NumPy `bool` array of shape (n, n) with
a zero diagonal. Random graphs are drawn from a JAX key (through a NumPy generator seeded by
the key's data: no compilation per graph size) and resampled until connected.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from scipy.sparse.csgraph import connected_components

from .._validation import check_integer


def _from_edges(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The symmetric adjacency with edges (rows[k], cols[k]) and no self-loops."""
    adj = np.zeros((n, n), dtype=bool)
    adj[rows, cols] = True
    adj |= adj.T
    np.fill_diagonal(adj, False)
    return adj


def is_connected(adjacency: np.ndarray) -> bool:
    """Whether the undirected graph with this adjacency has a single connected component."""
    count, _ = connected_components(np.asarray(adjacency, dtype=bool), directed=False)
    return count == 1


def check_graph(adjacency: np.ndarray, *, connected: bool = True) -> np.ndarray:
    """The adjacency as a bool array after checking it is a simple undirected (connected) graph.

    Args:
        adjacency: Bool[ndarray, "n n"], symmetric, zero diagonal.
        connected: also require a single connected component.

    Raises:
        ValueError: not square, not symmetric, self-loops, fewer than 2 nodes, disconnected.
    """
    adj = np.asarray(adjacency)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] < 2:
        raise ValueError(f"adjacency must be a square (n, n) array with n >= 2, got {adj.shape}")
    if not np.isin(adj, (0, 1)).all():
        raise ValueError("adjacency entries must be 0/1 (or bool)")
    adj = adj.astype(bool)
    if not (adj == adj.T).all():
        raise ValueError("adjacency must be symmetric (an undirected graph)")
    if adj.diagonal().any():
        raise ValueError("adjacency must have a zero diagonal (no self-loops)")
    if connected and not is_connected(adj):
        count, _ = connected_components(adj, directed=False)
        raise ValueError(f"the graph is disconnected ({count} components); gossip cannot mix it")
    return adj


def ring(n: int) -> np.ndarray:
    """The cycle C_n: node i talks to i - 1 and i + 1 (mod n), n >= 3."""
    check_integer("n", n, least=3)
    i = np.arange(n)
    return _from_edges(n, i, (i + 1) % n)


def torus(rows: int, cols: int) -> np.ndarray:
    """The 2-D torus C_rows x C_cols (4 neighbours per node), node (r, c) numbered r * cols + c."""
    check_integer("rows", rows, least=3)
    check_integer("cols", cols, least=3)
    r, c = np.divmod(np.arange(rows * cols), cols)
    right = r * cols + (c + 1) % cols
    down = ((r + 1) % rows) * cols + c
    i = np.arange(rows * cols)
    return _from_edges(rows * cols, np.r_[i, i], np.r_[right, down])


def hypercube(dim: int) -> np.ndarray:
    """The hypercube Q_dim on n = 2^dim nodes: i ~ j when their binary labels differ in one bit."""
    check_integer("dim", dim, least=1)
    i = np.arange(2**dim)
    bits = 2 ** np.arange(dim)
    return _from_edges(2**dim, np.repeat(i, dim), (i[:, None] ^ bits).ravel())


def complete(n: int) -> np.ndarray:
    """The complete graph K_n (n >= 2)."""
    check_integer("n", n, least=2)
    return ~np.eye(n, dtype=bool)


def star(n: int) -> np.ndarray:
    """The star: node 0 is the hub of n - 1 leaves (n >= 2)."""
    check_integer("n", n, least=2)
    return _from_edges(n, np.zeros(n - 1, dtype=int), np.arange(1, n))


def exponential(n: int) -> np.ndarray:
    """The static exponential graph: i ~ i +- 2^k (mod n) for 2^k < n (Ying et al., NeurIPS 2021).

    Undirected version (each directed edge i -> i + 2^k symmetrised), degree O(log2 n).
    """
    check_integer("n", n, least=2)
    i = np.arange(n)
    hops = 2 ** np.arange(int(np.ceil(np.log2(n))))
    return _from_edges(n, np.repeat(i, hops.size), ((i[:, None] + hops) % n).ravel())


def one_peer_hypercube(dim: int) -> list[np.ndarray]:
    """The time-varying one-peer hypercube: at step k, node i pairs with i XOR 2^(k mod dim).

    Each graph is a perfect matching (disconnected on its own); the sequence of dim graphs is
    jointly connected, and with lazy weights W_k = (I + P_k)/2 the product W_{dim-1}...W_0
    is exactly the average 11^T/n (Shi et al.; Ying et al., NeurIPS 2021).
    """
    check_integer("dim", dim, least=1)
    i = np.arange(2**dim)
    return [_from_edges(2**dim, i, i ^ (2**k)) for k in range(dim)]


def erdos_renyi(n: int, p: float, key: jax.Array, *, max_tries: int = 100) -> np.ndarray:
    """A connected Erdos-Renyi graph G(n, p): each edge independently with probability p.

    Redraws (from the same key's stream) until the graph is connected.

    Raises:
        ValueError: bad n or p, or no connected draw in `max_tries` attempts (p too small;
            G(n, p) is connected w.h.p. for p > log(n)/n).
    """
    check_integer("n", n, least=2)
    if not (np.isfinite(p) and 0 < p <= 1):
        raise ValueError(f"p must be in (0, 1], got {p!r}")

    def draw(rng: np.random.Generator) -> np.ndarray:
        upper = np.triu(rng.random((n, n)) < p, 1)
        return upper | upper.T

    return _connected_draw(draw, key, max_tries, f"erdos_renyi(n={n}, p={p})")


def random_geometric(n: int, radius: float, key: jax.Array, *, max_tries: int = 100) -> np.ndarray:
    """A connected random geometric graph: n uniform points in [0, 1]^2, i ~ j if |x_i - x_j| <= r.

    Redraws (from the same key's stream) until the graph is connected.

    Raises:
        ValueError: bad n or radius, or no connected draw in `max_tries` attempts.
    """
    check_integer("n", n, least=2)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")

    def draw(rng: np.random.Generator) -> np.ndarray:
        x = rng.random((n, 2))
        close = np.linalg.norm(x[:, None] - x[None], axis=-1) <= radius
        np.fill_diagonal(close, False)
        return close

    return _connected_draw(draw, key, max_tries, f"random_geometric(n={n}, radius={radius})")


_NAMED = {
    "ring": ring,
    "star": star,
    "complete": complete,
    "exponential": exponential,
    "torus": lambda n: torus(int(round(np.sqrt(n))), int(round(np.sqrt(n)))),
    "hypercube": lambda n: hypercube(int(round(np.log2(n)))),
}
GRAPH_NAMES = tuple(_NAMED)
"""The names `named_graph` accepts."""


def named_graph(name: str, n: int) -> np.ndarray:
    """The adjacency of a named topology on n nodes.

    Names: ring, star, complete, exponential, torus (n a square), hypercube (n a power of 2).

    Raises:
        ValueError: an unknown name, or a topology that cannot have n nodes.
    """
    if name not in _NAMED:
        raise ValueError(f"unknown topology {name!r}; choose from {sorted(_NAMED)}")
    check_integer("n", n, least=2)
    adj = _NAMED[name](n)
    if adj.shape[0] != n:
        raise ValueError(f"topology {name!r} cannot have n = {n} nodes")
    return adj


def numpy_rng(key: jax.Array | int) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key's data or an int (host-side, shape-varying draws)."""
    if isinstance(key, int | np.integer):
        return np.random.default_rng(int(key))
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _connected_draw(draw, key: jax.Array, max_tries: int, what: str) -> np.ndarray:
    """The first connected graph among successive draws from `numpy_rng(key)`."""
    check_integer("max_tries", max_tries)
    rng = numpy_rng(key)
    for _ in range(max_tries):
        adj = draw(rng)
        if is_connected(adj):
            return adj
    raise ValueError(f"{what}: no connected graph in {max_tries} draws; increase p or radius")


def degrees(adjacency: np.ndarray) -> np.ndarray:
    """The node degrees d_i = sum_j A_ij."""
    return np.asarray(adjacency, dtype=bool).sum(axis=1)


def jointly_connected(graphs: Sequence[np.ndarray]) -> bool:
    """Whether the union of a sequence of graphs on the same nodes is connected."""
    return is_connected(np.logical_or.reduce([np.asarray(g, dtype=bool) for g in graphs]))
