"""Sweepable simulations (and the quadratic theory) in the model pattern of theorytk.

`quadratic_simulate(params, key, *, config)` runs D-SGD or gradient tracking on heterogeneous
quadratics over one of a family of topologies picked by its spectral gap; `quadratic_theory`
gives the exact linear-system prediction (stability and the D-SGD fixed point);
`digits_simulate` runs DFedSAM-MGS on the Dirichlet non-IID digits with or without the
variance correction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike

from .. import sweep
from .._validation import INT32_MAX, check_integer, check_scalar
from ..sweep import Status
from . import _graphs
from ._algorithms import dfedsam, dsgd, gradient_tracking, run
from ._mixing import as_stack, consensus_error, lazy, metropolis_hastings, spectral_gap
from ._problems import Problem, digits_classification, random_quadratic
from ._variance import AUTHORS_EPS, tensor_variance

METHODS = ("dsgd", "gt")
DIVERGED_FACTOR = 1e8
"""A run whose final error exceeds this many times its initial error is DIVERGED."""


def named_mixing(name: str, n: int) -> np.ndarray:
    """Metropolis-Hastings W of a named topology on n nodes; prefix "lazy_" for (I + W)/2.

    Names: ring, star, complete, exponential, torus (n a square), hypercube (n a power of 2).
    """
    w = metropolis_hastings(_graphs.named_graph(name.removeprefix("lazy_"), n))
    return lazy(w) if name.startswith("lazy_") else w


def topology_family(names: tuple[str, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(spectral gaps, mixing stack (k, n, n)) of named topologies; the gaps must differ."""
    stack = np.stack([named_mixing(name, n) for name in names])
    gaps = np.array([spectral_gap(w) for w in stack])
    if np.unique(np.round(gaps, 9)).size != gaps.size:
        raise ValueError(f"topologies {names} have repeated spectral gaps {np.round(gaps, 4)}")
    return gaps, stack


class QuadraticConfig(eqx.Module):
    """D-SGD or gradient tracking on heterogeneous quadratics over a family of topologies.

    f_i(x) = (1/2) sum_k a_ik (x_k - c_ik)^2 with a_ik ~ U[mu, smoothness], c_ik ~ N(0, 1)
    drawn once from `problem_seed` (see `random_quadratic`); x_i(0) = 0 at every node.

    Args:
        method: "dsgd" (ATC) or "gt" (DIGing).
        n_nodes: number of nodes.
        dim: dimension d.
        steps: number of iterations.
        topologies: names of `named_mixing`; the swept "spectral_gap" picks the nearest one.
        mu, smoothness: curvature range.
        noise: gradient-noise standard deviation (0: deterministic gradients).
        problem_seed: seed of the quadratic.
        tolerance: `quadratic_rounds` stops once (1/n) sum_i ||x_i - x*||^2 falls to
            `tolerance` times its initial value ||x*||^2 (`steps` is then the budget).
    """

    method: str = eqx.field(static=True, default="dsgd")
    n_nodes: int = eqx.field(static=True, default=16)
    dim: int = eqx.field(static=True, default=4)
    steps: int = eqx.field(static=True, default=1000)
    topologies: tuple[str, ...] = eqx.field(
        static=True, default=("ring", "star", "torus", "exponential", "complete")
    )
    mu: float = eqx.field(static=True, default=1.0)
    smoothness: float = eqx.field(static=True, default=4.0)
    noise: float = eqx.field(static=True, default=0.0)
    problem_seed: int = eqx.field(static=True, default=0)
    tolerance: float = eqx.field(static=True, default=1e-6)

    def __check_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        for name in ("n_nodes", "dim"):
            check_integer(name, getattr(self, name))
        check_integer("steps", self.steps, most=INT32_MAX)
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be in (0, 1), got {self.tolerance!r}")
        self.family()

    def problem(self) -> Problem:
        """The quadratic."""
        return random_quadratic(
            self.problem_seed,
            self.n_nodes,
            self.dim,
            mu=self.mu,
            smoothness=self.smoothness,
            noise=self.noise,
        )

    def family(self) -> tuple[np.ndarray, np.ndarray]:
        """(gaps, mixing stack) of the configured topologies."""
        return topology_family(self.topologies, self.n_nodes)


def _pick(
    config: QuadraticConfig, params: Mapping[str, ArrayLike], dtype
) -> tuple[Array, Array, Array]:
    """(lr, the (1, n, n) mixing stack of the topology whose gap is nearest params['gap'],
    that topology's number of edges)."""
    check_scalar("params['lr']", params["lr"], "> 0", lambda v: v > 0)
    check_scalar("params['gap']", params["spectral_gap"], "in (0, 1]", lambda v: 0 < v <= 1)
    gaps, stack = config.family()
    index = jnp.argmin(jnp.abs(jnp.asarray(gaps) - params["spectral_gap"]))
    edges = jnp.asarray([np.count_nonzero(np.triu(w, 1)) for w in stack])[index]
    return jnp.asarray(params["lr"], dtype), jnp.asarray(stack, dtype)[index][None], edges


def _quadratic_method(config: QuadraticConfig, problem: Problem, lr: Array, w: Array):
    """D-SGD (ATC, SGD local rule) or gradient tracking with step lr on the stack w."""
    stochastic = config.noise > 0
    if config.method == "dsgd":
        return dsgd(problem, w, optax.sgd(lr), stochastic=stochastic)
    return gradient_tracking(problem, w, lr, stochastic=stochastic)


@sweep.domain(
    lr=sweep.POSITIVE, spectral_gap=sweep.Constraint("in (0, 1]", lambda v: (v > 0) & (v <= 1))
)
def quadratic_simulate(
    params: Mapping[str, ArrayLike], key: Array, *, config: QuadraticConfig
) -> dict[str, Array]:
    """Final optimality gap F(xbar_T) - F* and consensus error of D-SGD or GT on quadratics.

    Args:
        params: "lr" (step > 0) and "spectral_gap" (of the topology, matched to the
            nearest of `config.topologies`); scalars, may be traced.
        key: PRNG key (used only when config.noise > 0).
        config: the task.

    Returns:
        `gap` = F(xbar_T) - F*, `consensus` = (1/n) sum_i ||x_i - xbar||^2, `distance` =
        ||xbar_T - x*||, and `status` (DIVERGED when the error grew by `DIVERGED_FACTOR`
        or became non-finite).
    """
    dtype = jnp.result_type(float)
    lr, w, _ = _pick(config, params, dtype)
    problem = config.problem()
    method = _quadratic_method(config, problem, lr, w)
    x0 = jnp.zeros((config.n_nodes, config.dim), dtype)
    state, _ = run(method, x0, key, steps=config.steps, metrics=lambda s: {})
    xbar = state.x.mean(0)
    gap = problem.objective(xbar) - problem.optimal_value
    start = problem.objective(x0[0]) - problem.optimal_value
    consensus = consensus_error(state.x)
    bad = ~jnp.isfinite(gap + consensus) | (gap + consensus > DIVERGED_FACTOR * start)
    return {
        "gap": gap,
        "consensus": consensus,
        "distance": jnp.linalg.norm(xbar - problem.optimum),
        "status": jnp.where(bad, Status.DIVERGED, Status.OK).astype(jnp.int8),
    }


class _Task(NamedTuple):
    """What the steps of `quadratic_loop` read: step, mixing stack, edges, key, start distance."""

    lr: Array
    w: Array
    edges: Array
    key: Array
    start: Array


def _distance(problem: Problem, x: Array) -> Array:
    """(1/n) sum_i ||x_i - x*||^2."""
    return jnp.mean(jnp.sum((x - problem.optimum) ** 2, axis=1))


def quadratic_loop(config: QuadraticConfig) -> sweep.Loop:
    """`quadratic_rounds` as a `sweep.Loop`: one step is one round of D-SGD or GT."""
    problem = config.problem()
    dtype = jnp.result_type(float)

    def init(params: Mapping[str, ArrayLike], key: Array) -> tuple[_Task, Any]:
        lr, w, edges = _pick(config, params, dtype)
        x0 = jnp.zeros((config.n_nodes, config.dim), dtype)
        task = _Task(lr, w, edges, key, _distance(problem, x0))
        return task, _quadratic_method(config, problem, lr, w).init(x0)

    def step(task: _Task, state: Any, n: Array) -> Any:
        method = _quadratic_method(config, problem, task.lr, task.w)
        return method.step(state, n, jax.random.fold_in(task.key, n))

    def diverged(task: _Task, state: Any) -> Array:
        dist = _distance(problem, state.x)
        return ~jnp.isfinite(dist) | (dist > DIVERGED_FACTOR * task.start)

    def stopped(task: _Task, state: Any) -> Array:
        reached = _distance(problem, state.x) <= config.tolerance * task.start
        return reached | diverged(task, state)

    def finish(task: _Task, result: sweep.LoopResult) -> dict[str, Array]:
        bad = diverged(task, result.state)
        rounds = result.steps.astype(dtype)
        per_round = 1 if config.method == "dsgd" else 2
        status = jnp.where(bad, Status.DIVERGED, result.status).astype(jnp.int8)
        return {
            "rounds": rounds,
            "gradients": rounds * config.n_nodes,
            "messages": rounds * per_round * task.edges,
            "distance": _distance(problem, result.state.x) / task.start,
            "status": status,
        }

    return sweep.Loop(init, step, stopped, finish, budget=config.steps, segment=64)


@sweep.domain(
    lr=sweep.POSITIVE, spectral_gap=sweep.Constraint("in (0, 1]", lambda v: (v > 0) & (v <= 1))
)
@sweep.refillable(quadratic_loop)
def quadratic_rounds(
    params: Mapping[str, ArrayLike], key: Array, *, config: QuadraticConfig
) -> dict[str, Array]:
    """Rounds of D-SGD or GT until (1/n) sum_i ||x_i - x*||^2 <= tolerance ||x*||^2.

    A `sweep.Loop` (`quadratic_loop`): `sweep.run` runs its points in refilled lanes, so a
    grid of runs to a tolerance costs the sum of their lengths, not the budget per point.
    Communication is counted in vectors sent across an edge (both directions together): a
    D-SGD round sends x over every edge (|E| messages), a GT round x and y (2 |E|).

    Args:
        params: "lr" (> 0) and "spectral_gap" (nearest of `config.topologies`).
        key: PRNG key (used only when config.noise > 0).
        config: the task; `config.steps` is the round budget, `config.tolerance` the target.

    Returns:
        `rounds`, `gradients` (n per round), `messages`, `distance` (relative, at the end),
        and `status` (OK: reached, BUDGET: not within `config.steps`, DIVERGED).
    """
    return sweep.run_loop(quadratic_loop(config), params, key)


def quadratic_theory(
    params: Mapping[str, ArrayLike], *, config: QuadraticConfig
) -> dict[str, Array]:
    """Exact linear-system prediction for the deterministic quadratic runs.

    Per coordinate k (the quadratics are separable) with D = diag(a_.k):
    D-SGD (ATC) is x+ = W (I - lr D) x + lr W D c, stable iff rho(W (I - lr D)) < 1, with fixed
    point (I - W + lr W D) x = lr W D c (an O(lr) bias away from x*); gradient tracking is
    `[x; y]+ = [[W, -lr I], [D (W - I), W - lr D]] [x; y]`, whose eigenvalue 1 (the conserved
    1^T y - 1^T D x) is excluded; it is stable iff the others lie inside the unit disc, and
    then converges to x* exactly.

    Returns:
        `spectral_radius` (of the iteration, the largest over coordinates), `gap` and
        `consensus` of the fixed point (NaN where unstable), `distance` = ||xbar - x*||.
    """
    dtype = jnp.result_type(float)
    lr, w, _ = _pick(config, params, dtype)
    w = w[0]
    problem = config.problem()
    a, c = problem.data["a"].astype(dtype), problem.data["c"].astype(dtype)
    n = config.n_nodes
    eye = jnp.eye(n, dtype=dtype)

    def radius(ak: Array) -> Array:
        if config.method == "dsgd":
            return jnp.max(jnp.abs(jnp.linalg.eigvals(w @ (eye - lr * jnp.diag(ak)))))
        d = jnp.diag(ak)
        m = jnp.block([[w, -lr * eye], [d @ (w - eye), w - lr * d]])
        eig = jnp.linalg.eigvals(m)
        unit = jnp.argmin(jnp.abs(eig - 1))
        return jnp.max(jnp.where(jnp.arange(2 * n) == unit, 0.0, jnp.abs(eig)))

    def fixed_point(ak: Array, ck: Array) -> Array:
        if config.method == "gt":
            return jnp.full(n, jnp.sum(ak * ck) / jnp.sum(ak))
        return jnp.linalg.solve(eye - w + lr * w @ jnp.diag(ak), lr * w @ (ak * ck))

    rho = jnp.max(jax.vmap(radius)(a.T))
    x = jax.vmap(fixed_point)(a.T, c.T).T
    xbar = x.mean(0)
    metrics = {
        "gap": problem.objective(xbar) - problem.optimal_value,
        "consensus": consensus_error(x),
        "distance": jnp.linalg.norm(xbar - problem.optimum),
    }
    stable = rho < 1
    return {
        "spectral_radius": rho,
        **{k: jnp.where(stable, v, jnp.nan) for k, v in metrics.items()},
    }


class DigitsConfig(eqx.Module):
    """DFedSAM-MGS on 10-class digits split non-IID over the nodes (see `digits_classification`).

    Args:
        n_nodes: number of nodes.
        betas: the Dirichlet concentrations a sweep may ask for (each partition is built).
        topology: a `named_mixing` name.
        model: "mlp" or "logistic".
        width: MLP hidden width.
        rounds: communication rounds T.
        local_steps: local SAM steps K per round.
        max_gossip_steps: the largest Q swept (the gossip loop length).
        lr: local SGD step.
        momentum: local SGD momentum (optax.sgd).
        radius: SAM radius r (0: DFedAvg).
        batch: minibatch size.
        eps: variance-correction regulariser (0 exact; the authors' 1e-4 is `AUTHORS_EPS`).
        same_init: all nodes start from one draw (else independent draws, the setting where
            plain averaging shrinks the variance).
        partition_seed: seed of the train/test split and the Dirichlet partition.
        topologies: `named_mixing` names a swept "spectral_gap" picks from (the nearest);
            empty: `topology` only.
    """

    n_nodes: int = eqx.field(static=True, default=16)
    betas: tuple[float, ...] = eqx.field(static=True, default=(0.1, 1.0, 10.0))
    topology: str = eqx.field(static=True, default="ring")
    model: str = eqx.field(static=True, default="mlp")
    width: int = eqx.field(static=True, default=32)
    rounds: int = eqx.field(static=True, default=40)
    local_steps: int = eqx.field(static=True, default=5)
    max_gossip_steps: int = eqx.field(static=True, default=8)
    lr: float = eqx.field(static=True, default=0.1)
    momentum: float = eqx.field(static=True, default=0.0)
    radius: float = eqx.field(static=True, default=0.05)
    batch: int = eqx.field(static=True, default=16)
    eps: float = eqx.field(static=True, default=AUTHORS_EPS)
    same_init: bool = eqx.field(static=True, default=False)
    partition_seed: int = eqx.field(static=True, default=0)
    topologies: tuple[str, ...] = eqx.field(static=True, default=())

    def __check_init__(self) -> None:
        for name in ("n_nodes", "width", "rounds", "local_steps", "max_gossip_steps", "batch"):
            check_integer(name, getattr(self, name))
        named_mixing(self.topology, self.n_nodes)
        if self.topologies:
            topology_family(self.topologies, self.n_nodes)
        if not self.betas or not all(np.isfinite(b) and b > 0 for b in self.betas):
            raise ValueError(f"betas must be a non-empty tuple of numbers > 0, got {self.betas}")
        if not (self.lr > 0 and self.radius >= 0 and self.eps >= 0 and 0 <= self.momentum < 1):
            raise ValueError("need lr > 0, radius >= 0, eps >= 0 and 0 <= momentum < 1")


def digits_problems(config: DigitsConfig) -> tuple[Problem, Any]:
    """The digits problem of each beta in `config.betas`, node data padded to one shape, stacked.

    Returns the first beta's `Problem` (its loss, model and test set are shared) and the
    node data of every beta stacked on a leading axis, so beta is a dynamic (vmappable) index.
    """
    problems = [
        digits_classification(
            config.n_nodes,
            beta,
            config.partition_seed,
            model=config.model,
            width=config.width,
            batch=config.batch,
        )
        for beta in config.betas
    ]
    m = max(p.data["x"].shape[1] for p in problems)

    def pad(a: Array) -> Array:
        if a.ndim < 2:
            return a
        widths = [(0, 0), (0, m - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        return jnp.pad(a, widths)

    stacked = jax.tree.map(lambda *a: jnp.stack(a), *[jax.tree.map(pad, p.data) for p in problems])
    return problems[0], stacked


def _digits_run(
    params: Mapping[str, ArrayLike],
    key: Array,
    config: DigitsConfig,
    metrics: Any,
) -> tuple[Problem, Any, Any, dict[str, Array]]:
    """(problem, x0, final state, traces of metrics(problem, state) per round) of one run."""
    beta, q, corrected = params["beta"], params["Q"], params["corrected"]
    check_scalar("params['beta']", beta, "> 0", lambda v: v > 0)
    check_scalar(
        "params['Q']",
        q,
        f"an integer in [1, {config.max_gossip_steps}]",
        lambda v: v == np.round(v) and 1 <= v <= config.max_gossip_steps,
    )
    check_scalar("params['corrected']", corrected, "0 or 1", lambda v: v in (0, 1))
    base, stacked = digits_problems(config)
    index = jnp.argmin(jnp.abs(jnp.log(jnp.asarray(config.betas)) - jnp.log(beta)))
    problem = eqx.tree_at(lambda p: p.data, base, jax.tree.map(lambda a: a[index], stacked))
    if "spectral_gap" in params:
        if not config.topologies:
            raise ValueError("params['spectral_gap'] needs config.topologies")
        gap = params["spectral_gap"]
        check_scalar("params['spectral_gap']", gap, "in (0, 1]", lambda v: 0 < v <= 1)
        gaps, family = topology_family(config.topologies, config.n_nodes)
        w = jnp.asarray(family)[jnp.argmin(jnp.abs(jnp.asarray(gaps) - gap))][None]
    else:
        w = as_stack(named_mixing(config.topology, config.n_nodes))
    optimizer = optax.sgd(config.lr, momentum=config.momentum or None)
    method = dfedsam(
        problem,
        w,
        optimizer,
        radius=config.radius,
        local_steps=config.local_steps,
        gossip_steps=q,
        max_gossip_steps=config.max_gossip_steps,
        correction=corrected,
        eps=config.eps,
    )
    k_init, k_run = jax.random.split(key)
    x0 = problem.init_nodes(k_init, same=config.same_init)
    state, traces = run(
        method, x0, k_run, steps=config.rounds, metrics=lambda s: metrics(problem, s)
    )
    return problem, x0, state, traces


_DIGITS_DOMAIN = sweep.domain(
    beta=sweep.POSITIVE,
    Q=sweep.POSITIVE_INTEGER,
    corrected=sweep.Constraint("0 or 1", lambda v: (v == 0) | (v == 1)),
    spectral_gap=sweep.Constraint("in (0, 1]", lambda v: (v > 0) & (v <= 1)),
)


@_DIGITS_DOMAIN
def digits_simulate(
    params: Mapping[str, ArrayLike], key: Array, *, config: DigitsConfig
) -> dict[str, Array]:
    """Test accuracy after T rounds of DFedSAM-MGS on Dirichlet(beta) non-IID digits.

    The partitions of all `config.betas` are built once and padded to one shape, so beta,
    Q, the correction and the topology are all dynamic: one compilation serves the grid.

    Args:
        params: "beta" (Dirichlet concentration; the nearest of `config.betas` is used),
            "Q" (gossip steps per round, integer in [1, max_gossip_steps]), "corrected" (0 plain
            averaging, 1 variance corrected), optionally "spectral_gap" (the nearest of
            `config.topologies`; default `config.topology`); scalars, may be traced.
        key: PRNG key (initialisation and minibatches).
        config: the task.

    Returns:
        `accuracy` and `test_loss` (of the network-average model), `node_accuracy` and
        `node_test_loss` (means over nodes of each node's own model), `consensus`
        = (1/n) sum_i ||x_i - xbar||^2, `weight_variance` (mean over nodes and weight
        matrices of the per-tensor variance, relative to the initial one), and `status`.
    """
    problem, x0, state, _ = _digits_run(params, key, config, lambda p, s: {})
    xbar = jax.tree.map(lambda a: a.mean(0), state.x)
    metrics = {
        "accuracy": problem.accuracy(xbar),
        "test_loss": problem.test_loss(xbar),
        "node_accuracy": jax.vmap(problem.accuracy)(state.x).mean(),
        "node_test_loss": jax.vmap(problem.test_loss)(state.x).mean(),
        "consensus": consensus_error(state.x),
        "weight_variance": _mean_variance(state.x) / _mean_variance(x0),
    }
    finite = jnp.all(jnp.array([jnp.isfinite(v) for v in metrics.values()]))
    return {**metrics, "status": jnp.where(finite, Status.OK, Status.DIVERGED).astype(jnp.int8)}


def digits_curves(
    params: Mapping[str, ArrayLike], key: Array, *, config: DigitsConfig
) -> dict[str, Array]:
    """Per-round traces of one DFedSAM-MGS run (params and config as in `digits_simulate`).

    Returns arrays of length `config.rounds` (entry t after round t + 1): `node_accuracy`,
    `node_test_loss` (means over the nodes' own models) and `weight_variance` (relative to
    the initial one). Not a sweep model (its metrics are not scalars): vmap it over keys.
    """

    def per_round(problem: Problem, state: Any) -> dict[str, Array]:
        return {
            "node_accuracy": jax.vmap(problem.accuracy)(state.x).mean(),
            "node_test_loss": jax.vmap(problem.test_loss)(state.x).mean(),
            "weight_variance": _mean_variance(state.x),
        }

    _, x0, _, traces = _digits_run(params, key, config, per_round)
    return {**traces, "weight_variance": traces["weight_variance"] / _mean_variance(x0)}


def _mean_variance(tree: object) -> Array:
    """Mean over nodes and over the weight matrices (ndim >= 2 per node) of their variance."""
    leaves = [a for a in jax.tree.leaves(tree) if a.ndim >= 3]
    return jnp.mean(jnp.stack([tensor_variance(a).mean() for a in leaves]))
