"""Problem generators: a key and static sizes in, a finite-sum problem out (vmappable over keys).

Traced parameters (heterogeneity, conditioning) are allowed, so a sweep can vary them; sizes are
static. Concrete bad values raise ValueError before anything is traced.

Padding: the random linear families take `size` >= n, the components to store. They draw
every random number of the n = size problem and sum its first n components
(`LinearProblem.active`), so n may then be traced and problems with different n share one
shape and one compilation. Threefry draws depend on an element's position only, so the first n
components are drawn as for n alone: the padded problem is the n-component one up to the
float rounding of its means over the components. The draws depend on the dtype too: one key
gives other numbers in float32 than in float64 (with jax_enable_x64), hence another problem
with other constants (`mean_cocoercivity` and the like).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Int

from .._validation import check_scalar, is_concrete
from ._constraints import SimplexProduct
from ._problems import (
    LinearProblem,
    PairSplitProblem,
    check_active,
    check_size,
    game_matrix,
    masked_mean,
    spectral_norm,
)


def policeman_burglar(
    key: Array | None = None, n: int = 500, theta: float = 0.8, *, w: ArrayLike | None = None
) -> PairSplitProblem:
    """The policeman-and-burglar matrix game of the authors' code (Nemirovski 2013).

    A_ij = w_j (1 - exp(-theta |i - j|)), w_j = |N(0, 1)|; min_x max_y y^T A x over two
    simplices of size n; F(x, y) = (A^T y, -A x), components F_i = n (y_i A[i, :], -x_i A[:, i]).
    w is drawn from `key`, or given. The authors' instance (their NumPy seed 1, n = 500):

        w = np.abs(np.random.RandomState(1).standard_normal(500))
        problem = monotone.policeman_burglar(w=w)

    Args:
        key: PRNG key for w (ignored when `w` is given).
        n: number of houses (= components), static; with `w`, n = len(w).
        theta: distance decay of the catch probability, > 0.
        w: the house values, shape (n,), finite and >= 0 (default: |N(0, 1)| from `key`).
    """
    check_scalar("theta", theta, "> 0", lambda t: t > 0)
    if w is None:
        if key is None:
            raise ValueError("policeman_burglar needs a key or the house values w")
        check_size("n", n)
        w = jnp.abs(jax.random.normal(key, (n,)))
    else:
        w = jnp.asarray(w, float)
        if w.ndim != 1 or w.shape[0] < 1:
            raise ValueError(f"policeman_burglar needs w of shape (n,), got shape {w.shape}")
        if is_concrete(w) and not np.all(np.isfinite(np.asarray(w)) & (np.asarray(w) >= 0)):
            raise ValueError("policeman_burglar needs finite house values w >= 0")
        n = w.shape[0]
    i = jnp.arange(n)
    a = w[None, :] * (1.0 - jnp.exp(-theta * jnp.abs(i[:, None] - i[None, :])))
    return matrix_game(a)


def random_matrix_game(key: Array, n: int) -> PairSplitProblem:
    """A matrix game with A_ij ~ Uniform(-1, 1), both players on simplices of size n."""
    check_size("n", n)
    return matrix_game(jax.random.uniform(key, (n, n), minval=-1.0, maxval=1.0))


def matrix_game(a: ArrayLike) -> PairSplitProblem:
    """The game min_x max_y y^T A x over simplices, split by rows/columns (A square)."""
    a = jnp.asarray(a, float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"matrix_game needs a square matrix A (m, m), got shape {a.shape}")
    if is_concrete(a) and not np.all(np.isfinite(np.asarray(a))):
        raise ValueError("matrix_game needs a finite matrix A, got NaN or inf entries")
    m = a.shape[0]
    return PairSplitProblem(
        game_matrix(a), jnp.zeros(2 * m, a.dtype), SimplexProduct((m, m)), game=True
    )


def authors_quadratic(n: int = 200) -> PairSplitProblem:
    """The finite-sum quadratic min-max problem of the authors' code (deterministic).

    min_x max_y (1/2) x^T H x - h^T x - y^T (A x - b), A_{i, n-1-i} = 1/4,
    A_{i, n-2-i} = -1/4, H = 2 A^T A, b = 1/4, h = e_n / 4 (Ouyang and Xu 2021's lower-bound
    instance); F(x, y) = (H x - h - A^T y, A x - b), split by coordinate pairs. A is invertible,
    so the unique solution solves F(z) = 0.

    Args:
        n: size of x and y (= components), static.
    """
    check_size("n", n)
    i = jnp.arange(n)
    a = jnp.zeros((n, n)).at[i, n - 1 - i].set(1.0)
    a = a.at[i[:-1], n - 2 - i[:-1]].set(-1.0) / 4
    h = jnp.zeros(n).at[-1].set(0.25)
    b = jnp.full(n, 0.25)
    full = jnp.block([[2 * a.T @ a, -a.T], [a, jnp.zeros((n, n))]])
    shift = jnp.concatenate([-h, -b])
    return PairSplitProblem(full, shift, solution=jnp.linalg.solve(full, -shift))


def random_monotone_linear(
    key: Array,
    d: int,
    *,
    n: int | Int[ArrayLike, ""] = 1,
    skew: ArrayLike = 1.0,
    heterogeneity: ArrayLike = 0.0,
    size: int | None = None,
) -> LinearProblem:
    """F(z) = M z + b with M = PSD + skew-symmetric, ||M||_2 = 1, and a known solution z*.

    M = (G G^T / d + skew (K - K^T) / 2) / ||.||_2 with G, K standard Gaussian (d x d),
    z* ~ N(0, I), b = -M z*. With n > 1 the components are M_i = M + heterogeneity E_i,
    b_i = b + heterogeneity e_i with centred Gaussian E_i (entries N(0, 1/d)) and e_i, so F
    and z* stay the same while the components differ.

    Args:
        key: PRNG key.
        d: dimension, static.
        n: number of components: static, or traced with `size` (padding: module docstring).
        skew: weight of the skew-symmetric part, >= 0.
        heterogeneity: component spread, >= 0.
        size: components stored, >= n (static; default n).
    """
    check_size("d", d)
    size = _stored(n, size)
    check_scalar("skew", skew, ">= 0", lambda s: s >= 0)
    check_scalar("heterogeneity", heterogeneity, ">= 0", lambda s: s >= 0)
    k_g, k_k, k_z, k_c = jax.random.split(key, 4)
    g = jax.random.normal(k_g, (d, d))
    k = jax.random.normal(k_k, (d, d))
    m = g @ g.T / d + skew * (k - k.T) / 2
    m = m / spectral_norm(m)
    return _with_components(k_c, m, jax.random.normal(k_z, (d,)), n, size, heterogeneity)


def random_cocoercive_linear(
    key: Array,
    d: int,
    *,
    n: int | Int[ArrayLike, ""] = 1,
    condition: ArrayLike = 10.0,
    heterogeneity: ArrayLike = 0.0,
    size: int | None = None,
) -> LinearProblem:
    """F(z) = M z + b with M symmetric positive definite (the gradient of a convex quadratic).

    M = Q diag(lambda) Q^T, lambda log-spaced from 1/condition to 1 (so L = 1 and F is
    1-cocoercive), Q Haar-random, z* ~ N(0, I), b = -M z*. Components
    M_i = M^1/2 (I + heterogeneity R_i) M^1/2 with centred symmetric Gaussian R_i (entries
    N(0, 1/d)) share M's curvature directions, so the mean cocoercivity constant is at most
    (1 + heterogeneity ||R||)^2 whatever the conditioning (like least-squares rows); offsets
    b_i = b + heterogeneity e_i. F and z* do not depend on `heterogeneity`.

    Args:
        key: PRNG key.
        d: dimension, static.
        n: number of components: static, or traced with `size` (padding: module docstring).
        condition: lambda_max / lambda_min >= 1.
        heterogeneity: component spread, >= 0.
        size: components stored, >= n (static; default n).
    """
    check_size("d", d)
    size = _stored(n, size)
    check_scalar("condition", condition, ">= 1", lambda c: c >= 1)
    check_scalar("heterogeneity", heterogeneity, ">= 0", lambda s: s >= 0)
    k_q, k_z, k_c = jax.random.split(key, 3)
    q, _ = jnp.linalg.qr(jax.random.normal(k_q, (d, d)))
    lam = jnp.asarray(condition, float) ** -jnp.linspace(1.0, 0.0, d)
    root = (q * jnp.sqrt(lam)) @ q.T
    return _with_components(
        k_c,
        root @ root,
        jax.random.normal(k_z, (d,)),
        n,
        size,
        heterogeneity,
        sym=True,
        metric=root,
    )


def finite_sum_minmax(
    key: Array,
    d: int,
    *,
    n: int | Int[ArrayLike, ""],
    condition: ArrayLike = 10.0,
    heterogeneity: ArrayLike = 0.0,
    size: int | None = None,
) -> LinearProblem:
    """A finite-sum quadratic min-max problem min_x max_y with controlled heterogeneity.

    f(x, y) = (1/2) x^T P x + x^T K y - (1/2) y^T Q y - ..., z = (x, y) in R^2d:
    F(z) = [[P, K], [-K^T, Q]] z + c, P and Q PSD with eigenvalues log-spaced in
    [1/condition, 1] / 2, K Gaussian with ||K||_2 = 1/2 (so L <= 1; monotone, not cocoercive).
    Components f_i = f + heterogeneity (centred min-max perturbations), so F_i keep the
    min-max block structure and F and its solution z* ~ N(0, I) do not change.

    Args:
        key: PRNG key.
        d: size of x and of y, static.
        n: number of components: static, or traced with `size` (padding: module docstring).
        condition: eigenvalue spread of P and Q, >= 1.
        heterogeneity: component spread, >= 0.
        size: components stored, >= n (static; default n).
    """
    check_size("d", d)
    size = _stored(n, size)
    check_scalar("condition", condition, ">= 1", lambda c: c >= 1)
    check_scalar("heterogeneity", heterogeneity, ">= 0", lambda s: s >= 0)
    k_p, k_q, k_k, k_z, k_c = jax.random.split(key, 5)
    lam = jnp.asarray(condition, float) ** -jnp.linspace(1.0, 0.0, d) / 2
    p, q = (_rotated(k, lam) for k in (k_p, k_q))
    k = jax.random.normal(k_k, (d, d))
    k = k / (2 * spectral_norm(k))
    m = jnp.block([[p, k], [-k.T, q]])
    return _with_components(
        k_c, m, jax.random.normal(k_z, (2 * d,)), n, size, heterogeneity, minmax=d
    )


def _rotated(key: Array, eigenvalues: Array) -> Array:
    """Q diag(eigenvalues) Q^T with Q Haar-random."""
    d = eigenvalues.shape[0]
    q, _ = jnp.linalg.qr(jax.random.normal(key, (d, d)))
    return (q * eigenvalues) @ q.T


def _stored(n: int | Int[ArrayLike, ""], size: int | None) -> int:
    """The number of components to store: `size`, or n (which must then be static)."""
    if size is None:
        check_size("n", n)
        return n
    check_size("size", size)
    check_active(n, size)
    return size


def _with_components(
    key: Array,
    m: Array,
    solution: Array,
    n: int | Int[ArrayLike, ""],
    size: int,
    heterogeneity: ArrayLike,
    *,
    sym: bool = False,
    minmax: int | None = None,
    metric: Array | None = None,
) -> LinearProblem:
    """Components M + h (E_i - mean E), b + h (e_i - mean e) around F(z) = M (z - z*).

    `size` components are drawn, the first n are summed (the means run over them). E_i
    Gaussian (entries N(0, 1/d)), symmetrised if `sym`, given the min-max block structure
    (symmetric diagonal blocks, skew off-diagonal) if `minmax` = size of x, and sandwiched as
    metric E_i metric if `metric` is given.
    """
    d = m.shape[0]
    k_m, k_b = jax.random.split(key)
    e = jax.random.normal(k_m, (size, d, d)) / jnp.sqrt(d)
    if sym:
        e = (e + jnp.swapaxes(e, 1, 2)) / jnp.sqrt(2.0)
    if minmax is not None:
        mask = jnp.ones((d, d)).at[minmax:, :minmax].set(0.0)
        upper = e * mask
        off = upper[:, :minmax, minmax:]
        diag = (upper + jnp.swapaxes(upper, 1, 2)) / jnp.sqrt(2.0)
        e = (
            diag.at[:, :minmax, minmax:]
            .set(off)
            .at[:, minmax:, :minmax]
            .set(-jnp.swapaxes(off, 1, 2))
        )
    if metric is not None:
        e = metric @ e @ metric
    offsets = jax.random.normal(k_b, (size, d))
    h = jnp.asarray(heterogeneity, m.dtype)
    if isinstance(n, int | np.integer) and n == size:
        matrices = m + h * (e - jnp.mean(e, axis=0))
        offsets = offsets - jnp.mean(offsets, axis=0)
        return LinearProblem(matrices, -m @ solution + h * offsets, solution=solution)
    matrices = m + h * (e - masked_mean(e, n))
    offsets = offsets - masked_mean(offsets, n)
    active = jnp.asarray(n, jnp.int32)
    return LinearProblem(matrices, -m @ solution + h * offsets, solution=solution, active=active)
