"""Mixing (gossip) matrices: construction from a graph, validation, spectral gap, one gossip step.

A mixing matrix W is symmetric and doubly stochastic (W 1 = 1, 1^T W = 1^T) with W_ij > 0
only on edges and the diagonal; a time-varying topology is a stack of p such matrices used
cyclically, W^(t) = W[t mod p]. Constructors return NumPy float64 arrays (built once,
outside any trace); `gossip` applies one step to a pytree whose leaves have the nodes on
their leading axis, from the dense stack or from its `Neighbours` lists (sparse graphs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._graphs import check_graph, degrees

_ATOL = 1e-10


def metropolis_hastings(adjacency: np.ndarray) -> np.ndarray:
    """Metropolis-Hastings weights W_ij = 1 / (1 + max(d_i, d_j)) on edges, W_ii = 1 - sum_j W_ij.

    Symmetric and doubly stochastic on any connected graph (Xiao and Boyd, 2004).

    Args:
        adjacency: Bool[ndarray, "n n"], a connected undirected graph.
    """
    adj = check_graph(adjacency)
    d = degrees(adj)
    w = np.where(adj, 1.0 / (1.0 + np.maximum(d[:, None], d[None, :])), 0.0)
    return _with_diagonal(w)


def max_degree(adjacency: np.ndarray) -> np.ndarray:
    """Max-degree weights W = I - L / (1 + d_max), L = D - A the graph Laplacian.

    Args:
        adjacency: Bool[ndarray, "n n"], a connected undirected graph.
    """
    adj = check_graph(adjacency)
    return _with_diagonal(np.where(adj, 1.0 / (1.0 + degrees(adj).max()), 0.0))


def uniform_neighbour(adjacency: np.ndarray) -> np.ndarray:
    """Uniform weights over the closed neighbourhood: W_ij = 1 / (1 + d_i) for j in N(i) + {i}.

    Doubly stochastic only on a regular graph (all d_i equal), so other graphs are refused.

    Args:
        adjacency: Bool[ndarray, "n n"], a connected regular undirected graph.

    Raises:
        ValueError: the graph is not regular (use `metropolis_hastings` instead).
    """
    adj = check_graph(adjacency)
    d = degrees(adj)
    if d.min() != d.max():
        raise ValueError(
            f"uniform_neighbour needs a regular graph (degrees {d.min()}..{d.max()} given); "
            "its W would be row- but not column-stochastic. Use metropolis_hastings."
        )
    return _with_diagonal(np.where(adj, 1.0 / (1.0 + d[:, None]), 0.0))


def lazy(mixing: np.ndarray) -> np.ndarray:
    """The lazy mixing matrix (I + W) / 2: eigenvalues moved into [0, 1], same fixed points."""
    w = check_mixing(mixing)
    return (np.eye(w.shape[-1]) + w) / 2


def time_varying(matrices: Sequence[np.ndarray]) -> np.ndarray:
    """A time-varying topology: the mixing matrices stacked to (p, n, n), used cyclically.

    Each W_k must be symmetric and doubly stochastic; the period product W_{p-1}...W_0 must
    contract the disagreement (the sequence is jointly connected).
    """
    if len(matrices) == 0:
        raise ValueError("time_varying needs at least one mixing matrix")
    return check_mixing(np.stack([np.asarray(m, dtype=np.float64) for m in matrices]))


def _with_diagonal(off_diagonal: np.ndarray) -> np.ndarray:
    """off_diagonal + diag(1 - row sums)."""
    return off_diagonal + np.diag(1.0 - off_diagonal.sum(axis=1))


def contraction_factor(mixing: np.ndarray) -> float:
    """rho = ||W - 11^T/n||_2, the factor by which one gossip step shrinks the disagreement.

    For a stack of p matrices, the per-step geometric mean rho = ||prod_k (W_k - 11^T/n)||^(1/p)
    over one period (the period product contracts by rho^p).

    Args:
        mixing: Float[ndarray, "n n"] or Float[ndarray, "p n n"], doubly stochastic.
    """
    w = np.asarray(mixing, dtype=np.float64)
    stack = w if w.ndim == 3 else w[None]
    n = stack.shape[-1]
    if stack.shape[0] == 1 and np.array_equal(stack[0], stack[0].T):
        # symmetric: the spectral norm is the largest |eigenvalue| (eigvalsh, ~5x faster
        # than the SVD behind norm(., 2) at thousands of nodes)
        return float(np.abs(np.linalg.eigvalsh(stack[0] - 1.0 / n)).max())
    product = np.eye(n) - 1.0 / n
    for wk in stack:
        product = (wk - 1.0 / n) @ product
    return float(np.linalg.norm(product, 2) ** (1.0 / stack.shape[0]))


def spectral_gap(mixing: np.ndarray) -> float:
    """The spectral gap 1 - rho, rho = ||W - 11^T/n||_2 (per step for a time-varying stack)."""
    return 1.0 - contraction_factor(mixing)


def check_mixing(
    mixing: Any, *, atol: float = _ATOL, contraction_atol: float | None = None
) -> np.ndarray:
    """The mixing matrix (or stack) as float64 after checking it can drive gossip to consensus.

    Checks: shape (n, n) or (p, n, n) with n >= 2; finite; entries >= 0; symmetric; rows (and
    so columns) sum to 1 within `atol`; rho = ||W - 11^T/n||_2 < 1 (for a stack, of the period
    product), i.e. the graph is (jointly) connected. `contraction_atol` (default `atol`) is
    the margin below 1 that rho must keep: rounding each entry of a stored W by a relative
    eps moves rho by at most ~eps, whereas the row sums' error grows with n.

    Raises:
        ValueError: naming the first failed check and the offending value.
    """
    if isinstance(mixing, jax.core.Tracer):
        raise ValueError("check_mixing needs a concrete W (call it before jit/vmap)")
    w = np.asarray(mixing, dtype=np.float64)
    if w.ndim not in (2, 3) or w.shape[-1] != w.shape[-2] or w.shape[-1] < 2:
        raise ValueError(f"W must have shape (n, n) or (p, n, n) with n >= 2, got {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("W has non-finite entries")
    if w.min() < -atol:
        raise ValueError(f"W must be nonnegative, smallest entry {w.min():.3g}")
    asym = np.abs(w - np.swapaxes(w, -1, -2)).max()
    if asym > atol:
        raise ValueError(f"W must be symmetric, max |W - W^T| = {asym:.3g} > {atol:g}")
    row = np.abs(w.sum(axis=-1) - 1.0).max()
    if row > atol:
        raise ValueError(f"W must be doubly stochastic, max |W 1 - 1| = {row:.3g} > {atol:g}")
    rho = contraction_factor(w)
    if rho >= 1.0 - (atol if contraction_atol is None else contraction_atol):
        raise ValueError(
            f"W does not contract the disagreement (rho = ||W - 11^T/n|| = {rho:.6f}): "
            "the graph is disconnected (or a sequence is not jointly connected)"
        )
    return w


def as_stack(mixing: Any, dtype: Any = None) -> Float[Array, "p n n"]:
    """A checked mixing matrix as a JAX stack of shape (p, n, n) (p = 1 for a fixed W)."""
    w = check_mixing(mixing)
    return jnp.asarray(w if w.ndim == 3 else w[None], dtype=dtype)


class Neighbours(NamedTuple):
    """A mixing stack stored by padded neighbour lists: O(n k) numbers instead of O(n^2).

    Row i of step t lists the nonzeros of row i of W^(t) (node i itself and its neighbours):
    (W^(t) X)_i = sum_s weight[t, i, s] X[index[t, i, s]], padded to a common width k with
    index i and weight 0. A gossip step then gathers n k rows of X, O(n k d) = O(|E| d) work
    on a graph of bounded degree, where W @ X costs O(n^2 d). Build with `neighbours`.

    Attributes:
        index: Int[Array, "p n k"], the node each term reads.
        weight: Float[Array, "p n k"], its weight W_ij (0 on padding).
    """

    index: Int[Array, "p n k"]
    weight: Float[Array, "p n k"]


SPARSE_FRACTION = 0.25
"""`as_mixer` stores a concrete stack as `Neighbours` when its width is <= this fraction of n."""


def is_sparse(mixing: Any) -> bool:
    """Whether a concrete (p, n, n) stack has at most SPARSE_FRACTION n nonzeros in every row."""
    nonzero = np.asarray(mixing) != 0
    return int(nonzero.sum(-1).max()) <= SPARSE_FRACTION * nonzero.shape[-1]


def neighbours(
    mixing: Any, width: int | None = None, dtype: Any = None, *, atol: float = _ATOL
) -> Neighbours:
    """The neighbour lists of a mixing matrix (n, n) or stack (p, n, n), checked by `check_mixing`.

    Args:
        mixing: the dense mixing matrix or stack (NumPy or concrete JAX).
        width: pad every row to this many terms (default: the most nonzeros in a row), e.g.
            the largest width of several topologies, so their lists stack and `vmap`.
        dtype: of the weights (default float64 when x64 is on, else float32).
        atol: tolerance of `check_mixing`.

    Raises:
        ValueError: `mixing` fails `check_mixing`, or `width` is below a row's nonzeros.
    """
    w = check_mixing(mixing, atol=atol)
    return neighbour_lists(w if w.ndim == 3 else w[None], width, dtype)


def neighbour_lists(stack: np.ndarray, width: int | None = None, dtype: Any = None) -> Neighbours:
    """`neighbours` of a (p, n, n) stack already checked by `check_mixing` (no new check)."""
    stack = np.asarray(stack, dtype=np.float64)
    n = stack.shape[-1]
    nonzero = stack != 0
    needed = int(nonzero.sum(-1).max())
    width = needed if width is None else width
    if not isinstance(width, int | np.integer) or width < needed:
        raise ValueError(
            f"width must be an integer >= {needed} (the most terms in a row), got {width!r}"
        )
    order = np.argsort(~nonzero, axis=-1, kind="stable")[..., : min(width, n)]
    kept = np.take_along_axis(nonzero, order, -1)
    self_index = np.broadcast_to(np.arange(n)[:, None], order.shape)
    index = np.where(kept, order, self_index)
    weight = np.where(kept, np.take_along_axis(stack, order, -1), 0.0)
    if width > n:
        extra = ((0, 0), (0, 0), (0, width - n))
        index = np.pad(index, extra, mode="edge")
        weight = np.pad(weight, extra)
    return Neighbours(jnp.asarray(index, jnp.int32), jnp.asarray(weight, dtype))


def gossip(mixing: Float[Array, "p n n"] | Neighbours, tree: Any, t: Array | int = 0) -> Any:
    """One gossip step X <- W^(t) X on every leaf (nodes on the leading axis), W^(t) = W[t mod p].

    A dense stack is a matrix product per leaf, O(n^2 d); `Neighbours` gathers each node's
    neighbours' rows and sums them with their weights, O(n k d).

    Args:
        mixing: Float[Array, "p n n"] stack of mixing matrices (see `as_stack`), or their
            `Neighbours`.
        tree: pytree of arrays with leading axis n.
        t: the step, selecting the matrix of a time-varying topology.
    """
    if isinstance(mixing, Neighbours):
        step = jnp.asarray(t) % mixing.index.shape[0]
        index, weight = mixing.index[step], mixing.weight[step]

        def mix(a: Array) -> Array:
            w = weight.astype(a.dtype).reshape(weight.shape + (1,) * (a.ndim - 1))
            return jnp.sum(w * a[index], axis=1)

        return jax.tree.map(mix, tree)
    w = mixing[jnp.asarray(t) % mixing.shape[0]]
    return jax.tree.map(lambda a: jnp.tensordot(w.astype(a.dtype), a, axes=1), tree)


def node_mean(tree: Any) -> Any:
    """The network average xbar = (1/n) sum_i x_i of every leaf (leading axis n)."""
    return jax.tree.map(lambda a: jnp.mean(a, axis=0), tree)


def consensus_error(tree: Any) -> Array:
    """The disagreement (1/n) sum_i ||x_i - xbar||^2 summed over the leaves."""
    leaves = jax.tree.leaves(tree)
    return sum(jnp.sum((a - a.mean(axis=0)) ** 2) / a.shape[0] for a in leaves)
