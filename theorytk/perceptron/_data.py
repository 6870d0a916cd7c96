"""Data with a tunable density near the decision boundary x_1 = 0 (the chi-data)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from theorytk._validation import check_integer, check_scalar


def check_chi(chi: Any) -> None:
    """ValueError unless a concrete chi is a finite number > -1 (|x_1|^chi is integrable)."""
    check_scalar("chi", chi, "> -1", lambda c: c > -1)


def chi_data(
    key: Array, *, d: int, n: int, chi: Float[ArrayLike, ""], dtype: Any = float
) -> tuple[Float[Array, "n d"], Float[Array, " n"]]:
    """n points x in R^d with density ~ |x_1|^chi exp(-|x|^2 / 2), labelled y = sign(x_1).

    x_1 = s sqrt(2 G) with G ~ Gamma((chi + 1)/2, 1) and s = +-1 with probability 1/2, so
    that rho(x_1) = |x_1|^chi exp(-x_1^2 / 2) / (2^((chi+1)/2) Gamma((chi+1)/2)); the other
    coordinates x_2..x_d are iid N(0, 1). chi = 0 is the standard Gaussian; chi > 0 depletes
    and chi < 0 enriches the data near the boundary x_1 = 0 (the `depleted_sign` data set of
    the code of Sclocchi, Geiger & Wyart, "Dissecting the effects of SGD noise in distinct
    regimes of deep learning", ICML 2023). The label is y = s, which equals sign(x_1) (and
    stays +-1 if G underflows to 0). With JAX's default partitionable threefry the draws are
    counter-based, so the first m rows do not depend on n: data sets of growing n drawn from
    one key are nested.

    Args:
        key: PRNG key.
        d: dimension, an integer >= 1.
        n: number of points, an integer >= 1.
        chi: depletion exponent, a finite number > -1 (may be traced).
        dtype: floating dtype of the output.

    Returns:
        `(x, y)`: `Float[Array, "n d"]` points and `Float[Array, "n"]` labels +-1.
    """
    check_integer("d", d)
    check_integer("n", n)
    check_chi(chi)
    return chi_rows(key, d, n, chi, dtype)


def chi_rows(
    key: Array, d: int, n: int, chi: Float[ArrayLike, ""], dtype: Any
) -> tuple[Float[Array, "n d"], Float[Array, " n"]]:
    """`chi_data` without the argument checks (for traced use inside a model)."""
    key_sign, key_gamma, key_rest = jax.random.split(key, 3)
    y = jnp.where(jax.random.bernoulli(key_sign, 0.5, (n,)), 1.0, -1.0).astype(dtype)
    g = gamma_variates(key_gamma, (jnp.asarray(chi, dtype) + 1) / 2, n, dtype)
    rest = jax.random.normal(key_rest, (n, d - 1), dtype)
    return jnp.concatenate([(y * jnp.sqrt(2 * g))[:, None], rest], axis=1), y


def gamma_variates(
    key: Array, shape: Float[ArrayLike, ""], n: int, dtype: Any
) -> Float[Array, " n"]:
    """n Gamma(shape, 1) variates by Marsaglia & Tsang's method with a fixed candidate count.

    Marsaglia & Tsang ("A simple method for generating gamma variables", ACM TOMS 2000): for
    a >= 1, with b = a - 1/3 and c = 1/sqrt(9 b), v = (1 + c z)^3 for z ~ N(0, 1) is accepted
    when v > 0 and log u < z^2/2 + b - b v + b log v (u ~ U(0, 1)); then b v ~ Gamma(a).
    Shapes a < 1 use Gamma(a) = Gamma(a + 1) U^(1/a). Instead of a rejection loop, 16
    candidates are drawn per variate and the first accepted one is kept: each is accepted
    with probability >= 0.95, so all 16 fail with probability < 1e-20 (then the last is
    kept). Exact up to that event, counter-based (nested in n like `chi_data`), and much
    cheaper to compile than `jax.random.gamma`'s per-element while loop.
    """
    candidates = 16
    key_z, key_u, key_boost = jax.random.split(key, 3)
    shape = jnp.asarray(shape, dtype)
    a = jnp.where(shape < 1, shape + 1, shape)
    b = a - 1 / 3
    c = 1 / jnp.sqrt(9 * b)
    z = jax.random.normal(key_z, (n, candidates), dtype)
    u = jax.random.uniform(key_u, (n, candidates), dtype)
    v = (1 + c * z) ** 3
    safe_v = jnp.where(v > 0, v, 1)
    accepted = (v > 0) & (jnp.log(u) < z**2 / 2 + b - b * safe_v + b * jnp.log(safe_v))
    accepted = accepted.at[:, -1].set(True)
    first = jnp.argmax(accepted, axis=1)
    g = b * jnp.take_along_axis(safe_v, first[:, None], axis=1)[:, 0]
    boost = jax.random.uniform(key_boost, (n,), dtype) ** (1 / shape)
    return jnp.where(shape < 1, g * boost, g)
