"""The self-repellent random walk (SRRW) and token SGD driven by it (Doshi et al., ICML 2023).

A base Markov chain P on the nodes of a graph, reversible with respect to a target mu (e.g.
Metropolis-Hastings towards mu), is made to avoid the nodes it has visited too often:

    K[x]_ij = P_ij (x_j / mu_j)^(-alpha) / sum_k P_ik (x_k / mu_k)^(-alpha)
    X_{n+1} ~ K[x_n]_{X_n, .},    x_{n+1} = x_n + gamma_{n+1} (delta_{X_{n+1}} - x_n)

with gamma_n = (n + 1)^(-a), a in (1/2, 1], x_0 = mu. alpha = 0 is the base chain. x_n -> mu
almost surely, and gamma_n^(-1/2) (x_n - mu) -> N(0, V(alpha)) with (Doshi et al., Thm 3.4)

    V(alpha) = sum_{i>=2} (1 + lambda_i) / ((1 - lambda_i) (2 alpha (1 + lambda_i) + 2 - 1{a=1}))
               u_i u_i^T,    u_i = diag(mu) phi_i,

(lambda_i, phi_i) the eigenpairs of P, phi_i orthonormal in L^2(mu): for a test function f,
f^T V(alpha) f = sum_{i>=2} c_i / (2 alpha (1 + lambda_i) + 2 - 1{a=1}) with
c_i = (1 + lambda_i)/(1 - lambda_i) <f, phi_i>_mu^2, which decreases in alpha as O(1/alpha).
A token that walks by the SRRW and updates a shared model with the visited node's gradient
is token (random-walk) SGD; its sampling noise inherits the smaller variance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from .. import sweep
from .._validation import INT32_MAX, check_integer, check_scalar
from ._graphs import _from_edges, check_graph, degrees, exponential
from ._problems import Problem

_ATOL = 1e-10


def lollipop(clique: int, path: int) -> np.ndarray:
    """The lollipop graph: a clique K_clique (nodes 0..clique-1) with a path of `path` nodes.

    Node clique - 1 joins the first path node; the path ends at node clique + path - 1.
    A classic slow-mixing graph for random walks (cover time Theta(n^3)).

    Args:
        clique: size of the clique, >= 3.
        path: number of path nodes, >= 1.
    """
    check_integer("clique", clique, least=3)
    check_integer("path", path, least=1)
    n = clique + path
    rows, cols = np.triu_indices(clique, 1)
    tail = np.arange(clique - 1, n - 1)
    return _from_edges(n, np.r_[rows, tail], np.r_[cols, tail + 1])


def check_target(target: Any, n: int) -> np.ndarray:
    """The target distribution as float64 after checking it is a positive probability vector."""
    mu = np.asarray(target, dtype=np.float64)
    if mu.shape != (n,) or not np.isfinite(mu).all() or (mu <= 0).any():
        raise ValueError(f"target must be {n} finite positive numbers, got shape {mu.shape}")
    if abs(mu.sum() - 1.0) > _ATOL:
        raise ValueError(f"target must sum to 1, got {mu.sum()!r}")
    return mu


def metropolis_hastings_chain(adjacency: np.ndarray, target: Any = None) -> np.ndarray:
    """The Metropolis-Hastings random walk towards `target` (uniform when None).

    Proposal: a uniform neighbour (Q_ij = 1/d_i), accepted with min(1, mu_j d_i / (mu_i d_j)):
    P_ij = min(1/d_i, mu_j / (mu_i d_j)) on edges, P_ii = 1 - sum_j P_ij. P is reversible
    with respect to mu (mu_i P_ij = mu_j P_ji), so mu is stationary. On a regular graph with a
    uniform target it is the simple random walk.

    Args:
        adjacency: Bool[ndarray, "n n"], a connected undirected graph.
        target: Float[ndarray, " n"], positive, summing to 1 (default uniform).
    """
    adj = check_graph(adjacency)
    n = adj.shape[0]
    mu = np.full(n, 1.0 / n) if target is None else check_target(target, n)
    d = degrees(adj).astype(np.float64)
    off = np.where(adj, np.minimum(1.0 / d[:, None], mu[None, :] / (mu[:, None] * d[None, :])), 0)
    return off + np.diag(1.0 - off.sum(axis=1))


def check_chain(chain: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """(P, mu) as float64 after checking P is a stochastic matrix reversible w.r.t. mu.

    Raises:
        ValueError: P not square/stochastic/nonnegative, mu not a distribution, or
            detailed balance mu_i P_ij = mu_j P_ji violated (the SRRW theory needs it).
    """
    p = np.asarray(chain, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] < 2:
        raise ValueError(f"chain must be a square (n, n) matrix with n >= 2, got {p.shape}")
    if not np.isfinite(p).all() or p.min() < -_ATOL:
        raise ValueError("chain must have finite nonnegative entries")
    row = np.abs(p.sum(axis=1) - 1).max()
    if row > _ATOL:
        raise ValueError(f"chain rows must sum to 1, max |P 1 - 1| = {row:.3g}")
    mu = check_target(target, p.shape[0])
    flow = mu[:, None] * p
    if np.abs(flow - flow.T).max() > _ATOL:
        raise ValueError("chain must be reversible w.r.t. target: mu_i P_ij = mu_j P_ji")
    return p, mu


def chain_spectrum(chain: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs (lambda_i, phi_i) of a reversible chain, phi_i orthonormal in L^2(mu).

    D^(1/2) P D^(-1/2) (D = diag mu) is symmetric; its eigenvectors v_i give phi_i = D^(-1/2) v_i.

    Returns:
        lambdas: Float[ndarray, " n"], decreasing (lambdas[0] = 1).
        phis: Float[ndarray, "n n"], column i is phi_i (phis[:, 0] = 1).
    """
    p, mu = check_chain(chain, target)
    s = np.sqrt(mu)
    lambdas, v = np.linalg.eigh(s[:, None] * p / s[None, :])
    order = np.argsort(lambdas)[::-1]
    return lambdas[order], v[:, order] / s[:, None]


def srrw_variance(
    chain: Any, target: Any, f: Any, alpha: ArrayLike, a: float = 1.0
) -> Float[Array, ""]:
    """The asymptotic variance f^T V(alpha) f of gamma_n^(-1/2) x_n^T f (Doshi et al., Thm 3.4).

        f^T V(alpha) f = sum_{i>=2} c_i / (2 alpha (1 + lambda_i) + 2 - 1{a = 1}),
        c_i = (1 + lambda_i) / (1 - lambda_i) <f, phi_i>_mu^2

    At a = 1 (gamma_n = 1/(n+1), x_n the visit frequency) and alpha = 0 this is the usual
    asymptotic variance of the ergodic average of f along the base chain.

    Args:
        chain: Float[ndarray, "n n"], reversible w.r.t. target.
        target: Float[ndarray, " n"].
        f: Float[ndarray, " n"], the test function.
        alpha: repellence >= 0 (may be traced).
        a: step exponent in (1/2, 1].
    """
    lambdas, phis = chain_spectrum(chain, target)
    mu = np.asarray(target, dtype=np.float64)
    c = (1 + lambdas[1:]) / (1 - lambdas[1:]) * ((mu * np.asarray(f)) @ phis[:, 1:]) ** 2
    shift = 1.0 if a == 1 else 2.0
    return jnp.sum(c / (2 * jnp.asarray(alpha)[..., None] * (1 + lambdas[1:]) + shift), axis=-1)


class SrrwState(NamedTuple):
    """SRRW state: current node X_n, empirical measure x_n, visit counts, step n."""

    node: Int[Array, ""]
    x: Float[Array, " n"]
    visits: Float[Array, " n"]
    n: Int[Array, ""]


def srrw_init(target: Float[Array, " n"], node: ArrayLike = 0) -> SrrwState:
    """The SRRW at step 0: at `node`, x_0 = mu, no visits counted yet."""
    mu = jnp.asarray(target)
    return SrrwState(jnp.asarray(node), mu, jnp.zeros_like(mu), jnp.asarray(0))


def srrw_step(
    chain: Float[Array, "n n"],
    target: Float[Array, " n"],
    state: SrrwState,
    key: Array,
    alpha: ArrayLike,
    a: ArrayLike,
) -> SrrwState:
    """One SRRW step: X_{n+1} ~ K[x_n]_{X_n, .}, x_{n+1} = x_n + (n + 2)^(-a) (e_X - x_n).

    The next node is drawn by inverting the CDF of the row K[x_n]_{X_n, .} (one uniform per
    step); the row is formed in log space, log P_ij - alpha log(x_j / mu_j), so large alpha
    and small x_j do not overflow.
    """
    tiny = jnp.finfo(state.x.dtype).tiny
    logp = jnp.log(chain[state.node]) - alpha * jnp.log(jnp.maximum(state.x, tiny) / target)
    weights = jnp.exp(logp - jnp.max(logp))
    cdf = jnp.cumsum(weights)
    u = jax.random.uniform(key, (), state.x.dtype) * cdf[-1]
    node = jnp.minimum(jnp.sum(cdf <= u), target.shape[0] - 1)
    gamma = (state.n + 2.0).astype(state.x.dtype) ** (-a)
    hit = jax.nn.one_hot(node, target.shape[0], dtype=state.x.dtype)
    return SrrwState(node, state.x + gamma * (hit - state.x), state.visits + hit, state.n + 1)


def srrw_walk(
    chain: Any,
    target: Any,
    key: Array,
    *,
    alpha: ArrayLike,
    a: ArrayLike = 1.0,
    steps: int,
    start: ArrayLike = 0,
) -> SrrwState:
    """Run `steps` SRRW steps from node `start` as one `lax.scan`; step t uses fold_in(key, t).

    Args:
        chain: Float[Array, "n n"], the base chain P, reversible w.r.t. target (checked when
            concrete).
        target: Float[Array, " n"], its stationary distribution mu.
        key: PRNG key.
        alpha: repellence >= 0 (may be traced).
        a: step exponent in (1/2, 1] (may be traced).
        steps: number of steps (static).
        start: initial node.
    """
    check_integer("steps", steps, most=INT32_MAX)
    check_scalar("alpha", alpha, ">= 0", lambda v: v >= 0)
    check_scalar("a", a, "in (1/2, 1]", lambda v: 0.5 < v <= 1)
    if not isinstance(chain, jax.core.Tracer) and not isinstance(target, jax.core.Tracer):
        check_chain(chain, target)
    p, mu = jnp.asarray(chain), jnp.asarray(target)

    def body(state: SrrwState, t: Array) -> tuple[SrrwState, None]:
        return srrw_step(p, mu, state, jax.random.fold_in(key, t), alpha, a), None

    return jax.lax.scan(body, srrw_init(mu, start), jnp.arange(steps))[0]


class TokenState(NamedTuple):
    """Token SGD state: the walk, the shared model and the optax state."""

    walk: SrrwState
    params: Any
    opt_state: Any


def token_sgd(
    problem: Problem,
    chain: Any,
    target: Any,
    optimizer: optax.GradientTransformation,
    params0: Any,
    key: Array,
    *,
    alpha: ArrayLike,
    a: ArrayLike = 1.0,
    steps: int,
    reweight: bool = True,
) -> TokenState:
    """Token SGD: the model rides an SRRW token and takes the visited node's gradient.

        X_{n+1} ~ K[x_n]_{X_n, .},
        theta_{n+1} = theta_n + opt(w_{X_{n+1}} grad f_{X_{n+1}}(theta_n))

    with w_i = 1 / (N mu_i) when `reweight` (importance weights: under mu the mean gradient is
    grad F, F = (1/N) sum_i f_i), else w_i = 1 (the method then minimises sum_i mu_i f_i).
    With a uniform target both agree. (Random-walk SGD, e.g. Hu, Doshi and Eun, ICLR 2024.)

    Args:
        problem: node objectives (N nodes).
        chain, target: the base chain P and its stationary mu (see `srrw_walk`).
        optimizer: the update rule of the shared model (e.g. `optax.sgd(schedule)`).
        params0: initial shared model.
        key: PRNG key; step t uses fold_in(key, t).
        alpha, a: SRRW repellence and step exponent (may be traced).
        steps: number of token moves (static).
        reweight: use the importance weights w_i.
    """
    check_integer("steps", steps, most=INT32_MAX)
    check_scalar("alpha", alpha, ">= 0", lambda v: v >= 0)
    p, mu = (jnp.asarray(m) for m in check_chain(chain, target))
    if p.shape[0] != problem.n_nodes:
        raise ValueError(f"chain has {p.shape[0]} nodes but the problem has {problem.n_nodes}")
    weights = 1.0 / (p.shape[0] * mu) if reweight else jnp.ones_like(mu)
    grad = jax.grad(problem.loss)

    def body(state: TokenState, t: Array) -> tuple[TokenState, None]:
        walk = srrw_step(p, mu, state.walk, jax.random.fold_in(key, t), alpha, a)
        data = jax.tree.map(lambda leaf: leaf[walk.node], problem.data)
        g = jax.tree.map(lambda leaf: weights[walk.node] * leaf, grad(state.params, data))
        updates, opt_state = optimizer.update(g, state.opt_state, state.params)
        return TokenState(walk, optax.apply_updates(state.params, updates), opt_state), None

    init = TokenState(srrw_init(mu), params0, optimizer.init(params0))
    return jax.lax.scan(body, init, jnp.arange(steps))[0]


_GRAPHS = {
    "exponential8": lambda: exponential(8),
    "lollipop": lambda: lollipop(5, 5),
}


class SrrwConfig(eqx.Module):
    """An SRRW on a named graph with the MH chain towards a target and a test function f.

    Args:
        graph: "exponential8" (5-regular on 8 nodes) or "lollipop" (K_5 plus a 5-node path).
        target: "uniform" or "degree" (mu_i proportional to d_i).
        steps: number of walk steps n.
        f_seed: seed of the test function f ~ N(0, I).
    """

    graph: str = eqx.field(static=True, default="lollipop")
    target: str = eqx.field(static=True, default="uniform")
    steps: int = eqx.field(static=True, default=10_000)
    f_seed: int = eqx.field(static=True, default=0)

    def __check_init__(self) -> None:
        if self.graph not in _GRAPHS:
            raise ValueError(f"graph must be one of {sorted(_GRAPHS)}, got {self.graph!r}")
        if self.target not in ("uniform", "degree"):
            raise ValueError(f"target must be 'uniform' or 'degree', got {self.target!r}")
        check_integer("steps", self.steps, most=INT32_MAX)

    def walk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(P, mu, f) of this configuration."""
        adj = _GRAPHS[self.graph]()
        d = degrees(adj).astype(np.float64)
        mu = np.full(d.size, 1.0 / d.size) if self.target == "uniform" else d / d.sum()
        f = np.random.default_rng(self.f_seed).standard_normal(d.size)
        return metropolis_hastings_chain(adj, mu), mu, f


@sweep.domain(
    alpha=sweep.NONNEGATIVE, a=sweep.Constraint("in (1/2, 1]", lambda v: (v > 0.5) & (v <= 1))
)
def srrw_simulate(
    params: Mapping[str, ArrayLike], key: Array, *, config: SrrwConfig
) -> dict[str, Array]:
    """One SRRW of `config.steps` steps: scaled squared error of x_n^T f and the TV distance.

    Args:
        params: "alpha" (>= 0) and "a" (in (1/2, 1]); scalars, may be traced.
        key: PRNG key.
        config: the walk.

    Returns:
        `scaled_error` = gamma_n^(-1) (x_n^T f - mu^T f)^2 (its mean over seeds tends to
        f^T V(alpha) f) and `tv` = (1/2) ||visits_n / n - mu||_1.
    """
    p, mu, f = config.walk()
    state = srrw_walk(p, mu, key, alpha=params["alpha"], a=params["a"], steps=config.steps)
    gamma = (config.steps + 1.0) ** (-jnp.asarray(params["a"]))
    err = jnp.dot(state.x - mu, f)
    return {
        "scaled_error": err**2 / gamma,
        "tv": 0.5 * jnp.sum(jnp.abs(state.visits / config.steps - mu)),
    }


def srrw_theory(params: Mapping[str, ArrayLike], *, config: SrrwConfig) -> dict[str, Array]:
    """The limit of `scaled_error`: f^T V(alpha) f (see `srrw_variance`), and tv -> 0.

    `a` must be concrete here (the formula switches at a = 1).
    """
    p, mu, f = config.walk()
    a = float(params["a"])
    return {"scaled_error": srrw_variance(p, mu, f, params["alpha"], a), "tv": jnp.asarray(0.0)}


@sweep.domain(
    alpha=sweep.NONNEGATIVE, a=sweep.Constraint("in (1/2, 1]", lambda v: (v > 0.5) & (v <= 1))
)
def token_simulate(
    params: Mapping[str, ArrayLike], key: Array, *, config: SrrwConfig
) -> dict[str, Array]:
    """Token SGD driven by the SRRW on f_i(theta) = (h_i/2)(theta - f_i)^2, f the test function.

    h_i ~ U[1/2, 3/2] (seed `config.f_seed` + 1). The token's model follows
    theta_{n+1} = theta_n - 2 gamma_{n+1} w_X h_X (theta_n - f_X) with gamma_n = (n + 1)^(-a)
    and w_i = 1/(N mu_i) (`token_sgd`, reweighted), from theta_0 = 0; the minimiser of
    (1/N) sum_i f_i is theta* = sum_i h_i f_i / sum_i h_i. The step 2 gamma_n keeps
    2 min_i h_i >= 1 > 1/2, so gamma_n^(-1) (theta_n - theta*)^2 has a finite limit.

    Args:
        params: "alpha" (>= 0) and "a" (in (1/2, 1]); scalars, may be traced.
        key: PRNG key.
        config: the walk (`config.steps` token moves).

    Returns:
        `token_error` = gamma_n^(-1) (theta_n - theta*)^2.
    """
    p, mu, f = config.walk()
    h = np.random.default_rng(config.f_seed + 1).uniform(0.5, 1.5, f.size)
    problem = Problem(
        loss=lambda theta, node: 0.5 * node[0] * (theta - node[1]) ** 2,
        sample_loss=lambda theta, node, key: 0.5 * node[0] * (theta - node[1]) ** 2,
        data=jnp.asarray(np.stack([h, f], axis=1)),
        init=lambda key: jnp.zeros(()),
    )
    a = jnp.asarray(params["a"])
    schedule = lambda n: 2.0 * (n + 2.0) ** (-a)  # noqa: E731  (step n + 1 of the walk)
    state = token_sgd(
        problem,
        p,
        mu,
        optax.sgd(schedule),
        jnp.zeros(()),
        key,
        alpha=params["alpha"],
        a=a,
        steps=config.steps,
    )
    gamma = (config.steps + 1.0) ** (-a)
    optimum = np.sum(h * f) / np.sum(h)
    return {"token_error": (state.params - optimum) ** 2 / gamma}
