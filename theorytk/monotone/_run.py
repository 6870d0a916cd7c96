"""Running a method: to a tolerance or an oracle budget (a `sweep.Loop`), or for a fixed length.

`solve_loop` builds the `sweep.Loop` (refilled lanes in `sweep.run`), `solve` runs one point,
`trace` runs a fixed number of updates with `lax.scan` and records the residual and the oracle
count for convergence plots. Monitoring (the residual used by the stopping rule and the trace)
is not counted as oracle calls, as in the authors' code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .. import sweep
from .._validation import check_integer, check_scalar
from ._methods import COUNT_LIMIT, Method
from ._problems import AffineProblem

DIVERGENCE_FACTOR = 1e6

ProblemFactory = Callable[[Mapping[str, Any], Array], AffineProblem]
MethodFactory = Callable[[Mapping[str, Any]], Method]


class RunData(NamedTuple):
    """What the steps of a run read: the problem, the key, the target, the budget, r_0.

    `valid` is False for a point whose traced parameters lie outside the model's domain: it
    stops at once and reports NaN metrics with status INVALID.
    """

    problem: AffineProblem
    key: Array
    eps: Array
    budget: Array
    initial: Array
    valid: Array


def start_point(problem: AffineProblem) -> Float[Array, " d"]:
    """The default z_0 = P_C(0): the origin, or the uniform strategies of a game."""
    return problem.project(jnp.zeros(problem.dim, problem.matrix.dtype))


def step_budget(method: Method, n: int, max_epochs: float) -> int:
    """Updates enough to spend `max_epochs * n` oracle calls at the method's cheapest update."""
    return int(max_epochs * n // max(method.min_cost(n), 1)) + 2


def check_budget(method: Method, n: int, max_epochs: float) -> None:
    """ValueError unless a run's counts fit their int32 counters.

    A run stops at the first check after max_epochs * n calls, so its count can reach
    max_epochs * n + (the dearest update) + (the calls of `init`), at most
    max_epochs * n + 2 max_cost(n).
    """
    overshoot = 2 * method.max_cost(n)
    if max_epochs * n + overshoot > COUNT_LIMIT:
        largest = (COUNT_LIMIT - overshoot) / n
        raise ValueError(
            f"max_epochs must be <= {largest:.4g} for n = {n} (oracle calls are counted in "
            f"int32, at most {COUNT_LIMIT}), got {max_epochs!r}"
        )


def check_start(problem: AffineProblem, z0: Array | None) -> None:
    """ValueError unless z0 is None or a real array of shape (problem.dim,)."""
    if z0 is None:
        return
    shape = getattr(z0, "shape", None)
    if shape != (problem.dim,):
        raise ValueError(f"z0 must have shape ({problem.dim},) (the problem's dim), got {shape}")


def solve_loop(
    make_problem: ProblemFactory,
    make_method: MethodFactory,
    *,
    n: int,
    eps: float,
    max_epochs: float,
    segment: int = 256,
) -> sweep.Loop:
    """The `sweep.Loop` running a method until residual <= eps or max_epochs * n oracle calls.

    `init(params, key)` builds `make_problem(params, key)` (key folded with 0) and
    `make_method(params)`; update t draws `fold_in(key, t + 1)`. Stops at convergence, at the
    budget, or at divergence (residual non-finite or > 1e6 max(r_0, 1)). `finish` returns
    `epochs` (oracle calls / n), `residual`, `converged` (1.0 / 0.0), the problem's other
    metrics (`gap` for games) and `status` (OK, BUDGET, DIVERGED).

    Args:
        make_problem: `(params, key) -> problem` with `problem.size == n` (its `problem.n`
            components, n or fewer when padded, set the oracle budget).
        make_method: `params -> Method`.
        n: the number of components stored (static: sets the step budget).
        eps: the residual tolerance, > 0.
        max_epochs: the oracle budget in epochs (units of n calls), > 0.
        segment: steps per scan segment (a cost knob).
    """
    check_integer("n", n)
    check_scalar("eps", eps, "> 0", lambda e: e > 0)
    check_scalar("max_epochs", max_epochs, "> 0", lambda e: e > 0)
    check_budget(make_method({}), n, max_epochs)
    budget = step_budget(make_method({}), n, max_epochs)

    def init(params: Mapping[str, Any], key: Array) -> tuple[RunData, Any]:
        problem = make_problem(params, jax.random.fold_in(key, 0))
        z0 = start_point(problem)
        state = make_method(params).init(problem, z0)
        budget = jnp.asarray(max_epochs * problem.n)
        data = RunData(
            problem, key, jnp.asarray(eps), budget, problem.residual(z0), jnp.asarray(True)
        )
        return data, state

    def step(data: RunData, state: Any, t: Array) -> Any:
        key = jax.random.fold_in(data.key, t + 1)
        return make_method({}).update(data.problem, state, key)

    def stopped(data: RunData, state: Any) -> Array:
        residual = data.problem.residual(state.z)
        budget = state.oracle >= data.budget
        return (residual <= data.eps) | budget | _diverged(data, residual) | ~data.valid

    def finish(data: RunData, result: sweep.LoopResult) -> dict[str, Array]:
        return run_metrics(data, result.state)

    return sweep.Loop(init, step, stopped, finish, budget=budget, segment=segment)


def _diverged(data: RunData, residual: Array) -> Array:
    limit = DIVERGENCE_FACTOR * jnp.maximum(data.initial, 1.0)
    return ~jnp.isfinite(residual) | (residual > limit)


def run_metrics(data: RunData, state: Any) -> dict[str, Array]:
    """epochs, residual, converged, the problem's metrics and the status of a final state."""
    metrics = data.problem.metrics(state.z)
    residual = metrics["residual"]
    converged = residual <= data.eps
    status = jnp.where(
        _diverged(data, residual),
        sweep.Status.DIVERGED,
        jnp.where(converged, sweep.Status.OK, sweep.Status.BUDGET),
    )
    safe = {k: jnp.where(jnp.isfinite(v), v, jnp.inf) for k, v in metrics.items()}
    out = {
        **safe,
        "epochs": state.oracle.astype(residual.dtype) / data.problem.n,
        "converged": converged.astype(residual.dtype),
    }
    out = {k: jnp.where(data.valid, v, jnp.nan) for k, v in out.items()}
    out["status"] = jnp.where(data.valid, status, sweep.Status.INVALID).astype(jnp.int8)
    return out


class Solution(NamedTuple):
    """The end of a run: the point, its metrics (epochs, residual, ..., status), the state."""

    z: Array
    metrics: dict[str, Array]
    state: Any


def solve(
    problem: AffineProblem,
    method: Method,
    key: Array,
    *,
    eps: float,
    max_epochs: float,
    z0: Array | None = None,
) -> Solution:
    """Run `method` on `problem` until residual <= eps or max_epochs * n oracle calls.

    Divergence stops the run with status DIVERGED (never an exception).

    Args:
        problem: the finite-sum problem.
        method: a `Method`.
        key: PRNG key for the method's sampling.
        eps: residual tolerance, > 0.
        max_epochs: oracle budget in epochs, > 0.
        z0: start point (default `start_point(problem)`), shape (problem.dim,).
    """
    check_scalar("eps", eps, "> 0", lambda e: e > 0)
    check_scalar("max_epochs", max_epochs, "> 0", lambda e: e > 0)
    check_budget(method, problem.size, max_epochs)
    check_start(problem, z0)
    return _solve(problem, method, key, eps, max_epochs, z0)


@eqx.filter_jit
def _solve(
    problem: AffineProblem,
    method: Method,
    key: Array,
    eps: float,
    max_epochs: float,
    z0: Array | None,
) -> Solution:
    """`solve` compiled (one compilation per method, shape, eps and budget)."""
    loop = solve_loop(
        lambda params, key: problem,
        lambda params: method,
        n=problem.size,
        eps=eps,
        max_epochs=max_epochs,
    )
    data, state = loop.init({}, key)
    if z0 is not None:
        state = method.init(problem, z0)
        data = data._replace(initial=problem.residual(z0))
    result = sweep.run_until_stopped(
        lambda s, t: loop.step(data, s, t),
        lambda s: loop.stopped(data, s),
        state,
        budget=loop.budget,
        segment=loop.segment,
    )
    return Solution(result.state.z, loop.finish(data, result), result.state)


class Trace(NamedTuple):
    """A fixed-length run: residual and oracle calls (in epochs) every `record_every` updates.

    Entry 0 is the start point; entry j follows j * record_every updates.
    """

    residual: Float[Array, " T"]
    epochs: Float[Array, " T"]
    state: Any


def trace(
    problem: AffineProblem,
    method: Method,
    key: Array,
    *,
    updates: int,
    record_every: int = 1,
    z0: Array | None = None,
) -> Trace:
    """Run `updates` updates of `method` with `lax.scan`, recording residual and epochs.

    Args:
        problem: the finite-sum problem.
        method: a `Method`.
        key: PRNG key (update t draws `fold_in(key, t + 1)`, as in `solve`).
        updates: number of updates, a multiple of `record_every` (static).
        record_every: updates between records (static).
        z0: start point (default `start_point(problem)`), shape (problem.dim,).
    """
    check_integer("record_every", record_every)
    check_integer("updates", updates, least=0)
    if updates % record_every:
        raise ValueError(f"updates ({updates}) must be a multiple of record_every ({record_every})")
    most = method.max_cost(problem.size)
    largest = (COUNT_LIMIT - most) // max(most, 1)
    if updates > largest:
        raise ValueError(
            f"updates must be <= {largest} for this method at n = {problem.size} (oracle calls "
            f"are counted in int32, at most {COUNT_LIMIT}), got {updates}"
        )
    check_start(problem, z0)
    return _trace(problem, method, key, updates, record_every, z0)


@eqx.filter_jit
def _trace(
    problem: AffineProblem,
    method: Method,
    key: Array,
    updates: int,
    record_every: int,
    z0: Array | None,
) -> Trace:
    """`trace` compiled (one compilation per method, shape and length)."""
    state = method.init(problem, start_point(problem) if z0 is None else z0)

    def one(carry: tuple[Any, Array], _: None) -> tuple[tuple[Any, Array], None]:
        s, t = carry
        return (method.update(problem, s, jax.random.fold_in(key, t + 1)), t + 1), None

    def record(carry: tuple[Any, Array], _: None) -> tuple[tuple[Any, Array], tuple[Array, Array]]:
        carry = jax.lax.scan(one, carry, None, length=record_every)[0]
        s = carry[0]
        return carry, (problem.residual(s.z), s.oracle / problem.n)

    first = (problem.residual(state.z), state.oracle / problem.n)
    carry, (res, epochs) = jax.lax.scan(
        record, (state, jnp.zeros((), jnp.int32)), None, length=updates // record_every
    )
    residual = jnp.concatenate([first[0][None], res])
    return Trace(residual, jnp.concatenate([jnp.asarray(first[1])[None], epochs]), carry[0])
