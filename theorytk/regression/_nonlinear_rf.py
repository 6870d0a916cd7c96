"""Nonlinear random-feature ridge regression (act(w.x / sqrt(d)) features) on a data pool:
simulation and eigenframework theory from the eigensystem of the limiting kernel."""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._validation import check_integer
from ..kernels import MLPKernel, get_activation
from ._kernel_ridge import check_pool_config, read_ridge, read_size
from ._pool import DataPool, cached_eigensystem, draw_training_set, masked_ridge_solve, pool_metrics
from ._random_features import rf_risk


def rf_limit_kernel(activation: str) -> MLPKernel:
    """The N -> inf kernel of the features act(w.x / sqrt(d)), w ~ N(0, I_d):

        K(x, x') = E_w[act(w.x / sqrt(d)) act(w.x' / sqrt(d))]
                 = mlp_kernels(x, x', depth=1, activation, sigma_w=1, sigma_b=0).nngp

    (the depth-1 NNGP: its hidden pre-activation has covariance x.x'/d, and the readout Dense
    with sigma_w = 1 leaves E[act(u) act(v)] unchanged; Cho & Saul 2009 for relu, Williams 1997
    for erf). `activation` is a name in `theorytk.kernels.ACTIVATION_NAMES`.
    """
    return MLPKernel(depth=1, activation=activation, sigma_w=1.0, sigma_b=0.0, kind="nngp")


class NonlinearRFConfig(eqx.Module):
    """The static task of nonlinear random-feature ridge regression on a data pool.

    Features g_j(x) = act(w_j.x / sqrt(d)), w_j ~ N(0, I_d), j = 1..N; RF kernel
    K_N(x, x') = (1/N) sum_j g_j(x) g_j(x'), which tends to `rf_limit_kernel(activation)` as
    N -> inf. Sampling protocol and noise as in `KRRConfig`.

    Args:
        pool: the data pool (inputs (M, d): with x.x/d ~ 1 the pre-activations are ~ N(0, 1)).
        activation: a name in `theorytk.kernels.ACTIVATION_NAMES` ("relu", "erf", ...).
        n_max: largest n (rows >= n are masked).
        n_features_max: largest N (features >= N are masked), so N is dynamic.
        holdout: sampling protocol (see `KRRConfig`).
        noise: label-noise variance >= 0.
    """

    pool: DataPool = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    n_max: int = eqx.field(static=True)
    n_features_max: int = eqx.field(static=True)
    holdout: bool = eqx.field(static=True, default=False)
    noise: float = eqx.field(static=True, default=0.0)

    def __check_init__(self) -> None:
        check_pool_config(self.pool, self.n_max, self.holdout, self.noise)
        rf_limit_kernel(self.activation)
        check_integer("n_features_max", self.n_features_max)


def simulate_nonlinear_rf(
    params: Mapping[str, ArrayLike], key: Array, *, config: NonlinearRFConfig
) -> dict[str, Array]:
    """Test and train MSE of one draw of nonlinear random-feature ridge regression on a pool.

    f_hat(x) = K_N(x, X) (K_N(X, X) + delta I)^-1 y with the RF kernel K_N of `config`
    (features act(w_j.x / sqrt(d))) and delta = params["ridge"] on the unnormalised n x n Gram,
    the convention of `rf_risk`. The first N of n_features_max drawn features are used (the
    others are masked), so the features at N are nested in those at N' > N for one key.
    Metrics as in `simulate_krr`.

    Args:
        params: "n" (integer in [1, n_max]), "n_features" (integer in [1, n_features_max]) and
            "ridge" (delta >= 0); scalars, may be traced.
        key: PRNG key (training set, features, label noise).
        config: the pool, activation and protocol.

    Returns:
        Scalars `test_mse` and `train_mse` in the pool's floating dtype.
    """
    n = read_size(params, "n", config.n_max)
    n_feat = read_size(params, "n_features", config.n_features_max)
    delta = read_ridge(params)
    x_pool = jnp.asarray(config.pool.x)
    dtype = jnp.result_type(float, x_pool)
    x_pool, y_pool = x_pool.astype(dtype), jnp.asarray(config.pool.y, dtype)
    key_idx, key_w, key_eps = jax.random.split(key, 3)
    idx, real, test = draw_training_set(key_idx, config.pool.size, config.n_max, n, config.holdout)
    d = x_pool.shape[1]
    w = jax.random.normal(key_w, (config.n_features_max, d), dtype)
    used = jnp.arange(config.n_features_max) < n_feat
    act = get_activation(config.activation)
    feats = jnp.where(used, act(x_pool @ w.T / jnp.sqrt(d)), 0.0)  # (M, N_max)
    f_train = feats[idx] / jnp.sqrt(jnp.asarray(n_feat, dtype))
    noise = jnp.asarray(config.noise, dtype)
    y = y_pool[idx] + jnp.sqrt(noise) * jax.random.normal(key_eps, (config.n_max,), dtype)
    delta = jnp.asarray(delta, dtype)
    alpha = masked_ridge_solve(f_train @ f_train.T, y, real, delta)
    pred = feats @ (f_train.T @ alpha) / jnp.sqrt(jnp.asarray(n_feat, dtype))
    return pool_metrics(pred, y_pool, test.astype(dtype), delta * alpha, real, noise)


def nonlinear_rf_theory(
    params: Mapping[str, ArrayLike], *, config: NonlinearRFConfig
) -> dict[str, Array]:
    """`rf_risk` with the pool eigensystem of the limiting kernel (same params and metric names
    as `simulate_nonlinear_rf`).

    The RF eigenframework is derived for Gaussian feature coefficients z_ji; for nonlinear
    features of Gaussian projections it is the universality ansatz of Simon, Karkada, Ghosh &
    Belkin ("More is better", 2023), checked against simulation in the tests. The prediction
    is the error over the pool distribution (the simulated quantity for holdout=False); for
    holdout=True it approximates the held-out error only while n << M (no held-out correction
    as in `krr_theory`).

    Args:
        params: "n" (>= 1), "n_features" (>= 1), "ridge" (delta >= 0); may be traced.
        config: the pool and activation.

    Returns:
        Scalars `test_mse`, `train_mse`, `kappa` and `gamma`.
    """
    delta = read_ridge(params)
    eig = cached_eigensystem(config.pool, rf_limit_kernel(config.activation))
    risk = rf_risk(
        eig.eigenvalues,
        eig.target_coeffs_sq,
        n=params["n"],
        n_features=params["n_features"],
        ridge=delta,
        noise=eig.noise + config.noise,
    )
    return {name: risk[name] for name in ("test_mse", "train_mse", "kappa", "gamma")}
