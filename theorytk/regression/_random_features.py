"""Eigenframework deterministic equivalent of random-feature ridge regression."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_scalar
from ._eigenframework import _check_inputs
from ._roots import implicit_step, learnabilities_linear, log_sum, newton_root, safe_log

# Under vmap, points are evaluated LANES at a time in a loop over the batch (see `_in_blocks`).
LANES = 16


def rf_risk(
    eigenvalues: Float[ArrayLike, " P"],
    target_coeffs_sq: Float[ArrayLike, " P"],
    *,
    n: float | ArrayLike,
    n_features: float | ArrayLike,
    ridge: float | ArrayLike,
    noise: float | ArrayLike = 0.0,
) -> dict[str, Array]:
    """Deterministic-equivalent test and train risk of random-feature ridge regression.

    Kernel K = sum_i lambda_i phi_i phi_i (orthonormal phi_i), target f* = sum_i v_i phi_i,
    labels with noise variance `noise`. N = `n_features` random features
    g_j(x) = sum_i sqrt(lambda_i) z_ji phi_i(x), z_ji ~ N(0, 1), define the RF kernel
    K_N = (1/N) sum_j g_j g_j, and f_hat(x) = K_N(x, X) (K_N(X, X) + delta I)^-1 y with delta =
    `ridge` on the *unnormalised* n x n Gram matrix (as in `krr_risk`). gamma, kappa > 0 solve

        n = sum_i L_i + delta / kappa,   N = sum_i L_i + N kappa / gamma,
        L_i = lambda_i / (lambda_i + gamma),

    and with z = sum_i L_i, q = sum_i L_i^2, x = (q (N - 2z) + z^2) / (n (N - q)),

        test_mse  = (sum_i B_i v_i^2 + noise) / (1 - x)            (includes the label noise)
        B_i       = gamma / (lambda_i + gamma) - (N kappa / (N - q)) lambda_i / (lambda_i + gamma)^2
        train_mse = (delta / (n kappa))^2 test_mse

    (Simon, Karkada, Ghosh & Belkin, "More is better in modern machine learning", 2023, eqs.
    for the RF eigenframework; Bach 2023; Atanasov, Zavatone-Veth & Pehlevan 2024.)

    Solution: the second equation gives kappa = gamma (1 - z/N), and the first becomes one
    equation in t = log gamma, delta N / (gamma (N - z)) - (n - z) = 0, whose left side
    decreases in t where z < N (solved by bracketed Newton iteration, `newton_root`). With
    a = N - z, r = n - z = delta / kappa and w = z - q = sum_i L_i (1 - L_i) >= 0 the outputs
    are evaluated in cancellation-free form:
    1 - x = ((r + w) a + r w) / (n (a + w)) and B_i = (1 - L_i)(a (1 - L_i) + w) / (a + w).

    Ridgeless case (delta = 0), P = number of modes: for n < min(N, P) the root is positive
    (z = n, kappa = gamma (1 - n/N)). For N < n, N < P: gamma solves z = N and kappa = 0,
    test_mse = n / (n - N) (sum_i (1 - L_i) v_i^2 + noise). For P <= min(n, N): gamma = kappa = 0,
    test_mse = n / (n - P) noise. At n = min(N, P) the risk diverges (test_mse = inf unless
    bias and noise vanish; train_mse = 0): the double-descent peak. In these ridgeless cases
    without a positive root, derivatives w.r.t. `ridge` are not the one-sided derivatives.

    jit/vmap compatible (under vmap, points are evaluated 16 at a time in a loop over the batch,
    so memory does not grow with the batch), differentiable to first order in every argument via
    implicit differentiation. The order of the eigenvalues does not matter.

    Args:
        eigenvalues: kernel eigenvalues lambda_i, shape (P,), positive, any order.
        target_coeffs_sq: squared target coefficients v_i^2, shape (P,), non-negative.
        n: number of training samples (>= 1; may be a non-integer or traced float).
        n_features: number of random features N (>= 1; may be non-integer or traced).
        ridge: delta >= 0, the ridge added to the unnormalised Gram matrix.
        noise: label-noise variance >= 0.

    Returns:
        Scalars `test_mse`, `train_mse`, `kappa`, `gamma` and `dof` (= z = sum_i L_i), in the
        promoted floating dtype of the inputs (float32 in, float32 out).
    """
    check_scalar("n", n, ">= 1", lambda x: x >= 1)
    check_scalar("n_features", n_features, ">= 1", lambda x: x >= 1)
    _check_inputs(eigenvalues, target_coeffs_sq, n, ridge, noise)
    args = (eigenvalues, target_coeffs_sq, n, n_features, ridge, noise)
    dtype = jnp.result_type(float, *args)
    # copy=True: JAX arrays even for NumPy inputs mapped by `vmap` (a NumPy value inside a
    # batch tracer trips jax 0.9.2's custom_jvp batching under jit).
    return _rf_risk(*(jnp.array(a, dtype, copy=True) for a in args))


@jax.custom_jvp
def _rf_risk(
    lam: Array, v2: Array, n: Array, n_feat: Array, delta: Array, noise: Array
) -> dict[str, Array]:
    """`_rf_point`: values batched in blocks of LANES points (`_in_blocks`), derivatives by
    implicit differentiation (`_rf_point` with `implicit=True`)."""
    return _batched_in_blocks(lam, v2, n, n_feat, delta, noise)


@_rf_risk.defjvp
def _rf_risk_jvp(primals: tuple, tangents: tuple) -> tuple[dict, dict]:
    return jax.jvp(functools.partial(_rf_point, implicit=True), primals, tangents)


def _values(*args: Array) -> dict[str, Array]:
    return _rf_point(*args, implicit=False)


_batched_in_blocks = custom_vmap(_values)


@_batched_in_blocks.def_vmap
def _in_blocks(axis_size: int, in_batched: list, *args: Array) -> tuple[dict, dict]:
    """A batch of B points as a loop over B / L blocks of L = gcd(B, LANES) vmapped points.

    One vmap over a large batch streams B x P arrays through memory at every Newton step
    (measured on 2 cores at P = 1e4: ~30x slower per point than blocks of 16) and holds several
    of them at once (~5 GB for 256 x 256 points); blocks of L keep L x P arrays in cache.
    Point b = l (B / L) + j goes to lane l of block j: a batch sharded over D devices (D | L)
    keeps its sharding on the lane axis, so the loop needs no communication.
    """
    lanes = math.gcd(axis_size, LANES)
    in_axes = [0 if batched else None for batched in in_batched]

    def block(batched: list[Array]) -> dict[str, Array]:
        it = iter(batched)
        full = [next(it) if b else a for a, b in zip(args, in_batched, strict=True)]
        return jax.vmap(_values, in_axes=in_axes)(*full)

    blocks = [
        a.reshape(lanes, axis_size // lanes, *a.shape[1:]).swapaxes(0, 1)
        for a, batched in zip(args, in_batched, strict=True)
        if batched
    ]
    out = jax.lax.map(block, blocks)
    out = {k: v.swapaxes(0, 1).reshape(axis_size) for k, v in out.items()}
    return out, {k: True for k in out}


def _rf_point(
    lam: Array, v2: Array, n: Array, n_feat: Array, delta: Array, noise: Array, *, implicit: bool
) -> dict[str, Array]:
    """rf_risk of one point, on arrays of one floating dtype (see `rf_risk`).

    With `implicit` the root carries its implicit-function derivatives (`implicit_step`);
    without, it is a constant (values only, one pass over the modes fewer).
    """
    n_modes = jnp.asarray(lam.shape[0], lam.dtype)
    ridgeless = delta == 0
    # gamma = 0 (all modes learned): ridgeless with P <= min(n, N).
    no_gamma = ridgeless & (n_modes <= jnp.minimum(n, n_feat))
    # Ridgeless with N < n: gamma solves z = N (the features are the bottleneck), kappa = 0.
    feature_limited = ridgeless & (n_feat < n) & ~no_gamma
    # Safe-where: the solver never sees the no-root case (it is replaced by a solvable one).
    n_solve = jnp.where(no_gamma, 0.5 * n_modes, n)
    n_feat_solve = jnp.where(no_gamma, n_modes, n_feat)
    params = (lam, delta, n_solve, n_feat_solve, feature_limited)
    t = _log_gamma(params)
    if implicit:
        t = implicit_step(_residual, params, t)
    gamma = jnp.where(no_gamma, 0.0, jnp.exp(t))
    learn, unlearn = learnabilities_linear(lam, gamma)
    z, u, w, bias_all, bias_unlearned = _row_sums(
        learn, unlearn, learn * unlearn, unlearn * v2, unlearn**2 * v2
    )
    a0, r0 = _gaps(z, u, n_feat, n, n_modes)
    a0 = jnp.maximum(a0, 0.0)
    r0 = jnp.maximum(r0, 0.0)
    # Use the root equation delta / kappa = r, i.e. a r = delta N / gamma, for the smaller of a
    # and r (the one that cancels); delta N / gamma is exact. Ridgeless: a r = 0.
    ar = jnp.where(ridgeless, 0.0, delta * n_feat * jnp.exp(-t))
    a_small = a0 < r0
    a = jnp.where(ridgeless | ~a_small, a0, ar / jnp.where(a_small, r0, 1.0))
    r = jnp.where(ridgeless | a_small, r0, ar / jnp.where(a_small, 1.0, a0))
    # Ridgeless interpolation peak n = min(N, P): r = n - z = 0 and a w = 0 exactly.
    peak = ridgeless & (n == jnp.minimum(n_feat, n_modes))
    r = jnp.where(feature_limited, n - n_feat, jnp.where(peak, 0.0, r))
    a = jnp.where(feature_limited | (peak & (n_feat <= n_modes)), 0.0, a)
    aw = a + w
    safe_aw = jnp.where(aw > 0, aw, 1.0)
    # bias = sum_i (1 - L_i) (a (1 - L_i) + w) / (a + w) v_i^2, or sum_i (1 - L_i) v_i^2.
    bias = jnp.where(aw > 0, (a * bias_unlearned + w * bias_all) / safe_aw, bias_all)
    bias_plus_noise = bias + noise
    # 1 - x = ((r + w) a + r w) / (n (a + w)); r / n when a + w = 0 (all modes learned).
    num = jnp.where(aw > 0, (r + w) * a + r * w, r)
    num_aw = jnp.where(aw > 0, aw, 1.0)
    safe_num = jnp.where(num > 0, num, 1.0)
    test = jnp.where(
        num > 0,
        n * num_aw * bias_plus_noise / safe_num,
        jnp.where(bias_plus_noise > 0, jnp.inf, 0.0),
    )
    train = jnp.where(num > 0, (r / n) * r * num_aw * bias_plus_noise / safe_num, 0.0)
    kappa = gamma * a / n_feat
    return {"test_mse": test, "train_mse": train, "kappa": kappa, "gamma": gamma, "dof": z}


def _sums(lam: Array, t: Array) -> tuple[Array, ...]:
    """(z, u, w) = sums over modes of L_i, 1 - L_i and L_i (1 - L_i) at gamma = e^t."""
    learn, unlearn = learnabilities_linear(lam, jnp.exp(t))
    return _row_sums(learn, unlearn, learn * unlearn)


def _row_sums(*rows: Array) -> tuple[Array, ...]:
    """Sums of the rows, as one matrix-vector product.

    XLA on CPU turns each `jnp.sum` into a tree of kernels; one product of the stacked rows
    with a vector of ones is one pass and one kernel (measured at P = 1e4: 27 us for three
    sums, 38 us as three `jnp.sum`).
    """
    stacked = jnp.stack(rows)
    return tuple(stacked @ jnp.ones(stacked.shape[1], stacked.dtype))


def _gaps(z: Array, u: Array, n_feat: Array, n: Array, n_modes: Array) -> tuple[Array, Array]:
    """(N - z, n - z) with z = sum_i L_i, u = P - z, in the form that cancels less."""
    few = z < u
    return (
        jnp.where(few, n_feat - z, n_feat - n_modes + u),
        jnp.where(few, n - z, n - n_modes + u),
    )


def _residual(t: Array, params: tuple[Array, ...]) -> Array:
    """h(t), decreasing in t = log gamma, with the sign of delta N / (gamma (N - z)) - (n - z).

    See `_residual_of_sums`; this evaluates the sums at t.
    """
    lam = params[0]
    z, u, _ = _sums(lam, t)
    return _residual_of_sums(t, z, u, params)


def _value_and_slope(t: Array, params: tuple[Array, ...]) -> tuple[Array, Array]:
    """(h(t), h'(t)) from one pass over the modes: dL_i/dt = -L_i (1 - L_i), so dz/dt = -w and
    du/dt = w; the rest is scalar forward mode."""
    z, u, w = _sums(params[0], t)
    return jax.jvp(
        lambda t_, z_, u_: _residual_of_sums(t_, z_, u_, params),
        (t, z, u),
        (jnp.ones_like(t), -w, w),
    )


def _residual_of_sums(t: Array, z: Array, u: Array, params: tuple[Array, ...]) -> Array:
    """h(t) given z = sum_i L_i and u = sum_i (1 - L_i) at gamma = e^t.

    With a = N - z > 0 the root equation is z + delta N / (gamma a) = n; h is the difference of
    the logarithms of its two sides (nearly linear in t, so Newton steps are accurate far from
    the root), in whichever equal form cancels less (see `_gaps`): log(z + c) - log n with
    c = delta N / (gamma a) while z < P/2, else log(c + (P - n)_+) - log(u + (n - P)_+) with
    u = sum_i (1 - L_i) = P - z. Feature-limited (ridgeless, N < n): the root of z = N, as
    log z - log N or log(P - N) - log u. +1 where h is undefined (below the root).
    """
    lam, delta, n, n_feat, feature_limited = params
    n_modes = lam.shape[0]
    a, r = _gaps(z, u, n_feat, n, n_modes)
    valid = a > 0
    ridge_term = jnp.where(delta > 0, delta * n_feat * jnp.exp(-t) / jnp.where(valid, a, 1.0), 0.0)
    excess = n - lam.shape[0]
    few = z < u
    h = jnp.where(
        few,
        safe_log(z + ridge_term) - safe_log(n),
        safe_log(ridge_term + jnp.maximum(-excess, 0.0)) - safe_log(u + jnp.maximum(excess, 0.0)),
    )
    limited = jnp.where(
        few,
        safe_log(z) - safe_log(n_feat),
        safe_log(jnp.maximum(lam.shape[0] - n_feat, 0.0)) - safe_log(u),
    )
    # Near the pole a -> 0 (ridge -> 0 with N < n: the root sits just above z = N) log a is
    # singular and Newton on h would crawl; there delta N / gamma - a r is nearly linear in t,
    # and it keeps the sign of h across the pole (a < 0 < r: below the root), so Newton steps
    # that overshoot z = N are still informative. Undefined only where a, r < 0 both.
    product = jnp.where(delta > 0, delta * n_feat * jnp.exp(-t), 0.0) - a * r
    near_pole = a < 0.5 * n_feat
    h = jnp.where(near_pole, jnp.where(valid | (r > 0), product, 1.0), jnp.where(valid, h, 1.0))
    return jnp.where(feature_limited, limited, h)


def _log_gamma(params: tuple[Array, ...]) -> Array:
    """log gamma at the root of `_residual` (no gradient; see `_rf_point` for derivatives).

    Bracket: at the root kappa = delta / (n - z) >= delta / n and gamma >= kappa; z <= min(n, N)
    and z >= P - gamma sum_i 1/lambda_i give the lower end. At gamma = U = max(2 sum_i lambda_i /
    min(n, N), 4 delta / n), z <= min(n, N) / 2 and the residual is <= 0: the upper end.
    """
    params0 = jax.lax.stop_gradient(params)
    lam, delta, n, n_feat, _ = params0
    n_modes = lam.shape[0]
    m = jnp.minimum(n, n_feat)
    log_delta = jnp.log(delta)
    log_upper = jnp.maximum(
        jnp.log(2.0) + log_sum(lam) - jnp.log(m), jnp.log(4.0) + log_delta - jnp.log(n)
    )
    log_lower = jnp.maximum(
        log_delta - jnp.log(n), jnp.log(jnp.maximum(n_modes - m, 0.0)) - log_sum(1.0 / lam)
    )
    return newton_root(lambda t: _value_and_slope(t, params0), log_lower, log_upper)
