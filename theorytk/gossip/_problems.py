"""Node-local objectives: F(x) = (1/n) sum_i f_i(x), node i holding its own data.

A `Problem` carries one node's loss as a pure function of (params, node data) and the nodes'
data stacked on a leading axis of size n, so the per-node gradients of all nodes are one
`vmap(grad(loss))`. Three families: heterogeneous quadratics with a known optimum (for the
invariants and rates), multinomial logistic regression and a small equinox MLP on
scikit-learn's digits split non-IID across the nodes by a Dirichlet(beta) partition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .. import datasets
from .._validation import check_integer
from ._graphs import numpy_rng

N_CLASSES = 10


class Problem(eqx.Module):
    """A decentralized objective F(x) = (1/n) sum_i f_i(x; data_i).

    Args:
        loss: loss(params, data_i) -> scalar, node i's full local objective f_i.
        sample_loss: sample_loss(params, data_i, key) -> scalar, an unbiased stochastic
            estimate of f_i (a minibatch); its gradient is the stochastic gradient.
        data: pytree whose leaves have the nodes on the leading axis (size n).
        init: init(key) -> one node's parameters (a pytree of arrays).
        predict: optional predict(params, inputs) -> class scores, for test accuracy.
        test: optional (inputs, labels) held out for test accuracy.
        optimum: optional exact minimiser x* of F (quadratics).
        optimal_value: optional F(x*).
        node_offset: global index of the first node held here (nonzero for a block of nodes
            on one device); node i's minibatch key is fold_in(key, node_offset + i), so a
            sharded run draws what a single-device run draws.
    """

    loss: Callable[..., Array] = eqx.field(static=True)
    sample_loss: Callable[..., Array] = eqx.field(static=True)
    data: Any
    init: Callable[[Array], Any] = eqx.field(static=True)
    predict: Callable[..., Array] | None = eqx.field(static=True, default=None)
    test: Any = None
    optimum: Any = None
    optimal_value: Any = None
    node_offset: Any = 0

    @property
    def n_nodes(self) -> int:
        """The number of nodes n."""
        return jax.tree.leaves(self.data)[0].shape[0]

    def grads(self, x: Any, key: Array | None = None) -> Any:
        """Every node's gradient grad f_i(x_i) (key None) or stochastic gradient (with a key)."""
        if key is None:
            return jax.vmap(jax.grad(self.loss))(x, self.data)
        ids = self.node_offset + jnp.arange(self.n_nodes)
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, ids)
        return jax.vmap(jax.grad(self.sample_loss))(x, self.data, keys)

    def objective(self, params: Any) -> Array:
        """F(params) = (1/n) sum_i f_i(params), one set of parameters evaluated on all nodes."""
        return jnp.mean(jax.vmap(self.loss, in_axes=(None, 0))(params, self.data))

    def init_nodes(self, key: Array, *, same: bool = False) -> Any:
        """Initial parameters stacked over the nodes: independent draws, or one shared draw."""
        if same:
            one = self.init(key)
            return jax.tree.map(lambda a: jnp.broadcast_to(a, (self.n_nodes, *a.shape)), one)
        return jax.vmap(self.init)(jax.random.split(key, self.n_nodes))

    def accuracy(self, params: Any) -> Array:
        """Test accuracy of one set of parameters (argmax of the scores against the labels)."""
        inputs, labels = self.test
        return jnp.mean(jnp.argmax(self.predict(params, inputs), axis=-1) == labels)

    def test_loss(self, params: Any) -> Array:
        """Mean test cross-entropy -log softmax(scores)[label] of one set of parameters."""
        inputs, labels = self.test
        return jnp.mean(_cross_entropy(self.predict(params, inputs), labels))


def quadratic(
    curvature: Float[Array, "n d"], centre: Float[Array, "n d"], *, noise: float = 0.0
) -> Problem:
    """Heterogeneous separable quadratics f_i(x) = (1/2) sum_k a_ik (x_k - c_ik)^2.

    The minimiser of F = (1/n) sum_i f_i is x*_k = sum_i a_ik c_ik / sum_i a_ik; F is
    mu-strongly convex and L-smooth with mu = min_k mean_i a_ik, L = max_k mean_i a_ik and
    each f_i is max_k a_ik-smooth. With noise = sigma > 0 the stochastic gradient is
    grad f_i(x) + sigma xi, xi ~ N(0, I) (the sample loss adds sigma <xi, x>).

    Args:
        curvature: a_ik > 0, shape (n, d).
        centre: c_ik, shape (n, d).
        noise: gradient-noise standard deviation sigma >= 0.
    """
    a, c = np.asarray(curvature, dtype=np.float64), np.asarray(centre, dtype=np.float64)
    if a.ndim != 2 or a.shape != c.shape or a.shape[0] < 2:
        raise ValueError(
            f"curvature and centre must both be (n, d), n >= 2; got {a.shape}, {c.shape}"
        )
    if not (np.isfinite(a).all() and (a > 0).all() and np.isfinite(c).all()):
        raise ValueError("curvature must be finite and > 0 and centre finite")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    x_star = (a * c).sum(0) / a.sum(0)
    f_star = 0.5 * np.mean(np.sum(a * (x_star - c) ** 2, axis=1))

    def loss(x: Array, data: dict) -> Array:
        return 0.5 * jnp.sum(data["a"] * (x - data["c"]) ** 2)

    def sample_loss(x: Array, data: dict, key: Array) -> Array:
        return loss(x, data) + noise * jnp.vdot(jax.random.normal(key, x.shape, x.dtype), x)

    d = a.shape[1]
    return Problem(
        loss=loss,
        sample_loss=sample_loss,
        data={"a": jnp.asarray(a), "c": jnp.asarray(c)},
        init=lambda key: jnp.zeros(d),
        optimum=jnp.asarray(x_star),
        optimal_value=jnp.asarray(f_star),
    )


def random_quadratic(
    key: Array | int,
    n: int,
    d: int,
    *,
    mu: float = 1.0,
    smoothness: float = 10.0,
    noise: float = 0.0,
) -> Problem:
    """`quadratic` with a_ik ~ U[mu, smoothness], c_ik ~ N(0, 1), drawn on the host from `key`."""
    check_integer("n", n, least=2)
    check_integer("d", d)
    if not (0 < mu <= smoothness < np.inf):
        raise ValueError(f"need 0 < mu <= smoothness < inf, got mu={mu}, smoothness={smoothness}")
    rng = numpy_rng(key)
    a = rng.uniform(mu, smoothness, (n, d))
    return quadratic(a, rng.standard_normal((n, d)), noise=noise)


def dirichlet_partition(
    labels: np.ndarray, n_nodes: int, beta: float, key: Array | int
) -> list[np.ndarray]:
    """Split sample indices over nodes non-IID: class c goes out by proportions p_c ~ Dir(beta 1).

    The usual label-skew benchmark (Hsu et al., 2019): for each class c independently draw
    p_c ~ Dirichlet(beta, ..., beta) over the n nodes and deal that class's (shuffled)
    samples out in those proportions. beta -> infinity is IID; beta -> 0 gives each class to
    few nodes.

    Args:
        labels: Int[ndarray, " m"], class labels.
        n_nodes: number of nodes, 1 <= n <= m (the number of samples).
        beta: Dirichlet concentration > 0.
        key: PRNG key or integer seed.

    Returns:
        n index arrays (possibly empty) partitioning range(m).
    """
    check_integer("n_nodes", n_nodes)
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size < n_nodes:
        raise ValueError(
            f"n_nodes must be at most the number of samples: {n_nodes} nodes for labels of "
            f"shape {labels.shape} would leave nodes without data"
        )
    rng = numpy_rng(key)
    parts: list[list[np.ndarray]] = [[] for _ in range(n_nodes)]
    for c in np.unique(labels):
        p = rng.dirichlet(np.full(n_nodes, float(beta)))
        idx = rng.permutation(np.flatnonzero(labels == c))
        cuts = np.round(np.cumsum(p)[:-1] * idx.size).astype(int)
        for node, chunk in enumerate(np.split(idx, cuts)):
            parts[node].append(chunk)
    return [np.sort(np.concatenate(chunks)) for chunks in parts]


def digit_classes() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as `datasets.digits` standardises them, with the 10-class labels."""
    x, _ = datasets.digits()
    ones = np.stack([datasets.digits("one_vs_rest", digit=k)[1] for k in range(N_CLASSES)])
    return x, np.argmax(ones, axis=0)


def digits_classification(
    n_nodes: int,
    beta: float,
    key: Array | int,
    *,
    model: str = "logistic",
    width: int = 32,
    batch: int = 16,
    l2: float = 1e-4,
    test_fraction: float = 0.25,
) -> Problem:
    """10-class digits classification split over n nodes by a Dirichlet(beta) label partition.

    f_i(theta) = (1/m_i) sum_{j in node i} CE(softmax(h_theta(x_j)), y_j) + (l2/2)||theta||^2,
    h_theta a linear map ("logistic": multinomial logistic regression) or an equinox MLP
    64 -> width -> 10 with tanh ("mlp"). A node with no samples has f_i = (l2/2)||theta||^2.
    The stochastic loss averages `batch` samples drawn uniformly with replacement from the
    node's own data. A random `test_fraction` of the 1797 digits is held out for test accuracy.

    Args:
        n_nodes: number of nodes n.
        beta: Dirichlet concentration > 0 of the label partition.
        key: PRNG key or integer seed (train/test split, partition).
        model: "logistic" or "mlp".
        width: hidden width of the MLP.
        batch: minibatch size of the stochastic gradient.
        l2: weight decay >= 0.
        test_fraction: held-out share in (0, 1).
    """
    if model not in ("logistic", "mlp"):
        raise ValueError(f"model must be 'logistic' or 'mlp', got {model!r}")
    for name, value in (("width", width), ("batch", batch)):
        check_integer(name, value)
    if not (0 < test_fraction < 1) or not (l2 >= 0):
        raise ValueError(f"need 0 < test_fraction < 1 and l2 >= 0, got {test_fraction}, {l2}")
    x, y = digit_classes()
    rng = numpy_rng(key)
    order = rng.permutation(x.shape[0])
    n_test = int(round(test_fraction * x.shape[0]))
    test, train = order[:n_test], order[n_test:]
    parts = dirichlet_partition(y[train], n_nodes, beta, int(rng.integers(2**31)))
    init, apply = _model(model, x.shape[1], width)
    data = _stack_parts(x[train], y[train], parts)

    def loss(params: Any, node: dict) -> Array:
        ce = _cross_entropy(apply(params, node["x"]), node["y"])
        mean = jnp.sum(jnp.where(node["mask"], ce, 0.0)) / jnp.maximum(node["count"], 1)
        return mean + 0.5 * l2 * _sq_norm(params)

    def sample_loss(params: Any, node: dict, key: Array) -> Array:
        u = jax.random.uniform(key, (batch,))
        idx = jnp.minimum((u * node["count"]).astype(jnp.int32), node["x"].shape[0] - 1)
        ce = _cross_entropy(apply(params, node["x"][idx]), node["y"][idx])
        return jnp.where(node["count"] > 0, jnp.mean(ce), 0.0) + 0.5 * l2 * _sq_norm(params)

    return Problem(
        loss=loss,
        sample_loss=sample_loss,
        data=data,
        init=init,
        predict=apply,
        test=(jnp.asarray(x[test]), jnp.asarray(y[test])),
    )


def _model(kind: str, d: int, width: int) -> tuple[Callable, Callable]:
    """(init(key) -> params, apply(params, inputs) -> scores) of the linear model or the MLP."""
    if kind == "logistic":

        def init(key: Array) -> dict:
            return {"w": jnp.zeros((d, N_CLASSES)), "b": jnp.zeros(N_CLASSES)}

        return init, lambda p, inputs: inputs @ p["w"] + p["b"]
    template = eqx.nn.MLP(d, N_CLASSES, width, 1, activation=jnp.tanh, key=jax.random.key(0))
    _, static = eqx.partition(template, eqx.is_array)

    def init_mlp(key: Array) -> Any:
        mlp = eqx.nn.MLP(d, N_CLASSES, width, 1, activation=jnp.tanh, key=key)
        return eqx.filter(mlp, eqx.is_array)

    def apply(params: Any, inputs: Array) -> Array:
        return jax.vmap(eqx.combine(params, static))(inputs)

    return init_mlp, apply


def _stack_parts(x: np.ndarray, y: np.ndarray, parts: list[np.ndarray]) -> dict:
    """Node data padded to the largest part: x (n, m, d), y (n, m), mask (n, m), count (n,)."""
    m = max(1, max(p.size for p in parts))
    xs = np.zeros((len(parts), m, x.shape[1]))
    ys = np.zeros((len(parts), m), dtype=np.int32)
    for i, p in enumerate(parts):
        xs[i, : p.size], ys[i, : p.size] = x[p], y[p]
    count = np.array([p.size for p in parts])
    mask = np.arange(m) < count[:, None]
    return {
        "x": jnp.asarray(xs),
        "y": jnp.asarray(ys),
        "mask": jnp.asarray(mask),
        "count": jnp.asarray(count),
    }


def _cross_entropy(scores: Array, labels: Array) -> Array:
    """-log softmax(scores)[label] per row."""
    return (
        jax.nn.logsumexp(scores, axis=-1) - jnp.take_along_axis(scores, labels[:, None], -1)[:, 0]
    )


def _sq_norm(tree: Any) -> Array:
    """sum of squares of all leaves."""
    return sum(jnp.sum(a**2) for a in jax.tree.leaves(tree))
