"""Ridge minimising the eigenframework test risk of kernel or random-feature ridge regression."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_scalar
from ._eigenframework import _check_inputs, krr_risk
from ._random_features import rf_risk

# Bisection steps in s = log delta. The bracket spans log(1e20 * n sum(lambda) / (n min(lambda)))
# nats, at most ~1500 in float64, and 2^-64 * 1500 < 1e-16: the optimum to within rounding.
_STEPS = 64
# The bracket: delta from 1e-10 n min(lambda) (a ridge far below every kappa) to
# 1e10 n sum(lambda) (the null predictor to 1e-10 relative).
_BELOW, _ABOVE = 1e-10, 1e10


def optimal_ridge(
    eigenvalues: Float[ArrayLike, " P"],
    target_coeffs_sq: Float[ArrayLike, " P"],
    *,
    n: float | ArrayLike,
    n_features: float | ArrayLike | None = None,
    noise: float | ArrayLike = 0.0,
) -> dict[str, Array]:
    """Ridge delta >= 0 minimising the theory's test_mse, with the risks at that ridge.

    The risk is `rf_risk` with N = `n_features` random features, or `krr_risk` (N = infinity)
    when `n_features` is None. delta is on the unnormalised Gram matrix (as in `krr_risk`).
    Fixed-step bisection on the sign of d test_mse / d log delta (exact, by implicit
    differentiation) over [1e-10 n min_i lambda_i, 1e10 n sum_i lambda_i]; it assumes test_mse
    is unimodal in log delta there (as in every case compared with a grid search). If the
    derivative is >= 0 at the lower end, the optimum is delta = 0 (`at_zero` True): the
    ridgeless predictor is optimal, the situation Simon, Karkada, Ghosh & Belkin (2023) call
    obligatory overfitting. jit- and vmap-compatible.

    Args:
        eigenvalues: kernel eigenvalues lambda_i, shape (P,), positive, any order.
        target_coeffs_sq: squared target coefficients v_i^2, shape (P,), non-negative.
        n: number of training samples (>= 1 with features, > 0 without).
        n_features: number of random features N >= 1, or None for kernel ridge regression.
        noise: label-noise variance >= 0.

    Returns:
        Scalars `ridge` (delta*), `test_mse`, `train_mse`, `fitting_ratio` (train/test at
        delta*) and `at_zero` (bool, delta* = 0).
    """
    if n_features is not None:
        check_scalar("n", n, ">= 1", lambda x: x >= 1)
        check_scalar("n_features", n_features, ">= 1", lambda x: x >= 1)
    _check_inputs(eigenvalues, target_coeffs_sq, n, 0.0, noise)
    args = (eigenvalues, target_coeffs_sq, n, noise) + (() if n_features is None else (n_features,))
    dtype = jnp.result_type(float, *args)
    lam, v2, n, noise = (jnp.asarray(a, dtype) for a in args[:4])
    n_feat = None if n_features is None else jnp.asarray(n_features, dtype)
    return _optimise(lam, v2, n, n_feat, noise)


@jax.jit
def _optimise(
    lam: Array, v2: Array, n: Array, n_feat: Array | None, noise: Array
) -> dict[str, Array]:
    """The bisection of `optimal_ridge` on validated arrays (compiled once per shape/dtype)."""

    def risk(delta: Array) -> dict[str, Array]:
        if n_feat is None:
            return krr_risk(lam, v2, n=n, ridge=delta, noise=noise)
        return rf_risk(lam, v2, n=n, n_features=n_feat, ridge=delta, noise=noise)

    slope = jax.grad(lambda s: risk(jnp.exp(s))["test_mse"])
    lower = jnp.log(_BELOW * n * jnp.min(lam))
    upper = jnp.log(_ABOVE * n * jnp.sum(lam))

    def bisect(_: int, bounds: tuple[Array, Array]) -> tuple[Array, Array]:
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        rising = slope(mid) > 0  # optimum lies below mid
        return jnp.where(rising, lo, mid), jnp.where(rising, mid, hi)

    lo, hi = jax.lax.fori_loop(0, _STEPS, bisect, (lower, upper))
    at_zero = slope(lower) >= 0
    delta = jnp.where(at_zero, 0.0, jnp.exp(0.5 * (lo + hi)))
    out = risk(delta)
    test, train = out["test_mse"], out["train_mse"]
    ratio = train / jnp.where(test > 0, test, 1.0)
    return {
        "ridge": delta,
        "test_mse": test,
        "train_mse": train,
        "fitting_ratio": ratio,
        "at_zero": at_zero,
    }
