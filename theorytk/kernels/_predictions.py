"""Predictions of infinitely wide networks: gradient descent / flow on MSE, NNGP posterior."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_scalar, is_concrete

METHODS = ("flow", "gd")


class GDPredictions(NamedTuple):
    """Outputs at the requested times: `train` (..., n, k) and `test` (..., m, k).

    The leading axes are learning_rate.shape + t.shape; the trailing output axis is absent
    when y_train was one-dimensional.
    """

    train: Array
    test: Array


class GaussianPosterior(NamedTuple):
    """Posterior mean (m[, k]) and covariance (m, m), or variances (m,) if only the diagonal of
    the test-test kernel was given; None if it was not given."""

    mean: Array
    covariance: Array | None


def gd_predictions(
    kernel_train_train: Float[ArrayLike, "n n"],
    kernel_test_train: Float[ArrayLike, "m n"],
    y_train: ArrayLike,
    t: ArrayLike,
    learning_rate: ArrayLike = 1.0,
    *,
    fx_train_0: ArrayLike = 0.0,
    fx_test_0: ArrayLike = 0.0,
    method: str = "flow",
    diag_reg: ArrayLike = 0.0,
) -> GDPredictions:
    """Outputs of an infinitely wide network trained on MSE, at times t, for many lr at once.

    Linearised training (Jacot et al. 2018; Lee et al. 2019, "Wide neural networks of any
    depth evolve as linear models under gradient descent", eqs. 8-10) with the NTK Theta on the
    loss (1/(2N)) sum (f(x_i) - y_i)^2, N = y_train.size (neural-tangents' `predict.
    gradient_descent_mse` convention: t counts steps, time = learning_rate * t):

        "flow": df/dt = -(lr/N) Theta (f - y)        g(lam) = exp(-lr lam t / N)
        "gd":   f_{s+1} = f_s - (lr/N) Theta (f_s - y)   g(lam) = (1 - lr lam / N)^t

    With Theta + diag_reg I = V diag(lam) V^T (one eigendecomposition for every t and lr):

        f_train(t) = y + V g(lam) V^T (f_train(0) - y)
        f_test(t)  = f_test(0) + K(test, train) V ((g(lam) - 1) / lam) V^T (f_train(0) - y)

    t = inf gives kernel (ridge) regression f_test(0) + K (Theta + diag_reg I)^-1
    (y - f_train(0)); eigenvalues below n * eps * max(lam) are treated as 0 (their modes are
    never learned: the pseudo-inverse). With the default f(0) = 0 this is the mean prediction
    over random initialisations. "gd" diverges when lr lam_max / N > 2: the outputs are then
    inf/NaN (failure as data). Non-integer t with "gd" needs lr lam / N <= 1 for every mode.

    Args:
        kernel_train_train: Theta on the training inputs (n, n), symmetric PSD.
        kernel_test_train: Theta between test and training inputs (m, n).
        y_train: targets (n,) or (n, k).
        t: time(s) in steps, >= 0 (any shape; inf allowed).
        learning_rate: step size(s) > 0 (any shape): the result is vmapped over them.
        fx_train_0, fx_test_0: outputs at t = 0 (broadcastable to (n[, k]) and (m[, k])).
        method: "flow" (gradient flow) or "gd" (discrete full-batch gradient descent).
        diag_reg: >= 0 added to the diagonal of kernel_train_train (absolute scale).

    Returns:
        `GDPredictions(train, test)` of shapes lr.shape + t.shape + (n[, k]) and (m[, k]).
    """
    k, k_test, y, dtype = _check_kernels(kernel_train_train, kernel_test_train, y_train)
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    _check_all("t", t, ">= 0 (inf allowed)", lambda v: v >= 0)
    _check_all("learning_rate", learning_rate, "finite and > 0", lambda v: np.isfinite(v) & (v > 0))
    check_scalar("diag_reg", diag_reg, ">= 0", lambda r: r >= 0)
    vector = jnp.ndim(y_train) == 1
    t, lr = jnp.asarray(t, dtype), jnp.asarray(learning_rate, dtype)
    lam, vecs, keep = _eigh(k + jnp.asarray(diag_reg, dtype) * jnp.eye(k.shape[0], dtype=dtype))
    residual = vecs.T @ (_outputs(fx_train_0, y.shape, vector, dtype) - y)
    to_test = k_test @ vecs
    f_test_0 = _outputs(fx_test_0, (k_test.shape[0], y.shape[1]), vector, dtype)

    learned = jnp.where(keep, lam, 0.0)  # modes below the cutoff never move
    count = np.size(y_train)

    def at(lr_i: Array, t_j: Array) -> tuple[Array, Array]:
        g_minus_1 = _decay_minus_one(learned, lr_i / count, t_j, method)
        train = y + vecs @ ((1 + g_minus_1)[:, None] * residual)
        ratio = jnp.where(keep, g_minus_1 / jnp.where(keep, lam, 1), 0.0)
        return train, f_test_0 + to_test @ (ratio[:, None] * residual)

    flat = jax.vmap(jax.vmap(at, (None, 0)), (0, None))(lr.reshape(-1), t.reshape(-1))
    shaped = (a.reshape(lr.shape + t.shape + a.shape[2:]) for a in flat)
    return GDPredictions(*(a[..., 0] if vector else a for a in shaped))


def _outputs(fx: ArrayLike, shape: tuple[int, int], vector: bool, dtype: jnp.dtype) -> Array:
    """Initial outputs broadcast to (rows, k); a (rows,) array for 1-d targets is a column."""
    fx = jnp.asarray(fx, dtype)
    return jnp.broadcast_to(fx[:, None] if vector and fx.ndim == 1 else fx, shape)


def _check_all(label: str, value: ArrayLike, allowed: str, ok) -> None:
    """ValueError unless every entry of a concrete real `value` satisfies `ok`."""
    if not is_concrete(value):
        return
    array = np.asarray(value)
    if not np.isrealobj(array) or array.size == 0 or not np.all(ok(array.astype(float))):
        raise ValueError(f"{label} must be {allowed} (every entry), got {value!r}")


def _decay_minus_one(lam: Array, rate: Array, t: Array, method: str) -> Array:
    """g(lam) - 1 without cancellation: expm1(-rate lam t) or (1 - rate lam)^t - 1."""
    step = rate * lam
    if method == "flow":
        exponent = jnp.where(step > 0, -step * t, 0.0)  # avoid 0 * inf
        return jnp.expm1(exponent)
    base = 1 - step
    positive = base > 0
    smooth = jnp.expm1(jnp.where(step > 0, t * jnp.log1p(-jnp.where(positive, step, 0.0)), 0.0))
    return jnp.where(positive, smooth, jnp.power(base, t) - 1)


def nngp_posterior(
    kernel_train_train: Float[ArrayLike, "n n"],
    kernel_test_train: Float[ArrayLike, "m n"],
    y_train: ArrayLike,
    kernel_test_test: Float[ArrayLike, "m m"] | Float[ArrayLike, " m"] | None = None,
    *,
    noise: ArrayLike = 0.0,
) -> GaussianPosterior:
    """Posterior of the NNGP (exact Bayesian inference in the infinitely wide network).

    Gaussian-process regression with prior covariance K (the NNGP) and observation-noise
    variance `noise` (Neal 1996; Lee et al. 2018, "Deep neural networks as Gaussian
    processes", eqs. 2-3):

        mean = K(test, X) (K(X, X) + noise I)^-1 y
        cov  = K(test, test) - K(test, X) (K(X, X) + noise I)^-1 K(X, test)

    Solved through one eigendecomposition; eigenvalues below n * eps * max are treated as 0
    (noise = 0 interpolates the training data, with the pseudo-inverse if K is singular).

    Args:
        kernel_train_train: NNGP on the training inputs (n, n).
        kernel_test_train: NNGP between test and training inputs (m, n).
        y_train: targets (n,) or (n, k).
        kernel_test_test: NNGP on the test inputs (m, m) -> full covariance, or its diagonal
            (m,) -> marginal variances; None -> no covariance.
        noise: observation-noise variance >= 0.
    """
    k, k_test, y, dtype = _check_kernels(kernel_train_train, kernel_test_train, y_train)
    check_scalar("noise", noise, ">= 0", lambda s: s >= 0)
    lam, vecs, keep = _eigh(k + jnp.asarray(noise, dtype) * jnp.eye(k.shape[0], dtype=dtype))
    inv = jnp.where(keep, 1 / jnp.where(keep, lam, 1), 0.0)
    proj = k_test @ vecs  # (m, n)
    mean = proj @ (inv[:, None] * (vecs.T @ y))
    mean = mean.reshape((k_test.shape[0],) + np.shape(y_train)[1:])
    if kernel_test_test is None:
        return GaussianPosterior(mean, None)
    k_tt = jnp.asarray(kernel_test_test, dtype)
    if k_tt.ndim == 1:
        return GaussianPosterior(mean, k_tt - jnp.sum(proj**2 * inv, axis=1))
    return GaussianPosterior(mean, k_tt - (proj * inv) @ proj.T)


def _eigh(k: Array) -> tuple[Array, Array, Array]:
    """Eigenvalues, eigenvectors and the mask of eigenvalues above n eps max(|lam|)."""
    lam, vecs = jnp.linalg.eigh((k + k.T) / 2)
    cutoff = k.shape[0] * jnp.finfo(k.dtype).eps * jnp.max(jnp.abs(lam))
    return lam, vecs, lam > cutoff


def _check_kernels(
    kernel_train_train: ArrayLike, kernel_test_train: ArrayLike, y_train: ArrayLike
) -> tuple[Array, Array, Array, jnp.dtype]:
    """Arrays in a common floating dtype; ValueError for inconsistent shapes."""
    shapes = [np.shape(a) for a in (kernel_train_train, kernel_test_train, y_train)]
    n = shapes[0][0] if len(shapes[0]) == 2 else None
    if n is None or shapes[0] != (n, n):
        raise ValueError(f"kernel_train_train must be square (n, n), got shape {shapes[0]}")
    if len(shapes[1]) != 2 or shapes[1][1] != n:
        raise ValueError(f"kernel_test_train must have shape (m, {n}), got shape {shapes[1]}")
    if len(shapes[2]) not in (1, 2) or shapes[2][0] != n:
        raise ValueError(f"y_train must have shape ({n},) or ({n}, k), got shape {shapes[2]}")
    dtype = jnp.result_type(float, kernel_train_train, kernel_test_train, y_train)
    k, k_test, y = (jnp.asarray(a, dtype) for a in (kernel_train_train, kernel_test_train, y_train))
    return k, k_test, y.reshape(n, -1), dtype
