"""Linear random-feature ridge regression on Gaussian data: simulation and theory."""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_integer, check_scalar
from ._gaussian import linear_teacher_data, power_law
from ._random_features import rf_risk


class LinearRFConfig(eqx.Module):
    """The static task of linear random-feature regression: spectrum, target, noise, sizes.

    Data x ~ N(0, diag(lambda)), lambda_i = i^-eigen_decay (i = 1..d), orthonormal features
    phi_i(x) = x_i / sqrt(lambda_i), target f* = sum_i v_i phi_i with v_i^2 = i^-target_decay
    (v_i >= 0), labels y = f*(x) + eps, eps ~ N(0, noise). N random features
    g_j(x) = sum_i sqrt(lambda_i) z_ji phi_i(x) = (Z x)_j with z_ji ~ N(0, 1), i.e. W x with
    W = Z / sqrt(N), W_ji ~ N(0, 1/N); RF kernel K_N(x, x') = <W x, W x'>.

    Args:
        d: input dimension (number of modes P = d).
        n: number of training samples.
        n_features_max: largest N; `simulate_linear_rf` draws this many features and masks
            the rows >= N, so N is a dynamic (traced, vmappable) parameter.
        eigen_decay: exponent of lambda_i = i^-eigen_decay.
        target_decay: exponent of v_i^2 = i^-target_decay.
        noise: label-noise variance >= 0.
    """

    d: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    n_features_max: int = eqx.field(static=True)
    eigen_decay: float = eqx.field(static=True, default=1.5)
    target_decay: float = eqx.field(static=True, default=1.5)
    noise: float = eqx.field(static=True, default=0.0)

    def __check_init__(self) -> None:
        for name in ("d", "n", "n_features_max"):
            check_integer(name, getattr(self, name))
        check_scalar("noise", self.noise, ">= 0", lambda x: x >= 0)

    def eigenvalues(self) -> Float[Array, " d"]:
        """lambda_i = i^-eigen_decay (the "power_law" spectrum of `RidgeConfig`)."""
        return power_law(self.d, self.eigen_decay)

    def target_coeffs_sq(self) -> Float[Array, " d"]:
        """v_i^2 = i^-target_decay (the "power_law" target of `RidgeConfig`, unnormalised)."""
        return power_law(self.d, self.target_decay)

    def teacher(self) -> Float[Array, " d"]:
        """w*_i = v_i / sqrt(lambda_i), so that f*(x) = <w*, x> = sum_i v_i phi_i(x)."""
        return jnp.sqrt(self.target_coeffs_sq()) / jnp.sqrt(self.eigenvalues())


def simulate_linear_rf(
    params: Mapping[str, ArrayLike], key: Array, *, config: LinearRFConfig
) -> dict[str, Array]:
    """Test and train MSE of one draw of linear random-feature ridge regression.

    f_hat(x) = K_N(x, X) (K_N(X, X) + delta I)^-1 y with delta = params["ridge"] on the
    unnormalised n x n Gram matrix (the convention of `rf_risk`). f_hat is linear,
    f_hat(x) = <beta, x> with beta = W^T W X^T (K_N(X, X) + delta I)^-1 y, so the population
    test error on noisy labels is exact: (beta - w*)^T diag(lambda) (beta - w*) + noise with
    w*_i = v_i / sqrt(lambda_i). train_mse is the mean squared residual on the n noisy labels.

    Args:
        params: "n_features" (N, 1 <= N <= n_features_max; traced allowed) and "ridge"
            (delta > 0 keeps the solve well-posed; delta = 0 gives NaN when singular).
        key: PRNG key.
        config: the static task.

    Returns:
        Scalars `test_mse` and `train_mse`.
    """
    n_feat = jnp.asarray(params["n_features"], float)
    delta = jnp.asarray(params["ridge"], float)
    lam, w_star = config.eigenvalues(), config.teacher()
    k_x, k_eps, k_z = jax.random.split(key, 3)
    x, y = linear_teacher_data(
        k_x, k_eps, n=config.n, eigenvalues=lam, teacher=w_star, noise=config.noise
    )
    mask = jnp.arange(config.n_features_max) < n_feat
    w = jax.random.normal(k_z, (config.n_features_max, config.d)) * mask[:, None]
    w = w / jnp.sqrt(n_feat)
    feats = x @ w.T  # n x N_max; masked features are 0
    gram = feats @ feats.T
    coef = cho_solve(cho_factor(gram + delta * jnp.eye(config.n)), y)
    beta = w.T @ (feats.T @ coef)
    err = beta - w_star
    test = jnp.sum(lam * err**2) + config.noise
    train = jnp.mean((x @ beta - y) ** 2)
    return {"test_mse": test, "train_mse": train}


def linear_rf_theory(
    params: Mapping[str, ArrayLike], *, config: LinearRFConfig
) -> dict[str, Array]:
    """`rf_risk` for the task of `config` (same params and metric names as the simulation)."""
    out = rf_risk(
        config.eigenvalues(),
        config.target_coeffs_sq(),
        n=config.n,
        n_features=params["n_features"],
        ridge=params["ridge"],
        noise=config.noise,
    )
    return {"test_mse": out["test_mse"], "train_mse": out["train_mse"]}
