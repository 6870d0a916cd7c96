"""DADAO: decoupled accelerated decentralized asynchronous optimization (Nabli and Oyallon, 2023).

Every node i holds six variables (x, x~, y, y~, z, z~)_i. Between events they follow the linear,
node-local ODE (the authors' `DADAO_optimizer.ode_matrix`, AdelNabli/DADAO `optimizers.py`)

    dx  = eta (x~ - x)          dy  = alpha (y~ - y)              dz  = alpha (z~ - z)
    dx~ = eta~ (x - x~)         dy~ = -theta (nu x~ + y + z)      dz~ = alpha~ (z - z~)

integrated exactly with the matrix exponential. Two independent Poisson clocks fire events:

- gradient, rate n (each node at rate 1), at a uniform node i, with
  g = grad f_i(x_i) - nu x_i - y~_i:
  x_i -= gamma g,  x~_i -= gamma~ g,  y~_i += (delta + delta~) g;
- communication, rate lambda = sqrt(2 chi_1 chi_2), on a uniform edge (i, j), with
  m = (y_i + z_i) - (y_j + z_j):  z_i -= beta m, z_j += beta m, z~_i -= beta~ m, z~_j += beta~ m.

Constants (authors' code): nu = mu/2, alpha = sqrt(nu/L)/4, alpha~ = eta = eta~ = sqrt(nu/L)/8,
theta = sqrt(L/nu)/2, beta = 1/2, beta~ = 2 chi_1* sqrt(L/nu) with chi_1* = chi_1/lambda,
delta = sqrt(nu/L)/4, delta~ = 1, gamma = 1/(4L), gamma~ = 1/(4 sqrt(L nu)); mu and L are the
strong convexity and smoothness of every f_i. With Lap the graph Laplacian and E its edges,
Lap_E = Lap/|E| (edges drawn uniformly), chi_1 = 1/lambda_2(Lap_E) and
chi_2 = max_{(i,j) in E} (1/2)(e_i - e_j)^T Lap_E^+ (e_i - e_j)
(`utils.compute_spectral_quantities`).

Invariant: the flow keeps alpha~ z_i + alpha z~_i for every node and a communication moves z and
z~ by opposite amounts on i and j, so alpha~ sum_i z_i + alpha sum_i z~_i never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .. import sweep
from .._validation import INT32_MAX, check_integer, check_scalar
from ..sweep import Status
from . import _graphs
from ._graphs import check_graph
from ._problems import Problem, random_quadratic


class GraphRates(NamedTuple):
    """Spectral quantities of a graph under uniform edge sampling (authors' definitions).

    Attributes:
        edges: Int[ndarray, "m 2"], the edges (i < j).
        chi_1: 1 / lambda_2(Lap / |E|).
        chi_2: max over edges of (1/2) (e_i - e_j)^T (Lap / |E|)^+ (e_i - e_j).
        comm_rate: sqrt(2 chi_1 chi_2), the communication rate of the whole network.
    """

    edges: np.ndarray
    chi_1: float
    chi_2: float
    comm_rate: float


def graph_rates(adjacency: np.ndarray) -> GraphRates:
    """chi_1, chi_2 and the communication rate sqrt(2 chi_1 chi_2) of a connected graph.

    Args:
        adjacency: Bool[ndarray, "n n"], connected and undirected.
    """
    adj = check_graph(adjacency)
    rows, cols = np.nonzero(np.triu(adj, 1))
    edges = np.stack([rows, cols], axis=1)
    lap = (np.diag(adj.sum(1)) - adj).astype(np.float64) / len(edges)
    chi_1 = 1.0 / np.linalg.eigvalsh(lap)[1]
    pinv = np.linalg.pinv(lap)
    resist = pinv[rows, rows] + pinv[cols, cols] - 2 * pinv[rows, cols]
    chi_2 = 0.5 * float(resist.max())
    return GraphRates(edges, float(chi_1), chi_2, float(np.sqrt(2 * chi_1 * chi_2)))


class DadaoConstants(NamedTuple):
    """The ODE and jump constants of DADAO (scalars; traced if mu, L or the rate are)."""

    nu: Array
    alpha: Array
    alpha_tilde: Array
    eta: Array
    theta: Array
    beta: Array
    beta_tilde: Array
    delta: Array
    gamma: Array
    gamma_tilde: Array
    grad_rate: Array
    comm_rate: Array


def dadao_constants(
    rates: GraphRates, n: int, mu: ArrayLike, smoothness: ArrayLike, comm_rate: ArrayLike = None
) -> DadaoConstants:
    """The authors' constants from mu, L and the graph (see the module docstring).

    Args:
        rates: `graph_rates` of the graph.
        n: number of nodes (the gradient rate).
        mu: strong convexity of every f_i (> 0).
        smoothness: L, smoothness of every f_i (>= mu).
        comm_rate: communication rate lambda; default sqrt(2 chi_1 chi_2). The authors'
            chi_1* = chi_1/lambda sets beta~, so a faster clock takes smaller z~ jumps.
    """
    lam = jnp.asarray(rates.comm_rate if comm_rate is None else comm_rate)
    nu = jnp.asarray(mu) / 2
    root = jnp.sqrt(nu / smoothness)
    return DadaoConstants(
        nu=nu,
        alpha=root / 4,
        alpha_tilde=root / 8,
        eta=root / 8,
        theta=1 / (2 * root),
        beta=jnp.asarray(0.5),
        beta_tilde=2 * (rates.chi_1 / lam) / root,
        delta=root / 4,
        gamma=1 / (4 * jnp.asarray(smoothness)),
        gamma_tilde=1 / (4 * jnp.sqrt(smoothness * nu)),
        grad_rate=jnp.asarray(float(n)),
        comm_rate=lam,
    )


def flow_matrix(c: DadaoConstants) -> Float[Array, "6 6"]:
    """M with d/dt (x, x~, y, y~, z, z~) = M (x, x~, y, y~, z, z~) at every node."""
    zero = jnp.zeros_like(c.eta)
    rows = [
        [-c.eta, c.eta, zero, zero, zero, zero],
        [c.eta, -c.eta, zero, zero, zero, zero],
        [zero, zero, -c.alpha, c.alpha, zero, zero],
        [zero, -c.theta * c.nu, -c.theta, zero, -c.theta, zero],
        [zero, zero, zero, zero, -c.alpha, c.alpha],
        [zero, zero, zero, zero, c.alpha_tilde, -c.alpha_tilde],
    ]
    return jnp.stack([jnp.stack(r) for r in rows])


class DadaoState(NamedTuple):
    """DADAO state: the six node variables (nodes on the leading axis), time, event counts.

    `t` is the time of the state; `clock` the time of the last event drawn (the two differ
    once an event fell past the horizon: later events are then drawn after it, not after t).
    """

    x: Any
    x_tilde: Any
    y: Any
    y_tilde: Any
    z: Any
    z_tilde: Any
    t: Array
    grads: Int[Array, ""]
    comms: Int[Array, ""]
    clock: Array


def dadao_init(x0: Any) -> DadaoState:
    """x = x0 at every node, the other five variables zero, t = 0 (as in the authors' code)."""
    zeros = jax.tree.map(jnp.zeros_like, x0)
    t = jnp.zeros((), jax.tree.leaves(x0)[0].dtype)
    zero = jnp.asarray(0)
    return DadaoState(x0, zeros, zeros, zeros, zeros, zeros, t, zero, zero, t)


def invariant(state: DadaoState, c: DadaoConstants) -> Any:
    """alpha~ sum_i z_i + alpha sum_i z~_i (per coordinate), conserved exactly by DADAO."""
    return jax.tree.map(
        lambda z, zt: c.alpha_tilde * z.sum(0) + c.alpha * zt.sum(0), state.z, state.z_tilde
    )


def flow(state: DadaoState, c: DadaoConstants, dt: Array) -> DadaoState:
    """The exact solution of the linear ODE over a time dt >= 0 at every node: exp(M dt)."""
    e = jax.scipy.linalg.expm(flow_matrix(c) * dt).astype(state.t.dtype)
    new = jax.tree.map(lambda *v: jnp.tensordot(e, jnp.stack(v), axes=1), *state[:6])
    parts = [jax.tree.map(lambda leaf, k=k: leaf[k], new) for k in range(6)]
    return state._replace(**dict(zip(state._fields[:6], parts, strict=True)), t=state.t + dt)


def dadao_event(
    problem: Problem,
    edges: Int[Array, "m 2"],
    c: DadaoConstants,
    state: DadaoState,
    key: Array,
    horizon: ArrayLike,
) -> DadaoState:
    """The next event of the merged clocks (rate n + lambda), applied if it falls before `horizon`.

    The waiting time is Exp(n + lambda); the event is a gradient with probability
    n / (n + lambda) (at a uniform node), else a communication (on a uniform edge). The flow
    runs up to the event, then the jump of the module docstring is applied.
    """
    k_time, k_kind, k_node, k_edge = jax.random.split(key, 4)
    dtype = state.t.dtype
    total = c.grad_rate + c.comm_rate
    clock = state.clock + jax.random.exponential(k_time, (), dtype) / total
    active = clock <= horizon
    is_grad = jax.random.uniform(k_kind, (), dtype) * total < c.grad_rate
    g_on = (active & is_grad).astype(dtype)
    c_on = (active & ~is_grad).astype(dtype)
    state = flow(state, c, jnp.where(active, clock - state.t, 0.0))
    i = jax.random.randint(k_node, (), 0, problem.n_nodes)
    e = edges[jax.random.randint(k_edge, (), 0, edges.shape[0])]

    def grad_jump(x: Any, y_tilde: Any) -> Any:
        xi = jax.tree.map(lambda leaf: leaf[i], x)
        data = jax.tree.map(lambda leaf: leaf[i], problem.data)
        grad = jax.grad(problem.loss)(xi, data)
        return jax.tree.map(lambda gr, a, b: gr - c.nu * a[i] - b[i], grad, x, y_tilde)

    g = grad_jump(state.x, state.y_tilde)
    m = jax.tree.map(lambda y, z: (y[e[0]] + z[e[0]]) - (y[e[1]] + z[e[1]]), state.y, state.z)

    def at_node(leaf: Array, step: Array, coef: Array) -> Array:
        return leaf.at[i].add(g_on * coef * step)

    def on_edge(leaf: Array, msg: Array, coef: Array) -> Array:
        return leaf.at[e[0]].add(-c_on * coef * msg).at[e[1]].add(c_on * coef * msg)

    return DadaoState(
        x=jax.tree.map(lambda a, s: at_node(a, s, -c.gamma), state.x, g),
        x_tilde=jax.tree.map(lambda a, s: at_node(a, s, -c.gamma_tilde), state.x_tilde, g),
        y=state.y,
        y_tilde=jax.tree.map(lambda a, s: at_node(a, s, c.delta + 1.0), state.y_tilde, g),
        z=jax.tree.map(lambda a, s: on_edge(a, s, c.beta), state.z, m),
        z_tilde=jax.tree.map(lambda a, s: on_edge(a, s, c.beta_tilde), state.z_tilde, m),
        t=state.t,
        grads=state.grads + g_on.astype(state.grads.dtype),
        comms=state.comms + c_on.astype(state.comms.dtype),
        clock=clock,
    )


def dadao(
    problem: Problem,
    adjacency: np.ndarray,
    x0: Any,
    key: Array,
    *,
    mu: ArrayLike,
    smoothness: ArrayLike,
    horizon: ArrayLike,
    events: int,
    comm_rate: ArrayLike = None,
    metrics: Callable[[DadaoState], dict[str, Array]] | None = None,
    init: DadaoState | None = None,
) -> tuple[DadaoState, dict[str, Array], Array]:
    """Simulate DADAO event by event on [0, horizon] with a fixed budget of events (`lax.scan`).

    Event k uses the key fold_in(key, k); events after the horizon are no-ops, and the final
    state is flowed exactly to t = horizon. If the budget runs out first (the last event still
    falls before the horizon), the state stays at the last event time and the status is
    BUDGET. Expected events: (n + lambda) horizon; a budget of that plus 6 standard
    deviations, (n + lambda) T + 6 sqrt((n + lambda) T), suffices with probability > 1 - 1e-9.

    Args:
        problem: node objectives f_i (n nodes), each mu-strongly convex and L-smooth.
        adjacency: Bool[ndarray, "n n"], the communication graph.
        x0: initial models, nodes on the leading axis.
        key: PRNG key.
        mu, smoothness: mu and L (may be traced).
        horizon: simulated time T > 0 (may be traced).
        events: event budget (static, at most 2^31 - 1: the event counts are int32).
        comm_rate: communication rate lambda (default sqrt(2 chi_1 chi_2); may be traced).
        metrics: metrics(state) -> dict of scalars, recorded after every event.
        init: a starting state instead of `dadao_init(x0)`.

    Returns:
        (final state, traces with `metrics[name][k]` and `"t"[k]` after event k, status).
    """
    check_integer("events", events, most=INT32_MAX)
    check_scalar("mu", mu, "> 0", lambda v: v > 0)
    check_scalar("smoothness", smoothness, "> 0", lambda v: v > 0)
    check_scalar("horizon", horizon, "> 0", lambda v: v > 0)
    if comm_rate is not None:
        check_scalar("comm_rate", comm_rate, "> 0", lambda v: v > 0)
    if np.shape(adjacency)[0] != problem.n_nodes:
        raise ValueError(
            f"adjacency has {np.shape(adjacency)[0]} nodes but the problem has {problem.n_nodes}"
        )
    rates = graph_rates(adjacency)
    c = dadao_constants(rates, problem.n_nodes, mu, smoothness, comm_rate)
    edges = jnp.asarray(rates.edges)
    record = metrics or (lambda s: {})

    def body(state: DadaoState, k: Array) -> tuple[DadaoState, dict[str, Array]]:
        state = dadao_event(problem, edges, c, state, jax.random.fold_in(key, k), horizon)
        return state, {**record(state), "t": state.t}

    start = dadao_init(x0) if init is None else init
    state, traces = jax.lax.scan(body, start, jnp.arange(events))
    exhausted = state.grads + state.comms == events
    state = flow(state, c, jnp.where(exhausted, 0.0, horizon - state.t))
    status = jnp.where(exhausted, Status.BUDGET, Status.OK).astype(jnp.int8)
    return state, traces, status


class DadaoConfig(eqx.Module):
    """DADAO on heterogeneous quadratics (`random_quadratic`) over a named graph.

    Args:
        graph: a `named_graph` name (ring, star, complete, exponential, torus, hypercube);
            DADAO samples its edges uniformly (no mixing weights).
        n_nodes: number of nodes.
        dim: dimension d.
        mu, smoothness: curvature range of the f_i (a_ik ~ U[mu, smoothness]); DADAO is
            given exactly these mu and L.
        events: event budget per run.
        problem_seed: seed of the quadratic.
        tolerance: the relative error (1/n) sum_i ||x_i - x*||^2 / ||x*||^2 at which
            `dadao_simulate` reads off the time and the event counts to tolerance.
    """

    graph: str = eqx.field(static=True, default="ring")
    n_nodes: int = eqx.field(static=True, default=8)
    dim: int = eqx.field(static=True, default=3)
    mu: float = eqx.field(static=True, default=1.0)
    smoothness: float = eqx.field(static=True, default=4.0)
    events: int = eqx.field(static=True, default=4000)
    problem_seed: int = eqx.field(static=True, default=0)
    tolerance: float = eqx.field(static=True, default=1e-3)

    def __check_init__(self) -> None:
        for name in ("n_nodes", "dim"):
            check_integer(name, getattr(self, name))
        check_integer("events", self.events, most=INT32_MAX)
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be in (0, 1), got {self.tolerance!r}")
        _graphs.named_graph(self.graph, self.n_nodes)

    def setup(self) -> tuple[Problem, np.ndarray]:
        """(the quadratic, the adjacency)."""
        adj = _graphs.named_graph(self.graph, self.n_nodes)
        problem = random_quadratic(
            self.problem_seed, self.n_nodes, self.dim, mu=self.mu, smoothness=self.smoothness
        )
        return problem, adj


@sweep.domain(horizon=sweep.POSITIVE, comm_scale=sweep.POSITIVE)
def dadao_simulate(
    params: Mapping[str, ArrayLike], key: Array, *, config: DadaoConfig
) -> dict[str, Array]:
    """One DADAO run to time `horizon` with lambda = comm_scale sqrt(2 chi_1 chi_2).

    Args:
        params: "horizon" T > 0 and "comm_scale" > 0; scalars, may be traced.
        key: PRNG key.
        config: the task.

    Returns:
        `error` = (1/n) sum_i ||x_i(T) - x*||^2 (from x_i(0) = 0), `grad_rate` and
        `comm_rate` (events per unit time), `invariant` = |alpha~ sum z + alpha sum z~|
        (0 from the zero start), `time_to_tol`, `grads_to_tol` and `comms_to_tol` (time and
        events up to the first event after which error / ||x*||^2 <= `config.tolerance`; NaN
        if not reached by T), and `status` (BUDGET if the event budget ran out).
    """
    problem, adj = config.setup()
    rates = graph_rates(adj)
    lam = params["comm_scale"] * rates.comm_rate
    x0 = jnp.zeros((config.n_nodes, config.dim))
    start = jnp.sum(problem.optimum**2)

    def record(s: DadaoState) -> dict[str, Array]:
        error = jnp.mean(jnp.sum((s.x - problem.optimum) ** 2, axis=1))
        return {"reached": error <= config.tolerance * start, "grads": s.grads, "comms": s.comms}

    state, traces, status = dadao(
        problem,
        adj,
        x0,
        key,
        mu=config.mu,
        smoothness=config.smoothness,
        horizon=params["horizon"],
        events=config.events,
        comm_rate=lam,
        metrics=record,
    )
    first = jnp.argmax(traces["reached"])
    hit = traces["reached"][first]

    def at_first(v: Array) -> Array:
        return jnp.where(hit, v[first].astype(traces["t"].dtype), jnp.nan)

    c = dadao_constants(rates, config.n_nodes, config.mu, config.smoothness, lam)
    return {
        "time_to_tol": at_first(traces["t"]),
        "grads_to_tol": at_first(traces["grads"]),
        "comms_to_tol": at_first(traces["comms"]),
        "error": jnp.mean(jnp.sum((state.x - problem.optimum) ** 2, axis=1)),
        "grad_rate": state.grads / params["horizon"],
        "comm_rate": state.comms / params["horizon"],
        "invariant": jnp.max(jnp.abs(invariant(state, c))),
        "status": status,
    }


def dadao_theory(params: Mapping[str, ArrayLike], *, config: DadaoConfig) -> dict[str, Array]:
    """The event rates: `grad_rate` = n and `comm_rate` = comm_scale sqrt(2 chi_1 chi_2)."""
    _, adj = config.setup()
    return {
        "grad_rate": jnp.asarray(float(config.n_nodes)),
        "comm_rate": params["comm_scale"] * graph_rates(adj).comm_rate,
        "invariant": jnp.asarray(0.0),
    }
