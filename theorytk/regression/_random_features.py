"""Eigenframework deterministic equivalent of random-feature ridge regression."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_scalar
from ._eigenframework import _check_inputs
from ._roots import learnabilities, log_root, safe_log


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
    decreases in t where z < N (solved by bracketed Newton iteration, `log_root`). With
    a = N - z, r = n - z = delta / kappa and w = z - q = sum_i L_i (1 - L_i) >= 0 the outputs
    are evaluated in cancellation-free form:
    1 - x = ((r + w) a + r w) / (n (a + w)) and B_i = (1 - L_i)(a (1 - L_i) + w) / (a + w).

    Ridgeless case (delta = 0), P = number of modes: for n < min(N, P) the root is positive
    (z = n, kappa = gamma (1 - n/N)). For N < n, N < P: gamma solves z = N and kappa = 0,
    test_mse = n / (n - N) (sum_i (1 - L_i) v_i^2 + noise). For P <= min(n, N): gamma = kappa = 0,
    test_mse = n / (n - P) noise. At n = min(N, P) the risk diverges (test_mse = inf unless
    bias and noise vanish; train_mse = 0): the double-descent peak. In these ridgeless cases
    without a positive root, derivatives w.r.t. `ridge` are not the one-sided derivatives.

    jit/vmap compatible (fixed iteration count), differentiable to first order in every
    argument via implicit differentiation. The order of the eigenvalues does not matter.

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
    lam, v2, n, n_feat, delta, noise = (jnp.asarray(a, dtype) for a in args)
    log_lam = jnp.log(lam)
    n_modes = jnp.asarray(lam.shape[0], dtype)
    ridgeless = delta == 0
    # gamma = 0 (all modes learned): ridgeless with P <= min(n, N).
    no_gamma = ridgeless & (n_modes <= jnp.minimum(n, n_feat))
    # Ridgeless with N < n: gamma solves z = N (the features are the bottleneck), kappa = 0.
    feature_limited = ridgeless & (n_feat < n) & ~no_gamma
    # Safe-where: the solver never sees the no-root case (it is replaced by a solvable one).
    n_solve = jnp.where(no_gamma, 0.5 * n_modes, n)
    n_feat_solve = jnp.where(no_gamma, n_modes, n_feat)
    t = _log_gamma(log_lam, delta, n_solve, n_feat_solve, feature_limited)
    learn = jnp.where(no_gamma, 1.0, jax.nn.sigmoid(log_lam - t))
    unlearn = jnp.where(no_gamma, 0.0, jax.nn.sigmoid(t - log_lam))
    gamma = jnp.where(no_gamma, 0.0, jnp.exp(t))
    z = jnp.sum(learn)
    a0, r0 = _gaps(learn, unlearn, n_feat, n)
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
    w = jnp.sum(learn * unlearn)
    aw = a + w
    safe_aw = jnp.where(aw > 0, aw, 1.0)
    bias = jnp.sum(unlearn * jnp.where(aw > 0, (a * unlearn + w) / safe_aw, 1.0) * v2)
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


def _gaps(learn: Array, unlearn: Array, n_feat: Array, n: Array) -> tuple[Array, Array]:
    """(N - z, n - z) with z = sum_i L_i, in the form that cancels less (see `_residual`)."""
    z = jnp.sum(learn)
    u = jnp.sum(unlearn)
    n_modes = learn.shape[0]
    few = z < u
    return (
        jnp.where(few, n_feat - z, n_feat - n_modes + u),
        jnp.where(few, n - z, n - n_modes + u),
    )


def _residual(t: Array, params: tuple[Array, ...]) -> Array:
    """h(t), decreasing in t = log gamma, with the sign of delta N / (gamma (N - z)) - (n - z).

    With a = N - z > 0 the root equation is z + delta N / (gamma a) = n; h is the difference of
    the logarithms of its two sides (nearly linear in t, so Newton steps are accurate far from
    the root), in whichever equal form cancels less (see `_gaps`): log(z + c) - log n with
    c = delta N / (gamma a) while z < P/2, else log(c + (P - n)_+) - log(u + (n - P)_+) with
    u = sum_i (1 - L_i) = P - z. Feature-limited (ridgeless, N < n): the root of z = N, as
    log z - log N or log(P - N) - log u. +1 where h is undefined (below the root).
    """
    log_lam, delta, n, n_feat, feature_limited = params
    learn, unlearn = learnabilities(log_lam, t)
    z, u = jnp.sum(learn), jnp.sum(unlearn)
    a, r = _gaps(learn, unlearn, n_feat, n)
    valid = a > 0
    ridge_term = jnp.where(delta > 0, delta * n_feat * jnp.exp(-t) / jnp.where(valid, a, 1.0), 0.0)
    excess = n - log_lam.shape[0]
    few = z < u
    h = jnp.where(
        few,
        safe_log(z + ridge_term) - safe_log(n),
        safe_log(ridge_term + jnp.maximum(-excess, 0.0)) - safe_log(u + jnp.maximum(excess, 0.0)),
    )
    limited = jnp.where(
        few,
        safe_log(z) - safe_log(n_feat),
        safe_log(jnp.maximum(log_lam.shape[0] - n_feat, 0.0)) - safe_log(u),
    )
    # Near the pole a -> 0 (ridge -> 0 with N < n: the root sits just above z = N) log a is
    # singular and Newton on h would crawl; there delta N / gamma - a r is nearly linear in t,
    # and it keeps the sign of h across the pole (a < 0 < r: below the root), so Newton steps
    # that overshoot z = N are still informative. Undefined only where a, r < 0 both.
    product = jnp.where(delta > 0, delta * n_feat * jnp.exp(-t), 0.0) - a * r
    near_pole = a < 0.5 * n_feat
    h = jnp.where(near_pole, jnp.where(valid | (r > 0), product, 1.0), jnp.where(valid, h, 1.0))
    return jnp.where(feature_limited, limited, h)


def _log_gamma(
    log_lam: Array, delta: Array, n: Array, n_feat: Array, feature_limited: Array
) -> Array:
    """log gamma at the root of `_residual`.

    Bracket: at the root kappa = delta / (n - z) >= delta / n and gamma >= kappa; z <= min(n, N)
    and z >= P - gamma sum_i 1/lambda_i give the lower end. At gamma = U = max(2 sum_i lambda_i /
    min(n, N), 4 delta / n), z <= min(n, N) / 2 and the residual is <= 0: the upper end.
    """
    sg = jax.lax.stop_gradient
    log_lam0, delta0, n0, n_feat0 = sg(log_lam), sg(delta), sg(n), sg(n_feat)
    n_modes = log_lam0.shape[0]
    m = jnp.minimum(n0, n_feat0)
    log_delta = jnp.log(delta0)
    log_upper = jnp.maximum(
        jnp.log(2.0) + jax.nn.logsumexp(log_lam0) - jnp.log(m),
        jnp.log(4.0) + log_delta - jnp.log(n0),
    )
    log_lower = jnp.maximum(
        log_delta - jnp.log(n0),
        jnp.log(jnp.maximum(n_modes - m, 0.0)) - jax.nn.logsumexp(-log_lam0),
    )
    return log_root(_residual, (log_lam, delta, n, n_feat, feature_limited), log_lower, log_upper)
