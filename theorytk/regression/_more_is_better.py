"""Optimal-ridge risks of random-feature and kernel ridge regression over many (n, N) at once:
the "more is better" and "overfitting is obligatory" curves of Simon, Karkada, Ghosh & Belkin
("More is better in modern machine learning", 2023)."""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr
from jaxtyping import ArrayLike, Float

from ._eigenframework import krr_risk
from ._optimal_ridge import optimal_ridge

# Points per compiled call: every batch is cut into chunks of this many (the last one padded),
# so one compilation serves every batch size and memory stays bounded.
_CHUNK = 64
_METRICS = ("ridge", "test_mse", "train_mse", "fitting_ratio", "at_zero")
_OPTIMA = ("ridge", "test_mse", "train_mse", "fitting_ratio")


@jax.jit
@jax.vmap
def _rf_optimum(lam, v2, n, n_features, noise):
    return optimal_ridge(lam, v2, n=n, n_features=n_features, noise=noise)


@jax.jit
@jax.vmap
def _krr_optimum(lam, v2, n, n_features, noise):
    del n_features  # infinite: kernel ridge regression
    return optimal_ridge(lam, v2, n=n, noise=noise)


def rf_optima(
    eigenvalues: Float[ArrayLike, "*batch P"],
    target_coeffs_sq: Float[ArrayLike, "*batch P"],
    *,
    n: Float[ArrayLike, " *batch"],
    n_features: Float[ArrayLike, " *batch"] = np.inf,
    noise: Float[ArrayLike, " *batch"] = 0.0,
) -> dict[str, np.ndarray]:
    """`optimal_ridge` at every point of a batch of tasks and sizes, in compiled chunks.

    For each point, the ridge delta* >= 0 (on the unnormalised Gram matrix) minimising the
    eigenframework test error of random-feature ridge regression with N = `n_features`
    features (`rf_risk`), or of kernel ridge regression where N = inf (`krr_risk`), and the
    risks at delta*. All arguments broadcast against each other (eigenvalues and
    target_coeffs_sq over their leading axes): e.g. one spectrum with arrays n and N of
    the same shape, or one (B, P) target per point. Outside jit (it returns NumPy arrays).

    Args:
        eigenvalues: kernel eigenvalues lambda_i, shape (..., P), positive and finite.
        target_coeffs_sq: squared target coefficients v_i^2, shape (..., P), >= 0 and finite.
        n: numbers of training samples (>= 1 where N is finite, > 0 where N = inf).
        n_features: numbers of random features N >= 1, or inf for kernel ridge regression.
        noise: label-noise variances >= 0.

    Returns:
        Arrays of the broadcast batch shape: `ridge` (delta*), `test_mse`, `train_mse`,
        `fitting_ratio` (train/test at delta*) and `at_zero` (bool, delta* = 0).
    """
    lam, v2 = np.asarray(eigenvalues, float), np.asarray(target_coeffs_sq, float)
    n, feats, noise = (np.asarray(a, float) for a in (n, n_features, noise))
    _check_batch(lam, v2, n, feats, noise)
    shape = np.broadcast_shapes(lam.shape[:-1], v2.shape[:-1], n.shape, feats.shape, noise.shape)
    lam, v2 = (
        np.broadcast_to(a, (*shape, a.shape[-1])).reshape(-1, a.shape[-1]) for a in (lam, v2)
    )
    n, feats, noise = (np.broadcast_to(a, shape).ravel() for a in (n, feats, noise))
    out = {name: np.empty(n.size, bool if name == "at_zero" else float) for name in _METRICS}
    for fn, where in ((_rf_optimum, np.isfinite(feats)), (_krr_optimum, np.isinf(feats))):
        for name, values in _chunked(fn, where, lam, v2, n, feats, noise).items():
            out[name][where] = values
    return {name: values.reshape(shape) for name, values in out.items()}


def _check_batch(lam, v2, n, feats, noise) -> None:
    """ValueError naming the first bad argument of `rf_optima`."""
    if lam.ndim == 0 or lam.shape[-1] == 0 or not np.all(np.isfinite(lam) & (lam > 0)):
        raise ValueError("eigenvalues must be a non-empty (..., P) array of positive finite values")
    if v2.shape[-1:] != lam.shape[-1:] or not np.all(np.isfinite(v2) & (v2 >= 0)):
        raise ValueError(
            f"target_coeffs_sq must be finite and >= 0 with last axis P = {lam.shape[-1]}, "
            f"got shape {v2.shape}"
        )
    if np.any(np.isnan(feats) | (feats < 1)):
        raise ValueError(f"n_features must be >= 1 or inf, got {feats.ravel().tolist()}")
    n_b, feats_b = np.broadcast_arrays(n, feats)
    if not np.all(np.isfinite(n_b) & np.where(np.isfinite(feats_b), n_b >= 1, n_b > 0)):
        raise ValueError(
            f"n must be finite, >= 1 with features and > 0 for N = inf, got {n.ravel().tolist()}"
        )
    if not np.all(np.isfinite(noise) & (noise >= 0)):
        raise ValueError(f"noise must be finite and >= 0, got {noise.ravel().tolist()}")


def _chunked(fn, where: np.ndarray, *arrays: np.ndarray) -> dict[str, np.ndarray]:
    """fn on the rows `where` of `arrays`, in chunks of _CHUNK rows (the last padded)."""
    rows = [a[where] for a in arrays]
    size = int(where.sum())
    pieces = []
    for start in range(0, size, _CHUNK):
        chunk = [a[start : start + _CHUNK] for a in rows]
        pad = _CHUNK - chunk[0].shape[0]
        chunk = [np.concatenate([a, np.repeat(a[:1], pad, axis=0)]) for a in chunk]
        out = fn(*chunk)
        pieces.append({name: np.asarray(out[name])[: _CHUNK - pad] for name in _METRICS})
    return {name: np.concatenate([p[name] for p in pieces]) for name in _METRICS} if pieces else {}


def more_is_better(
    eigenvalues: Float[ArrayLike, " P"],
    target_coeffs_sq: Float[ArrayLike, " P"],
    *,
    n: Float[ArrayLike, " n"],
    n_features: Float[ArrayLike, " N"],
    noise: float = 0.0,
) -> xr.Dataset:
    """The optimal test error of random-feature ridge regression on the grid n x N and at N = inf.

    At every (n, N), the ridge delta* minimising the eigenframework test error (`rf_optima`),
    and the same for kernel ridge regression (N = inf) at every n. Simon, Karkada, Ghosh &
    Belkin ("More is better in modern machine learning", 2023, Theorem 1): at the optimal
    ridge, the test error is non-increasing in N and in n, and kernel ridge regression
    (N = inf) is below every finite N. With noise = 0 and a target decaying faster than the
    spectrum, delta* = 0 and the fitting ratio train/test is 0 ("overfitting is obligatory").

    Args:
        eigenvalues: kernel eigenvalues lambda_i, shape (P,), positive.
        target_coeffs_sq: squared target coefficients v_i^2, shape (P,), >= 0.
        n: training-set sizes (>= 1), shape (n,).
        n_features: feature counts N (>= 1, finite), shape (N,).
        noise: label-noise variance >= 0.

    Returns:
        A Dataset over dims ("n", "n_features") with `ridge` (delta*), `test_mse`, `train_mse`
        and `fitting_ratio` at the optimum, and over "n" the same at N = inf with the suffix
        `_krr`.
    """
    ns, feats = np.asarray(n, float).ravel(), np.asarray(n_features, float).ravel()
    if not np.all(np.isfinite(feats)):
        raise ValueError(f"n_features must be finite (N = inf is added), got {feats.tolist()}")
    columns = np.append(feats, np.inf)
    out = rf_optima(
        eigenvalues, target_coeffs_sq, n=ns[:, None], n_features=columns[None, :], noise=noise
    )
    dims = ("n", "n_features")
    names = ("ridge", "test_mse", "train_mse", "fitting_ratio")
    return xr.Dataset(
        {name: (dims, out[name][:, :-1]) for name in names}
        | {f"{name}_krr": ("n", out[name][:, -1]) for name in names},
        coords={"n": np.asarray(n).ravel(), "n_features": feats},
        attrs={"noise": float(noise)},
    )


@jax.jit
@jax.vmap
def _ridgeless_risk(lam, v2, n):
    return krr_risk(lam, v2, n=n, ridge=0.0)["test_mse"]


def noisy_optima(
    eigenvalues: Float[ArrayLike, " P"],
    target_coeffs_sq: Float[ArrayLike, " P"],
    *,
    n: Float[ArrayLike, " n"],
    relative_noise: Float[ArrayLike, " r"],
    n_features: float = np.inf,
) -> xr.Dataset:
    """The optimal ridge and fitting ratio with label noise scaled to the ridgeless risk at n.

    The noisy case of Simon, Karkada, Ghosh & Belkin ("More is better in modern machine
    learning", ICLR 2024, Section 5; their `scripts/opt-ridge.py` adds label noise of variance
    `relative_noise` times the noiseless ridgeless test error at the same n): at every
    (relative_noise r, n) the label-noise variance is

        noise = r * E_0(n),   E_0(n) = krr_risk(..., n, ridge=0, noise=0)["test_mse"],

    and `rf_optima` gives the ridge delta* minimising the test error (RF with N =
    `n_features`, or KRR for N = inf), the risks at delta* and the fitting ratio
    train/test at delta*. A fixed noise would dominate the shrinking error as n grows and
    drive delta*/n and the fitting ratio to 1; noise proportional to E_0(n) keeps the
    problem self-similar for power-law tasks (lambda_i = i^-alpha, v_i^2 = i^-beta), so the
    optimal fitting ratio depends on (alpha, beta, r), not on n (up to the cutoff of P
    modes). The paper's claim is that it stays small, train error << test error
    ("overfitting is obligatory"), for beta >= alpha at moderate noise.

    Args:
        eigenvalues: kernel eigenvalues lambda_i, shape (P,), positive.
        target_coeffs_sq: squared target coefficients v_i^2, shape (P,), >= 0.
        n: training-set sizes (>= 1), shape (n,).
        relative_noise: noise variances in units of E_0(n), >= 0, shape (r,).
        n_features: number of random features N >= 1, or inf (kernel ridge regression).

    Returns:
        A Dataset over ("relative_noise", "n") with `ridge` (delta*), `test_mse`,
        `train_mse` and `fitting_ratio` at the optimum, and `noise` (the absolute label-noise
        variance); `ridgeless_noiseless` = E_0 over "n".
    """
    ns = np.asarray(n, float).ravel()
    rel = np.asarray(relative_noise, float).ravel()
    if not np.all(np.isfinite(rel) & (rel >= 0)):
        raise ValueError(f"relative_noise must be finite and >= 0, got {rel.tolist()}")
    lam, v2 = np.asarray(eigenvalues, float), np.asarray(target_coeffs_sq, float)
    _check_batch(lam, v2, ns, np.asarray(float(n_features)), np.zeros(1))
    rows = [np.broadcast_to(a, (ns.size, a.shape[-1])) for a in (lam, v2)]
    base = np.asarray(_ridgeless_risk(*rows, ns))
    noise = rel[:, None] * base[None, :]
    out = rf_optima(lam, v2, n=ns[None, :], n_features=n_features, noise=noise)
    dims = ("relative_noise", "n")
    return xr.Dataset(
        {name: (dims, out[name]) for name in _OPTIMA}
        | {"noise": (dims, noise), "ridgeless_noiseless": ("n", base)},
        coords={"relative_noise": rel, "n": ns},
        attrs={"n_features": float(n_features)},
    )
