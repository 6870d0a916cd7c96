"""Kernel ridge regression with a given kernel on a data pool: simulation and eigenframework
theory from the pool's eigensystem."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validation import check_integer, check_scalar
from ._eigenframework import krr_risk
from ._gaussian import gaussian_inputs
from ._pool import (
    DataPool,
    Kernel,
    cached_eigensystem,
    draw_training_set,
    masked_ridge_solve,
    pool_gram,
    pool_metrics,
)


def gaussian_pool(key: Array, *, size: int, d: int, target: Callable[[Array], Array]) -> DataPool:
    """A synthetic pool: `size` inputs x ~ N(0, I_d) (so x.x'/d ~ cosine) and y = target(x).

    Args:
        key: PRNG key.
        size: number of points M >= 2.
        d: input dimension >= 1.
        target: f*, mapping inputs (M, d) to targets (M,) (noiseless).
    """
    check_integer("size", size)
    check_integer("d", d)
    x = gaussian_inputs(key, size, jnp.ones(d))
    return DataPool(x, target(x))


class KRRConfig(eqx.Module):
    """The static task of kernel ridge regression on a data pool.

    The data distribution is the pool (uniform on its M points, `DataPool`); a training set
    is n points drawn from it (`holdout=False`: i.i.d. with replacement, test error over the
    whole pool = the population error; `holdout=True`: without replacement, test error on the
    M - n held-out points, the usual real-data protocol). Training labels are the pool targets
    plus Gaussian noise of variance `noise`.

    Args:
        pool: the data pool.
        kernel: a hashable callable k(x1 (n1, d), x2 (n2, d)) -> Gram (n1, n2), e.g.
            `theorytk.kernels.RBFKernel(1.0)`, `kernels.LaplaceKernel(1.0)`,
            `kernels.MLPKernel(...)`, `rf_limit_kernel("relu")` or a function returning
            `theorytk.kernels.mlp_kernels(x1, x2, ...).ntk`.
        n_max: largest n, at most M; `simulate_krr` draws n_max points and masks the rows >= n.
        holdout: sampling protocol (see above); needs n_max < M.
        noise: label-noise variance >= 0.
    """

    pool: DataPool = eqx.field(static=True)
    kernel: Kernel = eqx.field(static=True)
    n_max: int = eqx.field(static=True)
    holdout: bool = eqx.field(static=True, default=False)
    noise: float = eqx.field(static=True, default=0.0)

    def __check_init__(self) -> None:
        check_pool_config(self.pool, self.n_max, self.holdout, self.noise)
        if not callable(self.kernel):
            raise ValueError(f"kernel must be a callable k(x1, x2) -> Gram, got {self.kernel!r}")


def check_pool_config(pool: object, n_max: object, holdout: object, noise: object) -> None:
    """ValueError for a bad pool, n_max, holdout flag or noise of a pool config."""
    if not isinstance(pool, DataPool):
        raise ValueError(f"pool must be a DataPool, got {type(pool).__name__}")
    check_integer("n_max", n_max)
    if n_max > pool.size:
        raise ValueError(
            f"n_max must be <= M = {pool.size} (the pool's points: a sample beyond them only "
            f"repeats points, and the pool's eigensystem has at most M modes), got {n_max}"
        )
    if not isinstance(holdout, bool):
        raise ValueError(f"holdout must be True or False, got {holdout!r}")
    if holdout and n_max >= pool.size:
        raise ValueError(
            f"holdout needs n_max < M = {pool.size} (points left to test on), got {n_max}"
        )
    check_scalar("noise", noise, ">= 0", lambda s: s >= 0)


def read_size(params: Mapping[str, ArrayLike], name: str, largest: int) -> ArrayLike:
    """params[name], checked (when concrete) to be an integer in [1, largest]."""
    if name not in params:
        raise ValueError(f"params must contain {name!r}, got keys {sorted(params)}")
    value = params[name]
    check_scalar(
        f"params[{name!r}]",
        value,
        f"an integer in [1, {largest}]",
        lambda m: m == np.round(m) and 1 <= m <= largest,
    )
    return value


def read_ridge(params: Mapping[str, ArrayLike]) -> ArrayLike:
    """params['ridge'] (delta on the unnormalised Gram), checked to be >= 0 when concrete."""
    if "ridge" not in params:
        raise ValueError(f"params must contain 'ridge', got keys {sorted(params)}")
    check_scalar("params['ridge']", params["ridge"], ">= 0", lambda r: r >= 0)
    return params["ridge"]


def simulate_krr(
    params: Mapping[str, ArrayLike], key: Array, *, config: KRRConfig
) -> dict[str, Array]:
    """Test and train MSE of kernel ridge regression on n points drawn from a data pool.

    f_hat(x) = K(x, X) (K(X, X) + delta I)^-1 y with delta = params["ridge"] on the
    unnormalised n x n Gram (the convention of `krr_risk`), labels y = f*(X) + noise.

        test_mse  = mean over the test points of (f_hat - f*)^2 + noise   (fresh noisy labels)
        train_mse = (1/n) ||f_hat(X) - y||^2 = (1/n) ||delta alpha||^2

    The pool Gram is computed once (`kernel(x, x)`) and embedded as a constant; n is dynamic
    (n_max rows drawn, rows >= n masked), so a sweep over n compiles once. delta = 0 works
    while K(X, X) is non-singular (with replacement, a repeated point makes it singular: NaN
    metrics, status "nonfinite" in a sweep).

    Args:
        params: "n" (integer in [1, n_max]) and "ridge" (delta >= 0); scalars, may be traced.
        key: PRNG key (training set and label noise).
        config: the pool, kernel and protocol.

    Returns:
        Scalars `test_mse` and `train_mse` in the pool's floating dtype.
    """
    n, delta = read_size(params, "n", config.n_max), read_ridge(params)
    gram = jnp.asarray(pool_gram(config.pool, config.kernel))
    dtype = gram.dtype
    y_pool = jnp.asarray(config.pool.y, dtype)
    key_idx, key_eps = jax.random.split(key)
    idx, real, test = draw_training_set(key_idx, config.pool.size, config.n_max, n, config.holdout)
    noise = jnp.asarray(config.noise, dtype)
    y = y_pool[idx] + jnp.sqrt(noise) * jax.random.normal(key_eps, (config.n_max,), dtype)
    delta = jnp.asarray(delta, dtype)
    alpha = masked_ridge_solve(gram[idx][:, idx], y, real, delta)
    pred = gram @ jnp.zeros(config.pool.size, dtype).at[idx].add(alpha)
    return pool_metrics(pred, y_pool, test.astype(dtype), delta * alpha, real, noise)


def krr_theory(params: Mapping[str, ArrayLike], *, config: KRRConfig) -> dict[str, Array]:
    """`krr_risk` with the pool eigensystem of `config.kernel` (same params and metric names
    as `simulate_krr`).

    Eigenvalues and v_i^2 from `pool_eigensystem(kernel(x, x), y)`; noise = config.noise plus
    the power of the numerically null modes. For holdout=False this is the eigenframework
    prediction of the simulated quantity (the error over the pool distribution). For
    holdout=True the pool error E_pool = (n E_in + (M - n) E_out) / M splits into the n
    training points and the M - n held-out ones; with the in-sample error against f*,
    E_in = train_mse - s^2 + 2 s^2 dof / n (s^2 = config.noise, dof = sum_i L_i = tr of the
    smoother), the held-out prediction is

        test_mse = (M (test_mse_pool - s^2) - n E_in) / (M - n) + s^2.

    On real data the pool eigensystem estimates the population one only for modes of index
    << M, so agreement degrades as n approaches M (measured in docs/kernel_ridge.md).

    Args:
        params: "n" (> 0; < M with holdout) and "ridge" (delta >= 0); scalars, may be traced.
        config: the pool, kernel, protocol and noise (n_max is not used).

    Returns:
        Scalars `test_mse`, `train_mse` and `kappa`.
    """
    if "n" not in params:
        raise ValueError(f"params must contain 'n', got keys {sorted(params)}")
    n, delta, m = params["n"], read_ridge(params), config.pool.size
    if config.holdout:
        check_scalar("params['n']", n, f"in (0, M = {m}) with holdout", lambda v: 0 < v < m)
    eig = cached_eigensystem(config.pool, config.kernel)
    risk = krr_risk(
        eig.eigenvalues, eig.target_coeffs_sq, n=n, ridge=delta, noise=eig.noise + config.noise
    )
    test = risk["test_mse"]
    if config.holdout:
        s2 = config.noise
        in_sample = risk["train_mse"] - s2 + 2 * s2 * risk["dof"] / n
        test = (m * (test - s2) - n * in_sample) / (m - n) + s2
    return {"test_mse": test, "train_mse": risk["train_mse"], "kappa": risk["kappa"]}
