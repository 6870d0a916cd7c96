"""Linear ridge regression on Gaussian data: simulation and eigenframework theory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve
from jaxtyping import Array, ArrayLike, Float

from .. import sweep
from .._validation import check_integer, check_scalar
from ..sweep import Status
from ._eigenframework import krr_risk
from ._gaussian import linear_teacher_data, power_law

_SPECTRA = ("isotropic", "power_law")
_TARGETS = ("isotropic", "power_law")


class RidgeConfig(eqx.Module):
    """The static task of linear ridge regression: data covariance, teacher, noise, sizes.

    Data x ~ N(0, Sigma) with Sigma = diag(lambda_1, ..., lambda_d), labels
    y = <w*, x> + eps with eps ~ N(0, noise). Spectra: "isotropic" (lambda_i = 1) or
    "power_law" (lambda_i = i^-eigen_decay, i = 1..d). Targets, in terms of the squared
    coefficients v_i^2 = lambda_i w*_i^2 of f*(x) = <w*, x> on the orthonormal features
    x_i / sqrt(lambda_i): "isotropic" (all w*_i equal) or "power_law"
    (v_i^2 proportional to i^-target_decay); either is scaled so that the target power
    E f*(x)^2 = ||w*||_Sigma^2 = sum_i v_i^2 equals `signal`. All w*_i are >= 0 (for a
    diagonal Gaussian the risk does not depend on their signs). `teacher` defines w*, and
    `eigenvalues` / `target_coeffs_sq` derive the theory's inputs from the same w*.

    Args:
        d: input dimension (number of eigenmodes P = d).
        n_max: largest number of training samples; `simulate` draws n_max rows and masks the
            rows >= n, so n is a dynamic (traced, vmappable) parameter.
        spectrum: "isotropic" or "power_law".
        eigen_decay: power-law exponent of the spectrum (used by "power_law").
        target: "isotropic" or "power_law".
        target_decay: power-law exponent of v_i^2 (used by target "power_law").
        signal: target power ||w*||_Sigma^2 >= 0.
        noise: default label-noise variance >= 0 (overridden by params["noise"]).
    """

    d: int = eqx.field(static=True)
    n_max: int = eqx.field(static=True)
    spectrum: str = eqx.field(static=True, default="isotropic")
    eigen_decay: float = eqx.field(static=True, default=1.0)
    target: str = eqx.field(static=True, default="isotropic")
    target_decay: float = eqx.field(static=True, default=1.0)
    signal: float = eqx.field(static=True, default=1.0)
    noise: float = eqx.field(static=True, default=0.0)

    def __check_init__(self) -> None:
        for name in ("d", "n_max"):
            check_integer(name, getattr(self, name))
        if self.spectrum not in _SPECTRA:
            raise ValueError(f"spectrum must be one of {_SPECTRA}, got {self.spectrum!r}")
        if self.target not in _TARGETS:
            raise ValueError(f"target must be one of {_TARGETS}, got {self.target!r}")
        for name in ("eigen_decay", "target_decay"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        for name in ("signal", "noise"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def eigenvalues(self, dtype: Any = float) -> Float[Array, " d"]:
        """The covariance eigenvalues lambda_i (1, or i^-eigen_decay), shape (d,)."""
        if self.spectrum == "isotropic":
            return jnp.ones(self.d, dtype)
        return power_law(self.d, self.eigen_decay, dtype)

    def teacher(self, dtype: Any = float) -> Float[Array, " d"]:
        """The teacher w*, shape (d,), with ||w*||_Sigma^2 = signal."""
        lam = self.eigenvalues(dtype)
        if self.target == "isotropic":
            shape = jnp.ones(self.d, dtype) / jnp.sqrt(jnp.sum(lam))
        else:
            v2 = power_law(self.d, self.target_decay, dtype)
            shape = jnp.sqrt(v2 / jnp.sum(v2) / lam)
        return jnp.sqrt(jnp.asarray(self.signal, dtype)) * shape

    def target_coeffs_sq(self, dtype: Any = float) -> Float[Array, " d"]:
        """The squared target coefficients v_i^2 = lambda_i w*_i^2, shape (d,)."""
        return self.eigenvalues(dtype) * self.teacher(dtype) ** 2


def unnormalised_ridge(lam: ArrayLike, n: ArrayLike) -> Array:
    """The Gram-matrix ridge delta = n * lam of the mean-loss ridge `lam` on n samples.

    Minimising (1/n) ||X w - y||^2 + lam ||w||^2 gives (X^T X + n lam I) w = X^T y, i.e.
    kernel ridge regression with delta = n * lam added to the unnormalised Gram matrix X X^T,
    the `ridge` of `krr_risk`, `rf_risk` and the other models.
    """
    return jnp.asarray(n) * jnp.asarray(lam)


@sweep.domain(lam=sweep.POSITIVE, n=sweep.POSITIVE_INTEGER, noise=sweep.NONNEGATIVE)
def simulate_ridge(
    params: Mapping[str, ArrayLike], key: Array, *, config: RidgeConfig
) -> dict[str, Array]:
    """Test error, train error and weight norm of ridge regression fitted on n Gaussian samples.

    Draws n_max rows x ~ N(0, diag(lambda)), y = <w*, x> + eps, zeroes the rows >= n (zero
    rows leave X^T X and X^T y unchanged) and solves (X^T X + n lam I) w = X^T y by
    Cholesky, the minimiser of the mean loss (1/n) ||X w - y||^2 + lam ||w||^2 (so
    delta = n lam on the Gram matrix, `unnormalised_ridge`). The first n rows do not depend
    on n_max, and a larger n adds rows.

        test_mse  = (w - w*)^T Sigma (w - w*) + noise       (exact population risk)
        train_mse = (1/n) ||X w - y||^2                     (over the n real rows)
        weight_norm = ||w||

    The simulation needs lam > 0 (lam = 0 with n <= d is a singular system; the ridgeless
    limit is approached by a small positive lam) and an integer 1 <= n <= n_max. Concrete
    values outside that raise ValueError (and `sweep.run` refuses them in a grid before
    tracing); traced ones give NaN metrics and `status` = `Status.INVALID`.

    Args:
        params: "lam" (mean-loss ridge > 0), "n" (1 <= n <= n_max), optionally "noise"
            (label-noise variance, default `config.noise`); scalars, may be traced.
        key: PRNG key.
        config: the task (sizes, spectrum, teacher).

    Returns:
        Scalars `test_mse`, `train_mse`, `weight_norm` in the params' floating dtype, and
        `status` (`Status.OK`, or `Status.INVALID` for traced parameters out of the domain).
    """
    lam, n, noise = _read_params(params, config, simulation=True)
    dtype = jnp.result_type(float, lam, n, noise)
    lam, n, noise = (jnp.asarray(a, dtype) for a in (lam, n, noise))
    key_x, key_eps = jax.random.split(key)
    x, y = linear_teacher_data(
        key_x,
        key_eps,
        n=config.n_max,
        eigenvalues=config.eigenvalues(dtype),
        teacher=config.teacher(dtype),
        noise=noise,
    )
    real = jnp.arange(config.n_max) < n
    x = jnp.where(real[:, None], x, 0.0)
    y = jnp.where(real, y, 0.0)
    n_real = jnp.sum(real).astype(dtype)
    w = _fit(x, y, unnormalised_ridge(lam, n_real))
    w_star = config.teacher(dtype)
    metrics = {
        "test_mse": jnp.sum(config.eigenvalues(dtype) * (w - w_star) ** 2) + noise,
        "train_mse": jnp.sum((x @ w - y) ** 2) / n_real,
        "weight_norm": jnp.linalg.norm(w),
    }
    valid = (lam > 0) & (n >= 1) & (n <= config.n_max) & (n % 1 == 0) & (noise >= 0)
    return {
        **{name: jnp.where(valid, value, jnp.nan) for name, value in metrics.items()},
        "status": jnp.where(valid, Status.OK, Status.INVALID).astype(jnp.int8),
    }


@sweep.domain(lam=sweep.NONNEGATIVE, n=sweep.POSITIVE, noise=sweep.NONNEGATIVE)
def ridge_theory(params: Mapping[str, ArrayLike], *, config: RidgeConfig) -> dict[str, Array]:
    """Eigenframework prediction of ridge regression's test error, train error and weight norm.

    The estimator minimises the mean loss (1/n) ||X w - y||^2 + lam ||w||^2: `krr_risk` with
    eigenvalues lambda_i, v_i^2 = lambda_i w*_i^2 (both from `config`) and the Gram-matrix
    ridge delta = unnormalised_ridge(lam, n) = n * lam (Hastie et al. 2019; Simon et al.,
    "The eigenlearning framework", 2023). `weight_norm` is the root-mean-square prediction
    sqrt(E ||w||^2) = sqrt(sum_i (L_i^2 / lambda_i)(v_i^2 + test_mse / n)). lam = 0 gives
    the ridgeless (minimum-norm) limit, with the interpolation peak test_mse = inf at n = d
    when noise > 0.

    Args:
        params: "lam" (mean-loss ridge >= 0), "n" (> 0, may be non-integer), optionally
            "noise" (default `config.noise`); scalars, may be traced.
        config: the task (spectrum, teacher); n_max is not used.

    Returns:
        Scalars `test_mse`, `train_mse`, `weight_norm`, `kappa` (the effective regularisation
        on the unnormalised scale, comparable with delta), in the params' floating dtype.
    """
    lam, n, noise = _read_params(params, config, simulation=False)
    dtype = jnp.result_type(float, lam, n, noise)
    lam, n, noise = (jnp.asarray(a, dtype) for a in (lam, n, noise))
    risk = krr_risk(
        config.eigenvalues(dtype),
        config.target_coeffs_sq(dtype),
        n=n,
        ridge=unnormalised_ridge(lam, n),
        noise=noise,
    )
    return {
        "test_mse": risk["test_mse"],
        "train_mse": risk["train_mse"],
        "weight_norm": jnp.sqrt(risk["rkhs_norm_sq"]),
        "kappa": risk["kappa"],
    }


def _fit(x: Float[Array, "n_max d"], y: Float[Array, " n_max"], delta: Array) -> Float[Array, " d"]:
    """The ridge solution of (X^T X + delta I) w = X^T y, by Cholesky."""
    gram = x.T @ x + delta * jnp.eye(x.shape[1], dtype=x.dtype)
    return cho_solve(cho_factor(gram), x.T @ y)


def _read_params(
    params: Mapping[str, ArrayLike], config: RidgeConfig, *, simulation: bool
) -> tuple[ArrayLike, ArrayLike, ArrayLike]:
    """(lam, n, noise) from params; ValueError for bad concrete values."""
    missing = [name for name in ("lam", "n") if name not in params]
    if missing:
        hint = " ('ridge' is now 'lam', the mean-loss ridge)" if "ridge" in params else ""
        raise ValueError(f"params must contain 'lam' and 'n', missing {missing}{hint}")
    lam, n, noise = params["lam"], params["n"], params.get("noise", config.noise)
    if simulation:
        check_scalar("params['lam']", lam, "> 0 in the simulation", lambda r: r > 0)
        check_scalar(
            "params['n']",
            n,
            f"an integer in [1, n_max = {config.n_max}]",
            lambda m: m == np.round(m) and 1 <= m <= config.n_max,
        )
    else:
        check_scalar("params['lam']", lam, ">= 0", lambda r: r >= 0)
        check_scalar("params['n']", n, "> 0", lambda m: m > 0)
    check_scalar("params['noise']", noise, ">= 0", lambda s: s >= 0)
    return lam, n, noise
