"""Objectives, and many optimistix solves of one objective in a single vmapped call.

Each start is an independent `optx.minimise` (or `optx.least_squares`) with `throw=False`, so a
start that fails reports its `optx.RESULTS` code as data; `jax.vmap` runs all starts as one
compiled solve. The best start is the converged one of least objective.

A vmapped while loop steps every lane until the slowest start stops, so with many starts of
very different lengths most of the arithmetic is spent on finished lanes. `solve_starts` with a
`pool_size` instead keeps a pool of lanes busy: the minimiser's own `init` / `step` /
`terminate` (the loop of `optimistix.minimise`) run as a `sweep.Loop` in the sweep engine's
refilled lanes, and a lane whose start has stopped is refilled with the next start, so the
work is the sum of the starts' step counts rather than their number times the longest.
Every start follows the same iterations as in `optx.minimise`, so the results do not depend
on the pool size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Bool, Float, PyTree

from ..sweep._lanes import run_in_lanes
from ..sweep._loop import Loop, LoopResult

HUBER_DELTA = 1e-3
OBJECTIVES = ("huber_log", "least_squares_log", "least_squares")
SOLVERS = ("bfgs", "lbfgs", "levenberg_marquardt")
# Solver tolerance (rtol = atol) on parameter and objective changes, by float size: 1e-8 in
# float64 (parameters to ~1e-8, well inside the 1e-6 agreement with scipy), 1e-5 in float32.
TOLERANCE = {8: 1e-8, 4: 1e-5}
# Lanes of the refilled pool (`solve_starts`): on the 4,500-start benchmark the pool of 512
# took the least CPU time of 128, 256 and 512 in each of three runs at load 1-11, and the
# least wall time in the two runs below load 6 (`python benchmarks/scaling_fit.py`,
# docs/scaling.md).
POOL_SIZE = 512
# Steps between refills of the pool: a stopped lane idles at most this many steps.
SEGMENT = 4


def huber(r: Float[Array, " m"], delta: float) -> Float[Array, " m"]:
    """Huber loss r^2 / 2 for |r| <= delta, delta (|r| - delta / 2) beyond (Huber, 1964)."""
    a = jnp.abs(r)
    return jnp.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def make_solver(name: str, dtype: Any) -> optx.AbstractMinimiser | optx.AbstractLeastSquaresSolver:
    """The optimistix solver called `name` (one of SOLVERS), at the tolerance for `dtype`."""
    tol = TOLERANCE.get(jnp.dtype(dtype).itemsize, 1e-3)
    if name == "bfgs":
        return optx.BFGS(rtol=tol, atol=tol)
    if name == "lbfgs":
        return optx.LBFGS(rtol=tol, atol=tol)
    return optx.LevenbergMarquardt(rtol=tol, atol=tol)


def check_objective_and_solver(objective: str, solver: str) -> None:
    """ValueError for an unknown objective or solver, or LM on the (non-quadratic) Huber loss."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "levenberg_marquardt" and objective == "huber_log":
        raise ValueError(
            "solver 'levenberg_marquardt' needs a sum-of-squares objective "
            "('least_squares' or 'least_squares_log'), got objective 'huber_log'"
        )


class Problem(eqx.Module):
    """One fitting problem: a law, its residuals at the data, and the objective.

    Residuals are r_i = log f(theta, x_i) - log y_i for the "_log" objectives and
    r_i = f(theta, x_i) - y_i for "least_squares"; `law_is_log` says that `law` returns
    log f (a log-sum-exp form keeps log f accurate where f itself would be rounded).
    objective(theta) = sum_i w_i rho(r_i) / sum_i w_i with rho the Huber loss divided by delta
    ("huber_log"; the rescaling does not move the minimum) or r^2 / 2. The weights w are
    counts: a bootstrap resample is a multinomial weight vector.
    """

    law: Callable[[PyTree, Any], Array] = eqx.field(static=True)
    law_is_log: bool = eqx.field(static=True)
    objective: str = eqx.field(static=True)

    def residuals(self, theta: PyTree, data: tuple[Array, Array]) -> Float[Array, " m"]:
        x, y = data
        out = self.law(theta, x)
        if self.objective == "least_squares":
            return (jnp.exp(out) if self.law_is_log else out) - y
        return (out if self.law_is_log else jnp.log(out)) - jnp.log(y)

    def value(self, theta: PyTree, args: tuple[Any, Float[Array, " m"]]) -> Float[Array, ""]:
        data, w = args
        r = self.residuals(theta, data)
        if self.objective == "huber_log":
            rho = huber(r, HUBER_DELTA) / HUBER_DELTA
        else:
            rho = 0.5 * r * r
        return jnp.sum(w * rho) / jnp.sum(w)

    def weighted_residuals(
        self, theta: PyTree, args: tuple[Any, Float[Array, " m"]]
    ) -> Float[Array, " m"]:
        data, w = args
        return jnp.sqrt(w / jnp.sum(w)) * self.residuals(theta, data)


class Solves(eqx.Module):
    """Results of a batch of solves: parameters, objective values and optimistix codes."""

    theta: PyTree
    value: Float[Array, " k"]
    result: optx.RESULTS
    steps: Float[Array, " k"]

    @property
    def converged(self) -> Bool[Array, " k"]:
        """Solves that ended with `optx.RESULTS.successful` at a finite objective."""
        return (self.result == optx.RESULTS.successful) & jnp.isfinite(self.value)


def solve_one(
    problem: Problem, solver: str, theta0: PyTree, args: Any, max_steps: int
) -> tuple[PyTree, Float[Array, ""], optx.RESULTS, Array]:
    """One optimistix solve from theta0, failure reported as data (`throw=False`)."""
    dtype = jax.tree.leaves(theta0)[0].dtype
    solve, fn = (
        (optx.least_squares, problem.weighted_residuals)
        if solver == "levenberg_marquardt"
        else (optx.minimise, problem.value)
    )
    sol = solve(fn, make_solver(solver, dtype), theta0, args, max_steps=max_steps, throw=False)
    value = problem.value(sol.value, args)
    return sol.value, value, sol.result, sol.stats["num_steps"]


def solve_starts(
    problem: Problem,
    solver: str,
    starts: PyTree,
    args: Any,
    max_steps: int,
    pool_size: int | None = None,
) -> Solves:
    """Solve from every start (leading axis of each leaf of `starts`), vmapped.

    With `pool_size` None (or at least the number of starts, or Levenberg-Marquardt) all
    starts run as one vmapped `optx.minimise`; otherwise through a refilled pool of
    `pool_size` lanes (`_pooled_minimise`), with the same iterates for every start up to
    floating-point rounding (a differently compiled program can round an Armijo or stopping
    test at a degenerate point the other way, as a loop of single solves also does).
    """
    k = jax.tree.leaves(starts)[0].shape[0]
    flat, vectors, unravel = _raveled(problem, starts)
    if pool_size is not None and pool_size < k and solver != "levenberg_marquardt":
        theta, result, steps = _pooled_minimise(flat, solver, vectors, args, max_steps, pool_size)
        value = jax.vmap(flat.value, in_axes=(0, None))(theta, args)
        return Solves(jax.vmap(unravel)(theta), value, result, steps)

    def one(theta0: Float[Array, " p"]) -> tuple:
        return solve_one(flat, solver, theta0, args, max_steps)

    theta, value, result, steps = jax.vmap(one)(vectors)
    return Solves(jax.vmap(unravel)(theta), value, result, steps)


def _raveled(problem: Problem, starts: PyTree) -> tuple[Problem, Array, Callable]:
    """(the problem on a flat parameter vector, the starts as rows, vector -> pytree).

    The solvers then hold one p-vector and a p x p inverse Hessian per start instead of a
    pytree of p scalars and p^2 scalar blocks: the same iterates, in a few dense operations.
    """
    _, unravel = ravel_pytree(jax.tree.map(lambda leaf: leaf[0], starts))
    vectors = jax.vmap(lambda theta: ravel_pytree(theta)[0])(starts)
    flat = Problem(
        law=lambda v, x: problem.law(unravel(v), x),
        law_is_log=problem.law_is_log,
        objective=problem.objective,
    )
    return flat, vectors, unravel


def _pooled_minimise(
    problem: Problem, solver_name: str, starts: PyTree, args: Any, max_steps: int, pool: int
) -> tuple[PyTree, optx.RESULTS, Array]:
    """(theta, result, steps) per start from a pool of `pool` lanes refilled as starts stop.

    Each start is a `sweep.Loop` running the loop of `optx.minimise` (optimistix
    `_iterate`): `init`, then `step` while not `terminate`, the result successful, the
    iterate finite and fewer than `max_steps` steps; a start that stops unterminated gets
    `nonlinear_max_steps_reached`. The sweep engine's refilled lanes run the starts: every
    `SEGMENT` steps a stopped lane's start is written out and the lane takes the next start.
    Unlike `optx.minimise` it has no implicit-differentiation adjoint: do not differentiate
    through it.
    """
    solver = make_solver(solver_name, jax.tree.leaves(starts)[0].dtype)

    def fn(theta: PyTree, fn_args: Any) -> tuple[Array, None]:
        return jnp.asarray(problem.value(theta, fn_args)), None

    first = jax.tree.map(lambda leaf: leaf[0], starts)
    f_struct = jax.eval_shape(lambda: fn(first, args)[0])
    init_state = solver.init(fn, first, args, {}, f_struct, None, frozenset())
    static_state = eqx.partition(init_state, eqx.is_array)[1]

    def checked(y: PyTree, state: Any) -> tuple[Array, optx.RESULTS]:
        terminate, result = solver.terminate(fn, y, args, {}, state, frozenset())
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(y)]))
        return terminate, optx.RESULTS.where(finite, result, optx.RESULTS.nonfinite)

    def init(theta0: PyTree) -> tuple[None, tuple]:
        state = solver.init(fn, theta0, args, {}, f_struct, None, frozenset())
        terminate, result = checked(theta0, state)
        return None, (theta0, eqx.partition(state, eqx.is_array)[0], terminate, result)

    def step(_: None, lane: tuple, n: Array) -> tuple:
        y, dynamic, _, _ = lane
        state = eqx.combine(dynamic, static_state)
        new_y, new_state, _ = solver.step(fn, y, args, {}, state, frozenset())
        terminate, result = checked(y, new_state)
        return new_y, eqx.partition(new_state, eqx.is_array)[0], terminate, result

    def stopped(_: None, lane: tuple) -> Bool[Array, ""]:
        _, _, terminate, result = lane
        return terminate | (result != optx.RESULTS.successful)

    def finish(_: None, end: LoopResult) -> dict[str, Any]:
        y, _, terminate, result = end.state
        stalled = (result == optx.RESULTS.successful) & ~terminate
        result = optx.RESULTS.where(stalled, optx.RESULTS.nonlinear_max_steps_reached, result)
        return {"theta": y, "result": result, "steps": end.steps}

    loop = Loop(init, step, stopped, finish, budget=max_steps, segment=SEGMENT)
    out = run_in_lanes(loop, (starts,), pool)
    return out["theta"], out["result"], out["steps"]


def solve_resamples(
    problem: Problem,
    solver: str,
    theta0: PyTree,
    data: Any,
    weights: Float[Array, "k m"],
    max_steps: int,
) -> Solves:
    """Solve once per weight vector (a bootstrap resample), every solve started at theta0."""

    def one(w: Float[Array, " m"]) -> tuple:
        return solve_one(problem, solver, theta0, (data, w), max_steps)

    theta, value, result, steps = jax.vmap(one)(weights)
    return Solves(theta, value, result, steps)


def best(solves: Solves) -> tuple[PyTree, Float[Array, ""], Array, Float[Array, ""]]:
    """(theta, value, index, converged fraction) of the converged solve of least objective.

    If no solve converged, the index is that of the least finite objective (its `result`
    says why it failed); the caller reports it as not converged.
    """
    ok = solves.converged
    finite = jnp.isfinite(solves.value)
    score = jnp.where(ok, solves.value, jnp.inf)
    fallback = jnp.where(finite, solves.value, jnp.inf)
    index = jnp.where(jnp.any(ok), jnp.argmin(score), jnp.argmin(fallback))
    theta = jax.tree.map(lambda leaf: leaf[index], solves.theta)
    return theta, solves.value[index], index, jnp.mean(ok.astype(solves.value.dtype))
