"""The pieces of SGD shared by the perceptron and the networks: batches drawn without
replacement, the hinge loss with margin of the alpha trick, and the reading of (alpha, T).

Both models are `sweep.Loop`s trained until they fit their data (`theorytk.sweep.Loop`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from theorytk._validation import check_scalar, is_concrete


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


def nan_unless_valid(metrics: dict[str, Array], valid: ArrayLike) -> dict[str, Array]:
    """The float metrics set to NaN where the traced parameters were out of range (`valid`
    False), so the sweep reports the point as non-finite; integer metrics are kept."""
    return {
        k: v if jnp.issubdtype(v.dtype, jnp.integer) else jnp.where(valid, v, jnp.nan)
        for k, v in metrics.items()
    }


def check_batch(batch: int, n_train: int) -> None:
    """ValueError unless the batch size B <= P."""
    if batch > n_train:
        raise ValueError(f"the batch size B must be <= P = {n_train}, got B = {batch}")


def _is_count(value: np.ndarray) -> bool:
    return bool(value == np.round(value) and value >= 1)
