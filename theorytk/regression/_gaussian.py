"""Gaussian data with a linear teacher, and power-law spectra: the one place the Gaussian
regression models (`RidgeConfig`, `LinearRFConfig`, `gaussian_pool`) draw data and spectra."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


def power_law(d: int, exponent: float | ArrayLike, dtype: Any = float) -> Float[Array, " d"]:
    """i^-exponent for i = 1..d, shape (d,)."""
    return jnp.arange(1, d + 1, dtype=dtype) ** -jnp.asarray(exponent, dtype)


def gaussian_inputs(key: Array, n: int, eigenvalues: Float[Array, " d"]) -> Float[Array, "n d"]:
    """n rows x ~ N(0, diag(eigenvalues)), in the eigenvalues' dtype.

    With JAX's partitionable threefry (the default since JAX 0.5), each entry's bits depend
    only on its position, so the first n rows are the same for any larger n.
    """
    gauss = jax.random.normal(key, (n, eigenvalues.shape[0]), eigenvalues.dtype)
    return gauss * jnp.sqrt(eigenvalues)


def linear_teacher_data(
    key_x: Array,
    key_eps: Array,
    *,
    n: int,
    eigenvalues: Float[Array, " d"],
    teacher: Float[Array, " d"],
    noise: float | ArrayLike,
) -> tuple[Float[Array, "n d"], Float[Array, " n"]]:
    """n pairs x ~ N(0, diag(eigenvalues)) (from key_x), y = <teacher, x> + eps with
    eps ~ N(0, noise) (from key_eps), in the eigenvalues' dtype."""
    x = gaussian_inputs(key_x, n, eigenvalues)
    eps = jax.random.normal(key_eps, (n,), eigenvalues.dtype)
    return x, x @ teacher + jnp.sqrt(noise) * eps
