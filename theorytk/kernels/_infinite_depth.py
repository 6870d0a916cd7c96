"""Infinite-depth limits of the NTK and the classifiers they implement.

After Radhakrishnan, Belkin & Uhler, "Wide and Deep Neural Networks Achieve Optimality for
Classification" (arXiv:2204.14126): a fully connected network without biases, weight variance
1 ("ntk" parameterization), inputs on the unit sphere and an activation normalised to
E[phi(Z)^2] = 1, trained to convergence on the squared loss, is kernel regression with the
depth-L NTK. Its classifier sign(K_L(x, X) K_L(X, X)^-1 y) has a limit as L -> infinity that
depends only on three numbers of the activation's Hermite expansion phi = sum_k a_k h_k
(see `depth_limit` and docs/ntk.md for the derivation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import is_concrete
from ._activations import (
    MAX_NODES,
    Activation,
    Hermite,
    Quadrature,
    Scaled,
    gaussian_mean,
    get_activation,
    line_points,
)

CLASSIFIERS = ("majority_vote", "nearest_neighbour", "singular_kernel", "linear", "degenerate")
# Hermite-coefficient magnitudes below this (relative to the norm) count as zero.
_ZERO = 1e-10
# correlations of unit vectors computed in floating point exceed +-1 by rounding (float32:
# ~1e-7); up to this they are clipped, beyond they are refused
RHO_ROUNDING = 1e-5
# Koenigs iteration: stop when |rho_l| < _KOENIGS_TOL or after _KOENIGS_STEPS steps.
_KOENIGS_TOL = 1e-13
_KOENIGS_STEPS = 100_000
_HERMITE_NODES = 128
_SERIES_TERMS = 64


class DualActivation(NamedTuple):
    """The normalised dual activation of phi: rho -> E[phi(u) phi(v)] / E[phi(Z)^2].

    For unit-variance (u, v) with correlation rho, value(rho) = sum_k a_k^2 rho^k and
    slope(rho) = E[phi'(u) phi'(v)] / E[phi(Z)^2] = sum_k k a_k^2 rho^(k-1) (the a_k
    normalised to sum_k a_k^2 = 1). Evaluated with the activation's own kernel map (closed
    form or quadrature), so it is exact up to that map's accuracy, not a truncated series; a
    `Hermite` activation uses its exact polynomial (relative accuracy also for tiny rho, which
    the deep recursions need: quadrature has an absolute error floor ~1e-16).
    """

    activation: Activation
    norm_sq: Array  # E[phi(Z)^2]
    series: Hermite | None = None  # for Quadrature: the Hermite series used at |rho| < 1/2

    def __call__(self, rho: ArrayLike) -> tuple[Array, Array]:
        """(value, slope) at correlations rho in [-1, 1]."""
        rho = jnp.asarray(rho, self.norm_sq.dtype)
        if isinstance(self.activation, Hermite):
            value, slope = self.activation.dual(rho)
        else:
            one = jnp.ones_like(rho)
            value, slope = self.activation.kernel(rho, one, one)
            if self.series is not None:
                small = jnp.abs(rho) < 0.5
                near = self.series.dual(jnp.where(small, rho, 0.0))
                value, slope = (
                    jnp.where(small, a, b) for a, b in zip(near, (value, slope), strict=True)
                )
        return value / self.norm_sq, slope / self.norm_sq


class DepthLimit(NamedTuple):
    """Which classifier the depth-L NTK classifier of an activation tends to as L -> inf.

    Fields (for phi normalised to E[phi(Z)^2] = 1, phi = sum_k a_k h_k):
        classifier: one of CLASSIFIERS.
        a0: a_0 = E[phi(Z)] (mean).
        a1_sq: a_1^2 = E[Z phi(Z)]^2 = dual'(0) when a_0 = 0 (the multiplier of the fixed
            point 0 of the dual).
        slope_at_one: mu = dual'(1) = E[phi'(Z)^2] = sum_k k a_k^2, the growth factor of the
            NTK diagonal per layer.
        exponent: for "singular_kernel", alpha = 2 log(1/a1_sq) / log(mu): the limit kernel
            behaves like ||x - x'||^-alpha as x' -> x on the sphere; NaN otherwise.
    """

    classifier: str
    a0: float
    a1_sq: float
    slope_at_one: float
    exponent: float


def hermite_coefficients(
    activation: str | Activation | Callable[[Array], Array], n: int, *, nodes: int = 128
) -> Float[Array, " n"]:
    """a_k = E[phi(Z) h_k(Z)], k < n, with h_k = He_k / sqrt(k!) orthonormal under N(0, 1).

    By the half-range Gauss rule (`nodes` points on each half-line), exact for activations that
    are polynomial on each half-line and geometrically convergent for smooth ones as long as
    the h_k are resolved (n well below `nodes`, at most 256). Not normalised
    (sum_k a_k^2 = E[phi(Z)^2]).
    """
    if not (isinstance(n, int) and 1 <= n <= nodes <= MAX_NODES):
        raise ValueError(
            f"need integers 1 <= n <= nodes <= {MAX_NODES}, got n={n!r}, nodes={nodes!r}"
        )
    act = get_activation(activation)
    z = line_points(nodes, jnp.result_type(float))
    values = act(z)
    rows, prev, cur = [], jnp.zeros_like(z), jnp.ones_like(z)
    for k in range(n):
        rows.append(gaussian_mean(values * cur, nodes))
        prev, cur = cur, (z * cur - math.sqrt(k) * prev) / math.sqrt(k + 1)
    return jnp.stack(rows)


def dual_activation(activation: str | Activation | Callable[[Array], Array]) -> DualActivation:
    """The normalised dual activation of `activation` (see `DualActivation`)."""
    act = get_activation(activation)
    while isinstance(act, Scaled):  # the normalised dual does not see the scale
        act = act.inner
    dtype = jnp.result_type(float)
    if isinstance(act, Hermite):
        return DualActivation(act, jnp.sum(jnp.asarray(act.coeffs, dtype) ** 2))
    norm_sq = act.diag(jnp.ones((), dtype))[0]
    if not isinstance(act, Quadrature):
        return DualActivation(act, norm_sq)
    # Quadrature has an absolute error floor (~1e-16): near rho = 0, where deep recursions
    # drive correlations, use the Hermite series (64 terms: truncation 2^-64 at |rho| < 1/2),
    # with coefficients below 1e-10 of the norm set to exactly 0.
    coeffs = hermite_coefficients(act, _SERIES_TERMS)
    coeffs = jnp.where(jnp.abs(coeffs) < _ZERO * jnp.sqrt(norm_sq), 0.0, coeffs)
    return DualActivation(act, norm_sq, Hermite(coeffs))


def depth_limit(activation: str | Activation | Callable[[Array], Array]) -> DepthLimit:
    """The infinite-depth classifier of the (normalised) activation.

    Normalise phi so that sum_k a_k^2 = 1; the dual maps correlations rho -> sum a_k^2 rho^k,
    with dual(1) = 1 and mu = dual'(1) = sum_k k a_k^2. Along depth the correlation of two
    distinct inputs follows rho_{l+1} = dual(rho_l) and the NTK
    K_L = sum_{l <= L} rho_l prod_{l <= m < L} dual'(rho_m), whose diagonal K_L(1) grows like
    mu^L. The limit of sign(K_L(x, X) K_L(X, X)^-1 y) (our derivation, docs/ntk.md):

      - a_0 != 0, mu >= 1: "majority_vote". Correlations converge to the attracting fixed
        point rho* < 1 of the dual (rho* = 1 if mu = 1, e.g. relu), the normalised NTK to a
        constant off the diagonal, and the prediction to the majority label sign(sum_i y_i).
      - a_0 = 0, 0 < a_1^2 < 1 (then mu > 1): "singular_kernel". 0 is an attracting fixed
        point with multiplier a_1^2; K_L(rho) / (L a_1^(2L)) -> Psi(rho), the Koenigs function
        of the dual (`koenigs_kernel`), so the limit is sign(sum_i y_i Psi(<x, x_i>)).
        Psi(rho) ~ c (1 - rho)^(-alpha/2) = c' ||x - x_i||^-alpha with
        alpha = 2 log(1/a_1^2) / log(mu): a singular kernel classifier.
      - a_0 = a_1 = 0: "nearest_neighbour". 0 is superattracting: the largest correlation
        dominates every other by a factor growing doubly exponentially in L, so the prediction
        is the label of the training point with the largest <x, x_i> (for inputs with
        non-negative correlations, the nearest neighbour on the sphere).
      - a_0 = 0, a_1^2 = 1 (phi linear): "linear" (K_L = (L + 1) <x, x'>).
      - otherwise (a_0 != 0 and mu < 1): "degenerate": all correlations tend to 1 and the
        kernel to a constant matrix; no limit classifier is claimed.

    The three non-trivial cases are the three classifiers the abstract of Radhakrishnan,
    Belkin & Uhler names (the conditions and alpha are derived here and tested numerically);
    `singular_activation` builds activations with a prescribed alpha. Coefficients below 1e-10
    count as zero.
    """
    act = get_activation(activation)
    dtype = jnp.result_type(float)
    with jax.ensure_compile_time_eval():  # concrete even when called under jit or vmap
        z = line_points(_HERMITE_NODES, dtype)
        values = act(z)
        norm_sq, grad_sq = act.diag(jnp.ones((), dtype))
        a0 = float(gaussian_mean(values, _HERMITE_NODES) / jnp.sqrt(norm_sq))
        a1_sq = float(gaussian_mean(values * z, _HERMITE_NODES) ** 2 / norm_sq)
        mu = float(grad_sq / norm_sq)
    exponent = math.nan
    if abs(a0) > _ZERO:
        kind = "majority_vote" if mu >= 1 - _ZERO else "degenerate"
    elif a1_sq >= 1 - _ZERO:
        kind = "linear"
    elif a1_sq > _ZERO**2:
        kind = "singular_kernel"
        exponent = 2 * math.log(1 / a1_sq) / math.log(mu)
    else:
        kind = "nearest_neighbour"
    return DepthLimit(kind, a0, a1_sq, mu, exponent)


def deep_ntk(
    rho: ArrayLike,
    activation: str | Activation | DualActivation,
    depth: int | Sequence[int],
) -> Array:
    """The normalised NTK K_L(rho) / K_L(1) of a depth-L network on the unit sphere.

    K_0 = rho, rho_{l+1} = dual(rho_l), K_{l+1} = rho_{l+1} + K_l dual'(rho_l) (neural-tangents'
    convention with sigma_w = 1, sigma_b = 0 and phi normalised: equal to
    `mlp_kernels(x, depth=L, activation=Scaled(phi, 1/||phi||), sigma_w=1, sigma_b=0).ntk`
    for unit-norm x scaled by sqrt(d)). Computed with t_l = K_l(1) / K_{l+1}(1) so nothing
    overflows however deep: k_{l+1} = rho_{l+1} (1 - mu t_l) + k_l dual'(rho_l) t_l.

    Args:
        rho: correlations <x, x'> of unit vectors, any shape, in [-1, 1] (up to rounding,
            `RHO_ROUNDING`, which is clipped; beyond it a ValueError, or NaN where traced).
        activation: an activation (name, Activation, callable) or its `DualActivation`.
        depth: number of hidden layers L >= 0 (static), or a sequence of them: then the
            kernels at every depth in the sequence come from one pass through the layers,
            stacked along a new leading axis (in the sequence's order).
    """
    depths = _check_depths(depth)
    dual = activation if isinstance(activation, DualActivation) else dual_activation(activation)
    rho = _correlations(rho, dual.norm_sq.dtype)
    mu = dual(jnp.ones((), rho.dtype))[1]
    one = rho == 1  # x = x': correlation and normalised kernel stay exactly 1

    def layer(carry: tuple[Array, Array, Array], _: None) -> tuple[tuple, None]:
        corr, kernel, ratio = carry  # ratio = K_l(1) / K_{l+1}(1)
        value, slope = dual(corr)
        value = jnp.where(one, 1.0, jnp.clip(value, -1.0, 1.0))
        kernel = jnp.where(one, 1.0, value * (1 - mu * ratio) + kernel * slope * ratio)
        return (value, kernel, 1 / (1 - mu * ratio + mu)), None

    carry, done, at_depth = (rho, rho, 1 / (1 + mu)), 0, {}
    for target in sorted(set(depths)):
        carry, _ = jax.lax.scan(layer, carry, None, length=target - done)
        done, at_depth[target] = target, carry[1]
    if isinstance(depth, int | np.integer):
        return at_depth[depth]
    return jnp.stack([at_depth[target] for target in depths])


def koenigs_kernel(rho: ArrayLike, activation: str | Activation | DualActivation) -> Array:
    """Psi(rho) = lim_l dual^l(rho) / a_1^(2l), the Koenigs function of the dual at 0.

    Defined when a_0 = 0 and 0 < a_1^2 < 1 ("singular_kernel" regime); it solves
    Psi(dual(rho)) = a_1^2 Psi(rho), Psi'(0) = 1, and is the limit of the normalised depth-L
    NTK up to a factor L a_1^(2L) / K_L(1) common to all entries. Iterates the dual until
    |rho_l| < 1e-13 (relative truncation error ~1e-13), in log scale.
    """
    dual = activation if isinstance(activation, DualActivation) else dual_activation(activation)
    rho = _correlations(rho, dual.norm_sq.dtype)
    log_rate = jnp.log(dual(jnp.zeros((), rho.dtype))[1])

    def cond(state: tuple[Array, Array]) -> Array:
        corr, steps = state
        return jnp.any(jnp.abs(corr) >= _KOENIGS_TOL) & (jnp.max(steps) < _KOENIGS_STEPS)

    def body(state: tuple[Array, Array]) -> tuple[Array, Array]:
        corr, steps = state
        active = jnp.abs(corr) >= _KOENIGS_TOL
        return jnp.where(active, dual(corr)[0], corr), steps + active

    corr, steps = jax.lax.while_loop(cond, body, (rho, jnp.zeros(rho.shape, rho.dtype)))
    magnitude = jnp.exp(jnp.log(jnp.maximum(jnp.abs(corr), 1e-300)) - steps * log_rate)
    return jnp.sign(corr) * magnitude


def ntk_classifier(
    x_train: Float[ArrayLike, "n d"],
    y_train: Float[ArrayLike, " n"],
    x_test: Float[ArrayLike, "m d"],
    activation: str | Activation | Callable[[Array], Array],
    depth: int | Sequence[int],
) -> Float[Array, "*depths m"]:
    """Decision values K_L(x, X) K_L(X, X)^-1 y of the depth-L NTK (normalised, no bias).

    Inputs are projected to the unit sphere; the predicted label is the sign. Uses the
    normalised kernel, so the scale is arbitrary but nothing overflows at any depth.

    Args:
        x_train: (n, d) training inputs; y_train: (n,) labels in {-1, +1};
        x_test: (m, d) test inputs; activation; depth: hidden layers L, or a sequence of
            depths (one pass through the layers; the result gains a leading depth axis).
    """
    _check_data(x_train, y_train, x_test)
    _check_depths(depth)
    dual = dual_activation(activation)
    train, test = _sphere(x_train), _sphere(x_test)
    gram = train @ train.T
    gram = gram.at[jnp.diag_indices(gram.shape[0])].set(1.0)
    k_train = deep_ntk(gram, dual, depth)
    k_test = deep_ntk(test @ train.T, dual, depth)
    y = jnp.broadcast_to(jnp.asarray(y_train, k_train.dtype), k_train.shape[:-1])
    return (k_test @ jnp.linalg.solve(k_train, y[..., None]))[..., 0]


def limit_classifier(
    x_train: Float[ArrayLike, "n d"],
    y_train: Float[ArrayLike, " n"],
    x_test: Float[ArrayLike, "m d"],
    activation: str | Activation | Callable[[Array], Array],
) -> Float[Array, " m"]:
    """Predictions in {-1, 0, +1} of the infinite-depth classifier `depth_limit` names.

    majority_vote: sign(sum_i y_i); nearest_neighbour: y of the largest <x, x_i>;
    singular_kernel: sign(sum_i y_i Psi(<x, x_i>)); linear: sign of linear kernel regression
    on the sphere. A "degenerate" activation raises ValueError. (Inputs on the unit sphere.)
    """
    _check_data(x_train, y_train, x_test)
    limit = depth_limit(activation)
    train, test = _sphere(x_train), _sphere(x_test)
    y = jnp.asarray(y_train, train.dtype)
    rho = test @ train.T
    if limit.classifier == "majority_vote":
        return majority_vote(y, test.shape[0])
    if limit.classifier == "nearest_neighbour":
        return nearest_neighbour(train, y, test)
    if limit.classifier == "singular_kernel":
        return jnp.sign(koenigs_kernel(rho, activation) @ y)
    if limit.classifier == "linear":
        return jnp.sign(rho @ jnp.linalg.lstsq(train @ train.T, y)[0])
    raise ValueError(
        f"activation {activation!r} is degenerate at infinite depth (a0 = {limit.a0:.3g}, "
        f"mu = {limit.slope_at_one:.3g} < 1): no limit classifier; allowed regimes are "
        f"{list(CLASSIFIERS[:4])}"
    )


def majority_vote(y_train: Float[ArrayLike, " n"], n_test: int) -> Float[Array, " m"]:
    """The majority label sign(sum_i y_i) for every test point (0 on a tie)."""
    y = jnp.asarray(y_train)
    return jnp.full((n_test,), jnp.sign(jnp.sum(y)), y.dtype)


def nearest_neighbour(
    x_train: Float[ArrayLike, "n d"],
    y_train: Float[ArrayLike, " n"],
    x_test: Float[ArrayLike, "m d"],
) -> Float[Array, " m"]:
    """The label of the training point with the largest cosine similarity (1-NN on the sphere)."""
    rho = _sphere(x_test) @ _sphere(x_train).T
    return jnp.asarray(y_train)[jnp.argmax(rho, axis=1)]


def singular_activation(alpha: float, degree: int = 2) -> Hermite:
    """phi = a_1 h_1 + a_k h_k (k = degree, a_1^2 + a_k^2 = 1) with singular exponent alpha.

    Then a_0 = 0, mu = a_1^2 + k (1 - a_1^2), and alpha(a_1^2) = 2 log(1/a_1^2) / log(mu)
    decreases from infinity (a_1 -> 0) to 2/(k - 1) (a_1 -> 1); a_1^2 is found by bisection.
    With alpha equal to the data's intrinsic dimension the limit kernel behaves near the
    diagonal like the Hilbert kernel ||x - x'||^-alpha, whose interpolating estimate is weakly
    consistent (Devroye, Gyorfi & Krzyzak 1998); the abstract of Radhakrishnan et al. states
    that singular kernel limits include Bayes-optimal classifiers. Consistency is not tested.
    """
    if not alpha > 2 / (degree - 1):
        raise ValueError(
            f"alpha must be > 2/(degree - 1) = {2 / (degree - 1):.3g} for degree {degree}, "
            f"got {alpha!r}"
        )

    def exponent(lam: float) -> float:
        return 2 * math.log(1 / lam) / math.log(lam + degree * (1 - lam))

    lo, hi = 1e-300, 1 - 1e-15
    for _ in range(200):
        mid = math.sqrt(lo * hi) if hi / lo > 4 else (lo + hi) / 2
        lo, hi = (mid, hi) if exponent(mid) > alpha else (lo, mid)
    coeffs = np.zeros(degree + 1)
    coeffs[1], coeffs[degree] = math.sqrt(lo), math.sqrt(1 - lo)
    return Hermite(jnp.asarray(coeffs))


def _correlations(rho: ArrayLike, dtype: jnp.dtype) -> Array:
    """rho as correlations in [-1, 1]: rounding beyond +-1 (at most `RHO_ROUNDING`) clipped.

    ValueError for a concrete rho with NaN or a value beyond +-(1 + RHO_ROUNDING); a traced
    value there becomes NaN.
    """
    if is_concrete(rho):
        values = np.asarray(rho, float)
        bad = ~(np.abs(values) <= 1 + RHO_ROUNDING)
        if np.any(bad):
            raise ValueError(
                f"rho must be correlations in [-1, 1] (up to rounding {RHO_ROUNDING:g}), got "
                f"{values[bad].ravel()[:3].tolist()}"
            )
    rho = jnp.asarray(rho, dtype)
    return jnp.where(jnp.abs(rho) <= 1 + RHO_ROUNDING, jnp.clip(rho, -1.0, 1.0), jnp.nan)


def _check_depths(depth: int | Sequence[int]) -> list[int]:
    """The depth, or sequence of depths, as a list of Python ints >= 0; ValueError otherwise."""
    depths = [depth] if isinstance(depth, int | np.integer) else list(np.asarray(depth).ravel())
    for value in depths:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(
                f"depth must be an integer >= 0 (hidden layers) or a sequence of them, "
                f"got {depth!r}"
            )
    return [int(value) for value in depths]


def _check_data(x_train: ArrayLike, y_train: ArrayLike, x_test: ArrayLike) -> None:
    """ValueError unless x_train (n, d), y_train (n,), x_test (m, d) fit together."""
    train, labels, test = np.shape(x_train), np.shape(y_train), np.shape(x_test)
    if len(train) != 2 or len(test) != 2 or train[1] != test[1]:
        raise ValueError(
            f"x_train and x_test must have shapes (n, d) and (m, d), got {train} and {test}"
        )
    if labels != (train[0],):
        raise ValueError(f"y_train must have shape ({train[0]},), got {labels}")


def _sphere(x: ArrayLike) -> Array:
    x = jnp.asarray(x, jnp.result_type(float, x))
    return x / jnp.linalg.norm(x, axis=1, keepdims=True)
