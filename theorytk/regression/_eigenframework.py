"""Eigenframework deterministic equivalent of kernel ridge regression."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_scalar, is_concrete
from ._roots import learnabilities, log_root, safe_log


def krr_risk(
    eigenvalues: Float[ArrayLike, " P"],
    target_coeffs_sq: Float[ArrayLike, " P"],
    *,
    n: float | ArrayLike,
    ridge: float | ArrayLike,
    noise: float | ArrayLike = 0.0,
) -> dict[str, Array]:
    """Deterministic-equivalent test and train risk of kernel ridge regression on n samples.

    The kernel is K(x, x') = sum_i lambda_i phi_i(x) phi_i(x') with orthonormal phi_i, the
    target f* = sum_i v_i phi_i, labels y = f*(x) + noise of variance `noise`, and the
    predictor f_hat(x) = K(x, X) (K(X, X) + delta I)^-1 y with delta = `ridge` added to the
    *unnormalised* n x n Gram matrix (a mean-loss ridge lambda is delta = n * lambda).
    The effective regularisation kappa > 0 solves

        sum_i lambda_i / (lambda_i + kappa) + delta / kappa = n,

    and with learnabilities L_i = lambda_i / (lambda_i + kappa) and E0 = n / (n - sum_i L_i^2),

        test_mse  = E0 (sum_i (1 - L_i)^2 v_i^2 + noise)        (includes the label noise)
        train_mse = (delta / (n kappa))^2 test_mse
        rkhs_norm_sq = sum_i (L_i^2 / lambda_i) (v_i^2 + test_mse / n)

    (Simon, Dickens, Karkada & DeWeese, "The eigenlearning framework", TMLR 2023; the same
    equations as Bordelon, Canatar & Pehlevan 2020, Jacot et al. 2020 and, for linear models,
    Hastie, Montanari, Rosset & Tibshirani 2019. `rkhs_norm_sq` = E ||f_hat||_K^2 uses the
    framework's mode statistics: mean L_i v_i and variance L_i^2 test_mse / n per mode.)
    E0 is evaluated as n / (delta / kappa + sum_i L_i (1 - L_i)), equal at the root and free
    of cancellation near interpolation.

    Ridgeless case (delta = 0): for n < P the root is positive (sum_i L_i = n). For n >= P
    there is no positive root; then kappa = 0, L_i = 1, E0 = n / (n - P),
    test_mse = n / (n - P) * noise and train_mse = (n - P) / n * noise; at n = P, E0 = inf
    (the interpolation peak of double descent; test_mse = inf if noise > 0, else 0).

    kappa is found by bracketed Newton iteration in log kappa inside the explicit bracket
    max(delta / n, (P - n)_+ / sum_i 1/lambda_i) <= kappa <= (sum_i lambda_i + delta) / n,
    with a fixed number of iterations, so the function is jit- and vmap-compatible and takes
    the same time for every input. All quantities are differentiable (first order) w.r.t.
    every argument, including a traced `n`. The order of the eigenvalues does not matter.
    Results are accurate while kappa is a normal floating-point number (kappa ~ delta/(n - P)
    for n > P: not for ridges within a few decades of the smallest normal float).

    Args:
        eigenvalues: kernel eigenvalues lambda_i, shape (P,), positive, any order.
        target_coeffs_sq: squared target coefficients v_i^2, shape (P,), non-negative.
        n: number of training samples (> 0; may be a non-integer or traced float).
        ridge: delta >= 0, the ridge added to the unnormalised Gram matrix.
        noise: label-noise variance >= 0.

    Returns:
        Scalars `test_mse`, `train_mse`, `kappa`, `e0`, `dof` (= sum_i L_i, the effective
        number of fitted modes) and `rkhs_norm_sq`, in the promoted floating dtype of the
        inputs (float32 in, float32 out).
    """
    _check_inputs(eigenvalues, target_coeffs_sq, n, ridge, noise)
    dtype = jnp.result_type(float, eigenvalues, target_coeffs_sq, n, ridge, noise)
    lam, v2, n, delta, noise = (
        jnp.asarray(a, dtype) for a in (eigenvalues, target_coeffs_sq, n, ridge, noise)
    )
    log_lam = jnp.log(lam)
    n_modes = jnp.asarray(lam.shape[0], dtype)
    has_root = (delta > 0) | (n < n_modes)
    # Safe-where: the root branch is evaluated at an n that has a root, so no branch is NaN.
    n_root = jnp.where(has_root, n, 0.5 * n_modes)
    t = _log_kappa(log_lam, delta, n_root)
    # Without a root (delta = 0, n >= P) kappa = 0. Its first-order extension in delta,
    # kappa = delta / (n - P), has value 0 but gives the exact right-derivative at delta = 0.
    kappa_0 = delta / jnp.where(n > n_modes, n - n_modes, 1.0)
    kappa = jnp.where(has_root, jnp.exp(t), kappa_0)
    learn = jnp.where(has_root, jax.nn.sigmoid(log_lam - t), lam / (lam + kappa_0))
    unlearn = jnp.where(has_root, jax.nn.sigmoid(t - log_lam), kappa_0 / (lam + kappa_0))
    # r = delta / kappa = n - sum_i L_i; without a root, n - P to first order in delta.
    r = jnp.where(has_root, delta * jnp.exp(-t), n - n_modes + kappa_0 * jnp.sum(1.0 / lam))
    denom = r + jnp.sum(learn * unlearn)
    e0 = n / denom
    bias_plus_noise = jnp.sum(unlearn**2 * v2) + noise
    test = jnp.where(bias_plus_noise > 0, e0 * bias_plus_noise, 0.0)
    # train = (r / n)^2 test = (r / n) (r / denom) (bias + noise): finite at n = P, delta = 0.
    safe_denom = jnp.where(denom > 0, denom, 1.0)
    train = (r / n) * (r / safe_denom) * bias_plus_noise
    # L_i^2 / lambda_i = L_i / (lambda_i + kappa), which is 1 / lambda_i at kappa = 0.
    weight = learn / (lam + kappa)
    norm_sq = jnp.sum(weight * (v2 + test / n))
    risk = {
        "test_mse": test,
        "train_mse": train,
        "kappa": kappa,
        "e0": e0,
        "dof": jnp.sum(learn),
        "rkhs_norm_sq": norm_sq,
    }
    # traced inputs outside the domain give NaN everywhere, never a plausible number
    valid = (delta >= 0) & (n > 0) & (noise >= 0) & jnp.all(lam > 0) & jnp.all(v2 >= 0)
    return {name: jnp.where(valid, value, jnp.nan) for name, value in risk.items()}


def _residual(t: Array, log_lam: Array, delta: Array, n: Array) -> Array:
    """h(t), decreasing in t = log kappa, with the sign of sum_i L_i + delta e^-t - n.

    L_i = lambda_i / (lambda_i + e^t). h is a difference of logarithms of positive sums (nearly
    linear in t, so Newton steps are accurate far from the root) in whichever of two equal
    forms cancels less: log(sum_i L_i + delta/kappa) - log n while most modes are unlearned
    (sum_i L_i < P/2), else log(delta/kappa + (P - n)_+) - log(sum_i (1 - L_i) + (n - P)_+),
    which stays accurate when L_i -> 1 (e.g. n = P with a tiny ridge, where kappa ~ sqrt(delta)).
    """
    learn, unlearn = learnabilities(log_lam, t)
    learned, unlearned = jnp.sum(learn), jnp.sum(unlearn)
    ridge_term = delta * jnp.exp(-t)
    excess = n - log_lam.shape[0]
    return jnp.where(
        learned < unlearned,
        safe_log(learned + ridge_term) - safe_log(n),
        safe_log(ridge_term + jnp.maximum(-excess, 0.0))
        - safe_log(unlearned + jnp.maximum(excess, 0.0)),
    )


def _log_kappa(log_lam: Array, delta: Array, n: Array) -> Array:
    """log kappa at the root of `_residual` (bracketed Newton in log kappa, see `log_root`).

    The bracket is max(delta / n, (P - n)_+ / sum_i 1/lambda_i) <= kappa
    <= (sum_i lambda_i + delta) / n; see `log_root` for the solver and its gradients.
    """
    sg = jax.lax.stop_gradient
    log_lam0, delta0, n0 = sg(log_lam), sg(delta), sg(n)
    n_modes = log_lam0.shape[0]
    log_upper = jnp.logaddexp(jax.nn.logsumexp(log_lam0), jnp.log(delta0)) - jnp.log(n0)
    log_lower = jnp.maximum(
        jnp.log(delta0) - jnp.log(n0),
        jnp.log(jnp.maximum(n_modes - n0, 0.0)) - jax.nn.logsumexp(-log_lam0),
    )
    return log_root(lambda t, p: _residual(t, *p), (log_lam, delta, n), log_lower, log_upper)


def _check_inputs(
    eigenvalues: object, target_coeffs_sq: object, n: object, ridge: object, noise: object
) -> None:
    """ValueError on bad concrete inputs; traced inputs are not checked."""
    if is_concrete(eigenvalues):
        lam = np.asarray(eigenvalues)
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(f"eigenvalues must be a non-empty 1-D array, got shape {lam.shape}")
        if not (np.all(np.isfinite(lam)) and np.all(lam > 0)):
            raise ValueError(
                "eigenvalues must be positive and finite (any order), got min "
                f"{np.min(lam)!r}, max {np.max(lam)!r}, {int(np.sum(~np.isfinite(lam)))} "
                "non-finite"
            )
    if is_concrete(target_coeffs_sq):
        v2 = np.asarray(target_coeffs_sq)
        shape = np.shape(eigenvalues)
        if v2.shape != shape:
            raise ValueError(
                f"target_coeffs_sq must have the shape of eigenvalues {shape}, got {v2.shape}"
            )
        if not (np.all(np.isfinite(v2)) and np.all(v2 >= 0)):
            raise ValueError(
                "target_coeffs_sq must be non-negative and finite, got min "
                f"{np.min(v2)!r}, {int(np.sum(~np.isfinite(v2)))} non-finite"
            )
    check_scalar("n", n, "> 0", lambda x: x > 0)
    check_scalar("ridge", ridge, ">= 0", lambda x: x >= 0)
    check_scalar("noise", noise, ">= 0", lambda x: x >= 0)
