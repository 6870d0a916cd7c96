"""Simulations that iterate until a stopping rule: the one-point driver and the `Loop` model.

A model trained "until it fits its data or a step budget runs out" is written as a `Loop`
(init / step / stopped / finish). `run_loop` runs one point of it; `sweep.run` runs the
points of a grid in refilled lanes (`_lanes.py`), so that a batch is not held up by its
slowest point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from theorytk._validation import INT32_MAX, check_integer

from ._status import Status

State = TypeVar("State")
Data = Any
Carry = tuple[Any, Int[Array, ""], Bool[Array, ""]]  # (state, steps taken, stopped)
F = TypeVar("F", bound=Callable[..., Any])


class LoopResult(NamedTuple):
    """Where a loop ended.

    Attributes:
        state: the final state (frozen at the step where `stopped` first held).
        steps: `Int[Array, ""]` number of steps taken.
        stopped: `Bool[Array, ""]` whether the stopping rule held (False: budget exhausted).
    """

    state: Any
    steps: Int[Array, ""]
    stopped: Bool[Array, ""]

    @property
    def status(self) -> Int[Array, ""]:
        """`Status.OK` if the rule held, `Status.BUDGET` if the step budget ran out first."""
        return jnp.where(self.stopped, Status.OK, Status.BUDGET).astype(jnp.int8)


class Loop(NamedTuple):
    """A simulation written as a loop: what `sweep.run` needs to refill finished lanes.

    One point runs as `run_loop` does:

        data, state = init(params, key)
        n = 0
        while not stopped(data, state) and n < budget:
            state = step(data, state, n); n += 1
        return finish(data, LoopResult(state, n, stopped(data, state)))

    `data` holds what the steps read but never change (the training set, the
    hyperparameters), `state` what they change. A step must draw its randomness from `data`
    and the step index `n` (e.g. `fold_in(key, n)`), so a point's result does not depend on
    when, or next to which other points, it runs.

    Attributes:
        init: `init(params, key) -> (data, state)`.
        step: `step(data, state, n) -> state`, one update; `n` = steps taken so far.
        stopped: `stopped(data, state) -> bool scalar`, checked before every step.
        finish: `finish(data, result) -> dict of scalar metrics` (may include `status`).
        budget: the step budget, an integer in [0, 2**31 - 1] (steps are counted in int32).
        segment: steps per fixed-length scan segment, an integer >= 1 (a cost knob only: a
            batch checks whether it is done, and refills lanes, once per segment).
    """

    init: Callable[[Mapping[str, Any], Array], tuple[Data, Any]]
    step: Callable[[Data, Any, Int[Array, ""]], Any]
    stopped: Callable[[Data, Any], Bool[Array, ""]]
    finish: Callable[[Data, LoopResult], dict[str, Array]]
    budget: int
    segment: int = 256


def run_loop(loop: Loop, params: Mapping[str, Any], key: Array) -> dict[str, Array]:
    """The metrics of one point of `loop` (see `Loop`); vmap-friendly via `run_until_stopped`."""
    data, state = loop.init(params, key)
    step, stopped = partial(loop.step, data), partial(loop.stopped, data)
    result = run_until_stopped(step, stopped, state, budget=loop.budget, segment=loop.segment)
    return loop.finish(data, result)


def run_until_stopped(
    step: Callable[[State, Int[Array, ""]], State],
    stopped: Callable[[State], Bool[Array, ""]],
    state: State,
    *,
    budget: int,
    segment: int = 256,
) -> LoopResult:
    """Iterate `state <- step(state, n)`, n = 0, 1, ..., until `stopped(state)` or n = budget.

    Equivalent to

        n = 0
        while not stopped(state) and n < budget:
            state = step(state, n); n += 1

    but written for `jax.vmap`: a `lax.while_loop` over segments, each segment a
    fixed-length `lax.scan` of `segment` steps in which a stopped (or budget-exhausted)
    state is frozen (its step is computed and discarded with `jnp.where`). Under `vmap` the
    loop condition "this point is still running" becomes "some point of the batch is still
    running", so a vmapped batch runs in segments until its last point stops, never longer
    than one segment past it, and never `budget` steps when every point stops earlier
    (a plain `vmap` of a fixed-length scan would always run `budget` steps). A point's result
    does not depend on the points it is batched with, nor on `segment`, as long as `step`
    draws its randomness from the step index `n` (e.g. `fold_in(key, n)`).

    Args:
        step: `step(state, n) -> state`, one update; `n` is the number of steps taken so far.
        stopped: `stopped(state) -> bool scalar`, the stopping rule, checked before every step.
        state: the initial state, any pytree of arrays.
        budget: the step budget, an integer in [0, 2**31 - 1] (static; counted in int32).
        segment: steps per scan segment, an integer >= 1 (static); a cost knob only.

    Returns:
        `LoopResult(state, steps, stopped)`; `.status` is `Status.BUDGET` when the budget ran
        out before the rule held.
    """
    running, one_segment = segment_runner(step, stopped, budget, segment)
    start = (state, jnp.zeros((), jnp.int32), jnp.asarray(stopped(state), bool))
    return LoopResult(*jax.lax.while_loop(running, one_segment, start))


def segment_runner(
    step: Callable[[State, Int[Array, ""]], State],
    stopped: Callable[[State], Bool[Array, ""]],
    budget: int,
    segment: int,
) -> tuple[Callable[[Carry], Bool[Array, ""]], Callable[[Carry], Carry]]:
    """`(running, one_segment)` on a carry (state, steps taken, stopped) of one point.

    `one_segment` takes `segment` steps, each applied only while `running` (not stopped and
    steps < budget); a frozen state's step is computed and discarded. Leaves that `step`
    returns unchanged (the same array) are not copied. ValueError unless budget >= 0 and
    segment >= 1 are integers (a segment of 0 steps would never end) and the budget fits
    the int32 step counter (at most `INT32_MAX` steps, so the count never wraps around).
    """
    check_integer("budget", budget, least=0, most=INT32_MAX)
    check_integer("segment", segment)
    budget, segment = int(budget), int(segment)

    def running(carry: Carry) -> Bool[Array, ""]:
        _, n, done = carry
        return ~done & (n < budget)

    def one_step(carry: Carry, _: None) -> tuple[Carry, None]:
        current, n, done = carry
        active = running(carry)
        proposed = step(current, n)
        current = jax.tree.map(
            lambda new, old: old if new is old else jnp.where(active, new, old), proposed, current
        )
        n = n + active.astype(n.dtype)
        done = done | (active & stopped(current))
        return (current, n, done), None

    def one_segment(carry: Carry) -> Carry:
        return jax.lax.scan(one_step, carry, None, length=segment)[0]

    return running, one_segment


def refillable(make_loop: Callable[[Any], Loop]) -> Callable[[F], F]:
    """Mark `simulate(params, key, *, config)` as `run_loop(make_loop(config), params, key)`.

    `sweep.run` then runs the marked function's points in refilled lanes: a fixed number of
    lanes step together, and a lane whose point has stopped takes the next point of the chunk,
    so a batch is never held up by its slowest point. The marked function must compute exactly
    `run_loop(make_loop(config), params, key)` (its body is what a direct call runs; the lanes
    run `make_loop(config)`).
    """

    def mark(simulate: F) -> F:
        simulate.make_loop = make_loop  # type: ignore[attr-defined]
        return simulate

    return mark


def loop_factory(fn: Callable[..., Any]) -> Callable[[Any], Loop] | None:
    """The `make_loop` of a function marked `refillable`, else None."""
    return getattr(fn, "make_loop", None)


def reparametrise(
    fn: Callable[..., dict[str, Array]],
    transform: Callable[[Mapping[str, Any]], Mapping[str, Any]],
) -> Callable[..., dict[str, Array]]:
    """`fn(transform(params), key, *, config)`, swept over the grid axes `transform` reads.

    For sweeping a model over derived parameters (alpha T at alpha = 1, a step size set by
    P, ...). The result is `refillable` when `fn` is, with the same loop, so `sweep.run`
    still runs it in refilled lanes. It is named after `transform` in a sweep's attrs.

    Args:
        fn: `fn(params, key, *, config)`, e.g. a model's `simulate`.
        transform: `transform(grid_params) -> fn's params`.
    """

    def swept(params: Mapping[str, Any], key: Array, *, config: Any) -> dict[str, Array]:
        return fn(transform(params), key, config=config)

    swept.__module__, swept.__qualname__ = transform.__module__, transform.__qualname__
    swept.__name__, swept.__doc__ = transform.__name__, transform.__doc__
    make_loop = loop_factory(fn)
    if make_loop is None:
        return swept

    def loop_of(config: Any) -> Loop:
        loop = make_loop(config)
        return loop._replace(init=lambda params, key: loop.init(transform(params), key))

    return refillable(loop_of)(swept)
