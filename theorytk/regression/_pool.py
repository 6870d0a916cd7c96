"""Finite data pools: the uniform distribution on M points, its kernel eigensystem, and the
sampling and masked ridge solve shared by the pool simulations."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_scalar, is_concrete

Kernel = Callable[[Array, Array], Array]


class DataPool:
    """A finite data set (x_a, y_a), a = 1..M: the distribution it stands for is uniform on it.

    Immutable and hashable by content (a SHA-256 of the arrays), so it can sit in a static
    field of a config (`KRRConfig`, `NonlinearRFConfig`): equal pools give equal configs, and
    the sweep's fingerprint (the config's repr) changes with the data. Labels are the
    noiseless target y_a = f*(x_a); label noise, if any, is a property of the simulation.

    Args:
        x: inputs, shape (M, d), finite.
        y: targets, shape (M,), finite.
    """

    __slots__ = ("_digest", "x", "y")

    def __init__(self, x: Float[ArrayLike, "M d"], y: Float[ArrayLike, " M"]) -> None:
        x, y = np.array(x), np.array(y)
        if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
            raise ValueError(f"x must have shape (M, d) with M >= 2, d >= 1, got {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"y must have shape (M,) = ({x.shape[0]},) like x, got {y.shape}")
        for name, a in (("x", x), ("y", y)):
            if not (np.isrealobj(a) and np.all(np.isfinite(a))):
                raise ValueError(
                    f"{name} must be real and finite, got {np.sum(~np.isfinite(a))} NaN/inf"
                )
        x.flags.writeable = y.flags.writeable = False
        digest = hashlib.sha256(f"{x.shape}{x.dtype}{y.dtype}".encode() + x.tobytes() + y.tobytes())
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "_digest", digest.hexdigest())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("DataPool is immutable")

    @property
    def size(self) -> int:
        """M, the number of points."""
        return self.x.shape[0]

    def __hash__(self) -> int:
        return hash(self._digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataPool) and other._digest == self._digest

    def __repr__(self) -> str:
        return f"DataPool(M={self.x.shape[0]}, d={self.x.shape[1]}, sha256={self._digest[:16]})"


class PoolEigensystem(NamedTuple):
    """The kernel eigenvalues, squared target coefficients and noise of a pool, as `krr_risk`
    and `rf_risk` take them (eigenvalues in decreasing order)."""

    eigenvalues: Array
    target_coeffs_sq: Array
    noise: Array


def pool_eigensystem(
    gram: Float[ArrayLike, "M M"], targets: Float[ArrayLike, " M"], *, rtol: float | None = None
) -> PoolEigensystem:
    """Eigenvalues lambda_i and target coefficients v_i^2 of a kernel under the uniform
    distribution on M pool points, in the convention of `krr_risk` / `rf_risk`.

    With the pool measure mu = (1/M) sum_a delta_{x_a}, the kernel's integral operator is K/M
    (K the M x M Gram). Its eigendecomposition K/M = U diag(lambda) U^T (U orthogonal) gives the
    eigenfunctions phi_i(x_a) = sqrt(M) U_ai, orthonormal in L2(mu): (1/M) sum_a phi_i phi_j =
    delta_ij, and K(x_a, x_b) = sum_i lambda_i phi_i(x_a) phi_i(x_b). The target y = f*(x_a)
    then has f* = sum_i v_i phi_i with

        v_i = <f*, phi_i>_mu = (U^T y)_i / sqrt(M),   sum_i v_i^2 = (1/M) sum_a y_a^2.

    The theory is exact in its own terms for training points drawn i.i.d. from mu (with
    replacement) and the test error over mu; for real data it estimates the population
    eigensystem from the pool (accurate for the modes with index << M; Simon et al., "More is
    better in modern machine learning", 2023, and "The eigenlearning framework", 2023, Sec. 6).

    A Gram with an eigenvalue below -rtol max|lambda| is not positive semidefinite beyond
    rounding and is refused (ValueError). Modes with |lambda_i| <= rtol max|lambda|
    (numerically zero eigenvalues of a PSD Gram) cannot be learned from any sample: their
    learnability L_i = lambda_i / (lambda_i + kappa) is 0, and in `krr_risk` a mode with
    L_i = 0 contributes E0 v_i^2, exactly as label noise of variance v_i^2 does. They are
    dropped and their power is returned as `noise` (0 for a Gram of full numerical rank).
    Add any true label-noise variance to it.

    Args:
        gram: the kernel Gram K(x_a, x_b) on the pool, shape (M, M), symmetric, finite.
        targets: y_a, shape (M,), finite.
        rtol: relative size of numerically zero eigenvalues (dropped if positive, refused
            below -rtol); default 10 M eps of the dtype.

    Returns:
        `PoolEigensystem(eigenvalues (P,), target_coeffs_sq (P,), noise ())` with P <= M kept
        modes, eigenvalues positive and decreasing, in the floating dtype of the inputs.
    """
    _check_pool_inputs(gram, targets, rtol)
    dtype = jnp.result_type(float, gram, targets)
    k, y = np.asarray(gram, dtype), np.asarray(targets, dtype)
    m = k.shape[0]
    # LAPACK's divide-and-conquer driver: ~3x faster than jnp.linalg.eigh on CPU at M ~ 2000.
    lam, u = scipy.linalg.eigh(0.5 * (k + k.T) / m, driver="evd")
    lam, u = lam[::-1], u[:, ::-1]
    v2 = (u.T @ y) ** 2 / m
    cut = (10 * m * np.finfo(dtype).eps if rtol is None else rtol) * np.max(np.abs(lam))
    if lam[-1] < -cut:
        raise ValueError(
            f"gram must be positive semidefinite: its smallest eigenvalue (of K/M) is "
            f"{lam[-1]:.3g}, below -rtol max|eigenvalue| = {-cut:.3g}, more than rounding "
            "(a kernel that is not PSD has no eigenframework)"
        )
    keep = lam > cut
    noise = np.sum(v2[~keep], dtype=dtype)
    return PoolEigensystem(*(jnp.asarray(a, dtype) for a in (lam[keep], v2[keep], noise)))


def _check_pool_inputs(gram: object, targets: object, rtol: float | None) -> None:
    """ValueError on bad concrete inputs of `pool_eigensystem`."""
    if not (is_concrete(gram) and is_concrete(targets)):
        raise ValueError("pool_eigensystem needs concrete arrays (it chooses the kept modes)")
    k, y = np.asarray(gram), np.asarray(targets)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] < 1:
        raise ValueError(f"gram must be a square (M, M) matrix, got shape {k.shape}")
    if y.shape != (k.shape[0],):
        raise ValueError(f"targets must have shape ({k.shape[0]},) to match gram, got {y.shape}")
    if not (np.all(np.isfinite(k)) and np.all(np.isfinite(y))):
        raise ValueError("gram and targets must be finite, got NaN or inf")
    scale = np.max(np.abs(k))
    if not np.allclose(k, k.T, rtol=0, atol=1e-8 * scale):
        raise ValueError("gram must be symmetric (a kernel Gram on one set of points)")
    if not scale > 0:
        raise ValueError("gram is zero: a kernel with no positive eigenvalue cannot be used")
    if rtol is not None:
        check_scalar("rtol", rtol, "in [0, 1)", lambda r: 0 <= r < 1)


@functools.lru_cache(maxsize=16)
def pool_gram(pool: DataPool, kernel: Kernel) -> np.ndarray:
    """kernel(x, x) on the pool, computed once per (pool, kernel) even when called while
    tracing (`jax.ensure_compile_time_eval`), so simulations embed it as a constant."""
    with jax.ensure_compile_time_eval():
        gram = np.asarray(kernel(jnp.asarray(pool.x), jnp.asarray(pool.x)))
    if gram.shape != (pool.size, pool.size) or not np.all(np.isfinite(gram)):
        raise ValueError(
            f"kernel(x, x) must be a finite ({pool.size}, {pool.size}) Gram, got shape "
            f"{gram.shape} with {np.sum(~np.isfinite(gram))} NaN/inf"
        )
    return gram


@functools.lru_cache(maxsize=16)
def cached_eigensystem(pool: DataPool, kernel: Kernel) -> PoolEigensystem:
    """`pool_eigensystem` of the pool's Gram under `kernel`, computed once (numpy arrays)."""
    with jax.ensure_compile_time_eval():
        eig = pool_eigensystem(pool_gram(pool, kernel), pool.y)
    return PoolEigensystem(*(np.asarray(a) for a in eig))


def draw_training_set(
    key: Array, pool_size: int, n_max: int, n: Array, holdout: bool
) -> tuple[Array, Array, Array]:
    """Indices of n_max candidate training points, the mask of the first n, and test weights.

    holdout=False: i.i.d. uniform indices (with replacement) and test weight 1 on every pool
    point (the population error under the uniform pool distribution). holdout=True: the first
    n_max of a random permutation (no repeats) and test weight 1 only on the points not among
    the first n (held-out error). The first n indices do not depend on n.
    """
    real = jnp.arange(n_max) < n
    if holdout:
        idx = jax.random.permutation(key, pool_size)[:n_max]
        test = jnp.ones(pool_size).at[idx].set(jnp.where(real, 0.0, 1.0))
    else:
        idx = jax.random.randint(key, (n_max,), 0, pool_size)
        test = jnp.ones(pool_size)
    return idx, real, test


def masked_ridge_solve(
    gram: Float[Array, "n_max n_max"], y: Float[Array, " n_max"], real: Array, delta: Array
) -> Float[Array, " n_max"]:
    """alpha = (K + delta I)^-1 y on the real rows, 0 on the masked ones.

    The masked rows and columns are replaced by those of the identity (with zero labels), so
    the system is block diagonal and the real block is solved exactly. LU (`jnp.linalg.solve`)
    rather than Cholesky: under `vmap` on CPU, XLA's batched Cholesky is ~15x slower.
    """
    both = real[:, None] & real[None, :]
    a = jnp.where(both, gram, 0.0) + jnp.diag(jnp.where(real, delta, 1.0))
    return jnp.linalg.solve(a, jnp.where(real, y, 0.0))


def pool_metrics(
    pred: Float[Array, " M"],
    pool_y: Float[Array, " M"],
    test_weights: Float[Array, " M"],
    residual: Float[Array, " n_max"],
    real: Array,
    noise: Array,
) -> dict[str, Array]:
    """test_mse = weighted mean of (f_hat - f*)^2 over the pool + noise (the error on fresh
    noisy labels); train_mse = mean squared residual over the n real training rows."""
    test = jnp.sum(test_weights * (pred - pool_y) ** 2) / jnp.sum(test_weights) + noise
    train = jnp.sum(jnp.where(real, residual**2, 0.0)) / jnp.sum(real)
    return {"test_mse": test, "train_mse": train}
