"""The finite fully connected network whose infinite-width limit `mlp_kernels` computes."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from theorytk._validation import check_integer

from ._activations import Activation, get_activation

MLPParams = list[tuple[Float[Array, "fan_in fan_out"], Float[Array, " fan_out"]]]


def init_mlp(
    key: Array, d: int, *, width: int, depth: int, dtype: jnp.dtype | type = float
) -> MLPParams:
    """Standard normal weights and biases (W, b) of `depth` hidden layers and a scalar readout.

    All entries come from one draw (one random-bits kernel rather than one per array, which
    keeps the compilation of a vmapped initialisation short).

    Args:
        key: PRNG key.
        d: input dimension.
        width: hidden width.
        depth: number of hidden layers.
        dtype: floating dtype of the parameters.

    Returns:
        `[(W_1, b_1), ..., (W_{depth+1}, b_{depth+1})]`, W_l of shape (fan_in, fan_out).
    """
    for name, value in (("d", d), ("width", width), ("depth", depth)):
        check_integer(name, value)
    sizes = [d] + [width] * depth + [1]
    shapes = [s for a, b in zip(sizes[:-1], sizes[1:], strict=True) for s in ((a, b), (b,))]
    draw = jax.random.normal(key, (sum(math.prod(s) for s in shapes),), dtype)
    offsets = np.cumsum([0] + [math.prod(s) for s in shapes])
    arrays = [
        draw[lo:hi].reshape(s) for lo, hi, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)
    ]
    return list(zip(arrays[::2], arrays[1::2], strict=True))


def apply_mlp(
    params: MLPParams,
    x: Float[ArrayLike, "n d"],
    *,
    activation: str | Activation | Callable[[Array], Array] = "relu",
    sigma_w: float | Array,
    sigma_b: float | Array,
) -> Float[Array, " n"]:
    """The NTK-parameterised network: z_l = sigma_w h_{l-1} W_l / sqrt(fan_in) + sigma_b b_l.

    h_0 = x, h_l = phi(z_l) for the hidden layers, and the output is the readout z_{depth+1}.
    With W, b ~ N(0, 1) from `init_mlp`, its NNGP and NTK at infinite width are
    `mlp_kernels(x, depth=depth, activation=activation, sigma_w=sigma_w, sigma_b=sigma_b)`
    (parameterization "ntk"), and `empirical_ntk(apply, params, x1, x2)` with
    `apply = functools.partial(apply_mlp, activation=..., sigma_w=..., sigma_b=...)` is the
    finite network's NTK.

    Args:
        params: weights and biases as returned by `init_mlp`.
        x: inputs.
        activation: as for `mlp_kernels` (a name, an `Activation` or a callable).
        sigma_w, sigma_b: weight and bias scales.

    Returns:
        The scalar output for each input.
    """
    phi = get_activation(activation)
    h = jnp.asarray(x)
    for layer, (w, b) in enumerate(params):
        z = sigma_w / math.sqrt(w.shape[0]) * (h @ w) + sigma_b * b
        h = z if layer == len(params) - 1 else phi(z)
    return h[:, 0]
