"""Training until a stopping rule holds, vmap-friendly: segmented fixed-length scans.

Shared by every model trained "until the training set is fitted or a step budget runs out"
(the perceptron here; fully connected networks under SGD noise later): the driver knows
nothing about the model, only a `step` function, a `stopped` predicate and a budget.
Also the pieces of SGD that do not depend on the model: batches drawn without replacement
and the hinge loss with margin of the alpha trick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from theorytk._validation import check_integer, check_scalar, is_concrete
from theorytk.sweep import Status

State = TypeVar("State")


class TrainResult(NamedTuple):
    """Where `run_until_stopped` ended.

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


def run_until_stopped(
    step: Callable[[State, Int[Array, ""]], State],
    stopped: Callable[[State], Bool[Array, ""]],
    state: State,
    *,
    budget: int,
    segment: int = 256,
) -> TrainResult:
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
        budget: the step budget, an integer >= 0 (static).
        segment: steps per scan segment, an integer >= 1 (static); a cost knob only.

    Returns:
        `TrainResult(state, steps, stopped)`; `.status` is `Status.BUDGET` when the budget ran
        out before the rule held.
    """
    check_integer("budget", budget, least=0)
    check_integer("segment", segment)
    budget, segment = int(budget), int(segment)

    def running(carry: tuple[State, Array, Array]) -> Array:
        _, n, done = carry
        return ~done & (n < budget)

    def one_step(carry: tuple[State, Array, Array], _: None) -> tuple[Any, None]:
        current, n, done = carry
        active = running(carry)
        proposed = step(current, n)
        current = jax.tree.map(lambda new, old: jnp.where(active, new, old), proposed, current)
        n = n + active.astype(n.dtype)
        done = done | (active & stopped(current))
        return (current, n, done), None

    def one_segment(carry: tuple[State, Array, Array]) -> tuple[State, Array, Array]:
        return jax.lax.scan(one_step, carry, None, length=segment)[0]

    start = (state, jnp.zeros((), jnp.int32), jnp.asarray(stopped(state), bool))
    state, steps, done = jax.lax.while_loop(running, one_segment, start)
    return TrainResult(state, steps, done)


def batch_indices(key: Array, n: Int[ArrayLike, ""], size: int) -> Int[Array, " size"]:
    """`size` distinct indices drawn uniformly from range(n) (a batch without replacement).

    The batch of SGD as the authors' code draws it: a uniformly random subset of the training
    set. Floyd's algorithm (Bentley & Floyd, "A sample of brilliance", CACM 1987): for
    j = n - size, ..., n - 1 draw t uniform in [0, j] and take t, or j if t was taken already.
    Every subset is equally likely (the order inside the batch is not uniform, which does not
    matter for a mean over the batch). It costs `size` random draws and O(size^2) comparisons,
    nothing of order n, so n may be traced (pad and mask); a concrete `size == n` returns
    range(n) (full-batch gradient descent).

    Args:
        key: PRNG key.
        n: population size >= size, an integer (may be traced).
        size: batch size >= 1, a Python integer (static).

    Returns:
        `Int[Array, "size"]` distinct indices in [0, n).
    """
    if is_concrete(n):
        if not 1 <= size <= int(n):
            raise ValueError(f"the batch size must be in [1, n = {int(n)}], got {size}")
        if size == int(n):
            return jnp.arange(size, dtype=jnp.int32)
    top = jnp.asarray(n, jnp.int32) - size + jnp.arange(size, dtype=jnp.int32)
    draws = uniform_below(jax.random.bits(key, (size,), jnp.uint32), top + 1)

    def take(i: Array, chosen: Array) -> Array:
        taken = jnp.any(chosen == draws[i])
        return chosen.at[i].set(jnp.where(taken, top[i], draws[i]))

    return jax.lax.fori_loop(0, size, take, jnp.full((size,), -1, jnp.int32))


def uniform_below(bits: Array, bound: Int[ArrayLike, "*n"]) -> Int[Array, "*n"]:
    """floor(bits * bound / 2^32): integers in [0, bound) from uniform 32-bit words.

    Lemire's multiply-shift ("Fast random integer generation in an interval", ACM TOMACS
    2019) without the rejection step: one random word per integer, each value of [0, bound)
    having probability within bound / 2^32 (relative) of 1 / bound (< 4e-6 for bound <= 2^14),
    against two words and integer remainders for `jax.random.randint`. The high half of the
    32 x 32-bit product is assembled from 16-bit halves, so no 64-bit integers are needed.

    Args:
        bits: `UInt32[Array, "*n"]` uniform random words.
        bound: `Int[ArrayLike, "*n"]` exclusive upper bounds, 1 <= bound < 2^31.

    Returns:
        `Int[Array, "*n"]` int32 values in [0, bound).
    """
    a = bits.astype(jnp.uint32)
    b = jnp.asarray(bound).astype(jnp.uint32)
    low, mask = jnp.uint32(16), jnp.uint32(0xFFFF)
    a_lo, a_hi, b_lo, b_hi = a & mask, a >> low, b & mask, b >> low
    lo_lo, hi_lo, lo_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi
    carry = ((lo_lo >> low) + (hi_lo & mask) + (lo_hi & mask)) >> low
    return (a_hi * b_hi + (hi_lo >> low) + (lo_hi >> low) + carry).astype(jnp.int32)


def margin_hinge_loss(
    output: Float[ArrayLike, "*n"], label: Float[ArrayLike, "*n"], alpha: Float[ArrayLike, ""]
) -> Float[Array, "*n"]:
    """Hinge loss with margin 1/alpha of the alpha trick: (1/alpha) max(0, 1 - alpha y F).

    F is the centred output f(w, x) - f(w_0, x) and alpha the scale of the initialisation
    relative to F: alpha >> 1 is the lazy regime, alpha << 1 the feature regime (Geiger et
    al., "Disentangling feature and lazy training", 2020; Sclocchi, Geiger & Wyart, ICML
    2023, eq. 2). A point is fitted when alpha y F >= 1, where the loss and its gradient
    vanish.

    Args:
        output: `Float[ArrayLike, "*n"]` centred outputs F.
        label: `Float[ArrayLike, "*n"]` labels y = +-1.
        alpha: the scale alpha > 0.

    Returns:
        `Float[Array, "*n"]` the loss of each point.
    """
    alpha = jnp.asarray(alpha)
    return jax.nn.relu(1.0 - alpha * jnp.asarray(label) * jnp.asarray(output)) / alpha


class SGDParams(NamedTuple):
    """The SGD hyperparameters of one sweep point, as read by `read_sgd_params`.

    Attributes:
        alpha: output scale of the alpha trick.
        eta: step size.
        n_train: P, a Python int when concrete, else the traced value.
        n_rows: training rows to draw: P when concrete, else the config's P (rows >= P masked).
    """

    alpha: ArrayLike
    eta: ArrayLike
    n_train: ArrayLike
    n_rows: int


def read_sgd_params(
    params: Mapping[str, ArrayLike], *, P: int, B: int | None, width: int = 1
) -> SGDParams:
    """alpha, eta and P of a sweep point; ValueError for missing or bad concrete values.

    `params` holds "alpha" (> 0) and exactly one of "T" (> 0) and "eta" (> 0), with
    eta = T width B (T = eta / (h B) for a network of width h, eta / B for the perceptron;
    B = P for full-batch gradient descent, `B=None`), and optionally "P" (default `P`).
    Traced values are not checked here (the models turn bad ones into NaN metrics).
    """
    if "alpha" not in params:
        raise ValueError(f"params must contain 'alpha', got {sorted(params)}")
    rates = [name for name in ("T", "eta") if name in params]
    if len(rates) != 1:
        scale = "eta = T B" if width == 1 else "eta = T h B"
        raise ValueError(
            f"params must contain exactly one of 'T' ({scale}) and 'eta', got {sorted(params)}"
        )
    alpha, rate = params["alpha"], params[rates[0]]
    check_scalar("params['alpha']", alpha, "> 0", lambda a: a > 0)
    check_scalar(f"params[{rates[0]!r}]", rate, "> 0", lambda r: r > 0)
    n_train = params.get("P", P)
    if is_concrete(n_train):
        check_scalar("params['P']", n_train, "an integer >= 1", _is_count)
        n_train = int(n_train)
        if B is not None:
            check_batch(B, n_train)
    n_rows = n_train if is_concrete(n_train) else P
    batch_size = n_train if B is None else B
    eta = rate * width * batch_size if rates[0] == "T" else rate
    return SGDParams(alpha, eta, n_train, n_rows)


def check_batch(batch: int, n_train: int) -> None:
    """ValueError unless the batch size B <= P."""
    if batch > n_train:
        raise ValueError(f"the batch size B must be <= P = {n_train}, got B = {batch}")


def _is_count(value: np.ndarray) -> bool:
    return bool(value == np.round(value) and value >= 1)
