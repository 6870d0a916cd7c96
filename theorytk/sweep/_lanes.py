"""Refilled lanes: the points of a `Loop`, a fixed number of them stepping at a time.

A vmapped batch of loops runs until its slowest point stops, which wastes most of the work
when run lengths differ by orders of magnitude (SGD until zero training loss across a
temperature grid). Here `lanes` points step together, one scan segment at a time; after
each segment a lane whose point has stopped hands its state back and takes the next point
that has not started. The work is then about the sum of the run lengths over `lanes`, not
the number of points times the longest run. Once every point has started, the last running
points move to an eighth of the lanes, so a few long runs at the end do not pay for all the
idle lanes beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from ._loop import Loop, LoopResult, segment_runner

SHRINK = 8  # lane count divisor once no point is left to start


class _Lanes(NamedTuple):
    states: Any  # every point's state: initial until it starts, final once it stopped
    steps: Int[Array, " points"]
    stopped: Bool[Array, " points"]
    lane: tuple[Any, Int[Array, " lanes"], Bool[Array, " lanes"]]  # (state, steps, stopped)
    point: Int[Array, " lanes"]  # the point each lane runs; `points` when idle
    next: Int[Array, ""]  # the first point not yet started


def run_in_lanes(loop: Loop, inputs: tuple[Any, ...], lanes: int) -> dict[str, Array]:
    """`jax.vmap(run_loop)` over the points of `inputs`, run in `lanes` refilled lanes.

    Args:
        loop: the model; `loop.init(*point_inputs)` gives one point's (data, state).
        inputs: pytrees with a leading point axis, `loop.init`'s arguments.
        lanes: points stepping at a time, an integer >= 1 (capped at the number of points).

    Returns:
        `loop.finish`'s metrics with a leading point axis, equal to a vmapped `run_loop`.
    """
    data, initial = jax.vmap(loop.init)(*inputs)
    first_stop = jax.vmap(loop.stopped)(data, initial)
    points = first_stop.shape[0]
    lanes = min(lanes, points)

    def advance(point_data: Any, carry: tuple) -> tuple:
        step, stopped = partial(loop.step, point_data), partial(loop.stopped, point_data)
        return segment_runner(step, stopped, loop.budget, loop.segment)[1](carry)

    def segment(c: _Lanes) -> _Lanes:
        state, n, done = jax.vmap(advance)(_take(data, jnp.minimum(c.point, points - 1)), c.lane)
        finished = (c.point < points) & (done | (n >= loop.budget))
        home = jnp.where(finished, c.point, points)  # out of range: not written
        states = jax.tree.map(lambda all_, s: all_.at[home].set(s, mode="drop"), c.states, state)
        steps = c.steps.at[home].set(n, mode="drop")
        stopped = c.stopped.at[home].set(done, mode="drop")
        point = jnp.where(finished, c.next + jnp.cumsum(finished, dtype=jnp.int32) - 1, c.point)
        point = jnp.minimum(point, points)
        fresh = jnp.minimum(point, points - 1)
        state = jax.tree.map(
            lambda new, old: jnp.where(_lead(finished, new), new, old), _take(states, fresh), state
        )
        n = jnp.where(finished, 0, n)
        done = jnp.where(finished, (point >= points) | first_stop[fresh], done)
        taken = c.next + jnp.sum(finished, dtype=jnp.int32)
        return _Lanes(states, steps, stopped, (state, n, done), point, taken)

    def running_at(narrower: int) -> Callable[[_Lanes], Bool[Array, ""]]:
        """While some point runs, and until the queue is empty and `narrower` lanes suffice."""

        def running(c: _Lanes) -> Bool[Array, ""]:
            busy = jnp.sum(c.point < points)
            return (busy > 0) & ((c.next < points) | (busy > narrower))

        return running

    first = jnp.arange(lanes, dtype=jnp.int32)
    c = _Lanes(
        initial,
        jnp.zeros(points, jnp.int32),
        first_stop,
        (_take(initial, first), jnp.zeros(lanes, jnp.int32), first_stop[:lanes]),
        first,
        jnp.asarray(lanes, jnp.int32),
    )
    widths = _shrinking(lanes)
    for narrower in widths[1:] + [0]:
        c = jax.lax.while_loop(running_at(narrower), segment, c)
        if narrower:  # the busy lanes first, then keep `narrower` of them
            keep = jnp.argsort(c.point >= points, stable=True)[:narrower]
            c = c._replace(lane=_take(c.lane, keep), point=c.point[keep])
    return jax.vmap(loop.finish)(data, LoopResult(c.states, c.steps, c.stopped))


def _shrinking(lanes: int) -> list[int]:
    """Lane counts: `lanes`, then lanes / SHRINK once no point is left to start (each count
    compiles the step once more, so there are at most two)."""
    return [lanes, lanes // SHRINK] if lanes >= 2 * SHRINK else [lanes]


def _take(tree: Any, index: Int[Array, " lanes"]) -> Any:
    return jax.tree.map(lambda a: a[index], tree)


def _lead(mask: Bool[Array, " lanes"], like: Array) -> Bool[Array, ...]:
    """`mask` shaped to broadcast against `like` along its leading axis."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))
