"""Activations with their dual kernel maps: closed forms, or quadrature for any function.

An infinitely wide layer maps the covariance of its pre-activations (u, v) ~ N(0, [[q11, q12],
[q12, q22]]) to E[phi(u) phi(v)] (the next NNGP entry) and E[phi'(u) phi'(v)] (the factor that
multiplies the NTK). Each `Activation` brings its own map behind one interface, as in
neural-tangents' `stax/elementwise.py`:

    activation(x)                    the elementwise function phi
    activation.kernel(q12, q11, q22) (E[phi(u) phi(v)], E[phi'(u) phi'(v)]), broadcasting
    activation.diag(q)               the same at u = v ~ N(0, q): (E[phi(u)^2], E[phi'(u)^2])

Closed forms: `ABRelu` (relu, abs, leaky relu), `Erf`, `Gelu`, `Sin` (sin, cos), `Identity`.
Anything else (tanh, softplus, a user's function) goes through `Quadrature`. Parameters of an
activation (the slopes of `ABRelu`, the phase of `Sin`, the factor of `Scaled`) are pytree
leaves, so they can be traced, vmapped and differentiated.
"""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

_TWO_PI = 2.0 * math.pi

# float32 fast path of the arc-cosine angle: for a in [0, 1], arccos(a) = sqrt(1 - a^2) P(a)
# with P(a) = arccos(a) / sqrt(1 - a^2) analytic on [0, 1]; a degree-9 Chebyshev interpolant
# (max error 2e-8, below float32's rounding of the angle) in monomial form. An entry then
# costs one sqrt (which the kernel needs anyway) and nine multiply-adds instead of an atan2.
_ANGLE_DEGREE = 9


def _arccos_over_sine(a: np.ndarray) -> np.ndarray:
    sine = np.sqrt(np.maximum(1 - a**2, 0))
    return np.where(a < 1, np.arccos(np.minimum(a, 1)) / np.where(a < 1, sine, 1), 1.0)


_ANGLE_COEFFS = tuple(
    float(c)
    for c in np.polynomial.chebyshev.Chebyshev.interpolate(
        _arccos_over_sine, _ANGLE_DEGREE, domain=[0, 1]
    )
    .convert(kind=np.polynomial.Polynomial)
    .coef
)

# Default quadrature orders (nodes per dimension); see `Quadrature` for measured accuracy.
RADIAL_NODES = 48
MAX_NODES = 256  # half-range rules are verified up to this order
ANGULAR_NODES = 48
LINE_NODES = 64


# --- safe elementary functions: finite derivatives where the kernels are singular ---


@jax.custom_jvp
def safe_sqrt(x: Array) -> Array:
    """sqrt(max(x, 0)) with derivative 0 (instead of inf) where x <= 0.

    sqrt(q11 q22 - q12^2) vanishes at x = x' and on zero inputs, where its derivative is
    infinite; along those sets it stays 0, so 0 is the derivative a sweep needs there.
    """
    return jnp.sqrt(jnp.maximum(x, 0.0))


@safe_sqrt.defjvp
def _safe_sqrt_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (x,), (dx,) = primals, tangents
    y = safe_sqrt(x)
    positive = y > 0
    return y, jnp.where(positive, dx / (2.0 * jnp.where(positive, y, 1.0)), 0.0)


@jax.custom_jvp
def safe_atan2(y: Array, x: Array) -> Array:
    """atan2(y, x), pi/2 at (0, 0) (the angle between a zero vector and anything)."""
    return jnp.where((x == 0) & (y == 0), math.pi / 2, jnp.arctan2(y, x))


@safe_atan2.defjvp
def _safe_atan2_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]):
    (y, x), (dy, dx) = primals, tangents
    denom = jnp.maximum(x**2 + y**2, jnp.finfo(jnp.result_type(x, y)).tiny)
    return safe_atan2(y, x), (x * dy - y * dx) / denom


def _is_low_precision(x: Array) -> bool:
    return jnp.finfo(x.dtype).bits <= 32


def _kappa0_and_sine_float32(q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
    """(kappa0, sine) = ((pi - theta) / (2 pi), sqrt(q11 q22 - q12^2)) in float32 arithmetic.

    With rho = q12 / sqrt(q11 q22) and s = sqrt(1 - rho^2), arccos(|rho|) = s P(|rho|) (the
    polynomial above, 2e-8), theta = arccos(|rho|) for rho >= 0 and pi - arccos(|rho|) below,
    and sine = s sqrt(q11) sqrt(q22). The per-point factors (1/sqrt(q), sqrt(q)) are computed
    on q11's and q22's own (broadcast) shapes, so an entry costs one multiply for each, one sqrt
    and the polynomial. A zero variance gives rho = 0, theta = pi/2 and sine = 0.
    """
    rho = q12 * (_inverse_sqrt(q11) * _inverse_sqrt(q22))
    positive = rho >= 0
    size = jnp.where(positive, rho, -rho)  # |rho| with derivative +-1 (also at rho = 0)
    cosine_gap = safe_sqrt(1 - size * size)  # sqrt(1 - rho^2), 0 beyond |rho| = 1 (rounding)
    poly = jnp.full_like(rho, _ANGLE_COEFFS[-1])
    for c in reversed(_ANGLE_COEFFS[:-1]):
        poly = poly * size + c
    half_turns = cosine_gap * poly / _TWO_PI  # arccos(|rho|) / (2 pi)
    kappa0 = jnp.where(positive, 0.5 - half_turns, half_turns)
    return kappa0, cosine_gap * (safe_sqrt(q11) * safe_sqrt(q22))


def _inverse_sqrt(q: Array) -> Array:
    """1/sqrt(q) with 1/sqrt(0) := 0, on q's own (small, broadcast) shape."""
    root = safe_sqrt(q)
    return jnp.where(root > 0, 1 / jnp.where(root > 0, root, 1), 0)


# --- the interface ---


class Activation(eqx.Module):
    """An elementwise nonlinearity phi together with its dual kernel map.

    Subclasses implement `__call__` (phi itself), `kernel` and `diag`.
    """

    @property
    def evals_per_entry(self) -> int:
        """Rough cost of one `kernel` entry in evaluations of phi, to size blocks of Grams."""
        return 1

    @abc.abstractmethod
    def __call__(self, x: ArrayLike) -> Array:
        """phi(x), elementwise."""

    @abc.abstractmethod
    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        """(E[phi(u) phi(v)], E[phi'(u) phi'(v)]) for (u, v) ~ N(0, [[q11, q12], [q12, q22]]).

        Args:
            q12: covariances, any shape.
            q11, q22: variances, broadcastable against q12 (e.g. a column and a row).
        """

    @abc.abstractmethod
    def diag(self, q: Array) -> tuple[Array, Array]:
        """(E[phi(u)^2], E[phi'(u)^2]) for u ~ N(0, q), elementwise in q."""


class ABRelu(Activation):
    """phi(x) = a min(x, 0) + b max(x, 0): relu (0, 1), abs (-1, 1), leaky relu (slope, 1).

    With theta = arccos(q12 / sqrt(q11 q22)) and kappa0 = (pi - theta) / (2 pi), the
    arc-cosine kernels (Cho & Saul 2009) with two slopes as in neural-tangents' `ABRelu`
    (after Tsuchida, Roosta & Gallagher 2018):

        E[phi'(u) phi'(v)] = (a - b)^2 kappa0 + a b
        E[phi(u) phi(v)]   = (a - b)^2 (sqrt(q11 q22 - q12^2) / (2 pi) + kappa0 q12) + a b q12

    `a` and `b` are traced. A zero variance gives theta = pi/2 (any angle gives the same
    kernel there). Finite derivatives at x = x' (theta = 0) and at zero inputs.
    """

    a: ArrayLike = 0.0
    b: ArrayLike = 1.0

    def __call__(self, x: ArrayLike) -> Array:
        x = jnp.asarray(x)
        return self.a * jnp.minimum(x, 0) + self.b * jnp.maximum(x, 0)

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        if _is_low_precision(q12):
            kappa0, sine = _kappa0_and_sine_float32(q12, q11, q22)
        else:
            sine = safe_sqrt(q11 * q22 - q12**2)
            kappa0 = (math.pi - safe_atan2(sine, q12)) / _TWO_PI  # exact at rho = +-1
        jump, product = (self.a - self.b) ** 2, self.a * self.b
        dot = jump * kappa0 + product
        return jump / _TWO_PI * sine + dot * q12, dot

    def diag(self, q: Array) -> tuple[Array, Array]:
        slope_sq = (self.a**2 + self.b**2) / 2
        return slope_sq * q, jnp.broadcast_to(slope_sq, jnp.shape(q)).astype(q.dtype)


def leaky_relu(slope: ArrayLike = 0.01) -> ABRelu:
    """phi(x) = max(x, 0) + slope * min(x, 0), with `slope` traced (jax.nn.leaky_relu)."""
    return ABRelu(slope, 1.0)


class Erf(Activation):
    """phi(x) = erf(x) (Williams 1997, "Computing with infinite networks"):

    E[phi(u) phi(v)]   = (2/pi) arcsin(2 q12 / sqrt((1 + 2 q11)(1 + 2 q22)))
    E[phi'(u) phi'(v)] = (4/pi) / sqrt((1 + 2 q11)(1 + 2 q22) - 4 q12^2)
    """

    def __call__(self, x: ArrayLike) -> Array:
        return jax.scipy.special.erf(jnp.asarray(x))

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        root = jnp.sqrt((1 + 2 * q11) * (1 + 2 * q22) - 4 * q12**2)
        return (2 / math.pi) * jnp.arctan2(2 * q12, root), (4 / math.pi) / root

    def diag(self, q: Array) -> tuple[Array, Array]:
        root = jnp.sqrt(1 + 4 * q)
        return (2 / math.pi) * jnp.arctan2(2 * q, root), (4 / math.pi) / root


class Gelu(Activation):
    """phi(x) = x Phi(x), the exact GELU (jax.nn.gelu with approximate=False).

    NNGP map from Tsuchida, Pearce, van der Heide, Roosta & Gallagher, "Avoiding kernel fixed
    points: computing with ELU and GELU infinite networks" (AAAI 2021); with
    delta = sqrt((1 + q11)(1 + q22) - q12^2) and angle = atan2(q12, delta), in the form of
    neural-tangents' `Gelu`:

        E[phi phi]   = q12 / 4 + (q12 angle + (q12^2 + q11 q22 delta^2) / ((1+q11)(1+q22) delta))
                       / (2 pi)
        E[phi' phi'] = 1/4 + angle / (2 pi)
                       + q12 (1/delta^2 + (1 - q11 q22)/((1+q11)(1+q22)) + 1) / (2 pi delta)
    """

    def __call__(self, x: ArrayLike) -> Array:
        return jax.nn.gelu(jnp.asarray(x), approximate=False)

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        prod_plus_1 = (q11 + 1) * (q22 + 1)
        prod = q11 * q22
        delta_sq = prod_plus_1 - q12**2
        delta = jnp.sqrt(delta_sq)
        angle = jnp.arctan2(q12, delta)
        nngp = (q12**2 + prod * delta_sq) / (prod_plus_1 * delta) + q12 * angle
        nngp = nngp / _TWO_PI + q12 / 4
        first = (1 / delta_sq + (1 - prod) / prod_plus_1 + 1) * q12 / (delta * _TWO_PI)
        return nngp, first + 0.25 + angle / _TWO_PI

    def diag(self, q: Array) -> tuple[Array, Array]:
        root = jnp.sqrt(1 + 2 * q)
        nngp = q * (0.25 + (q / ((q + 1) * root) + jnp.arctan2(q, root) / 2) / math.pi)
        return nngp, self.kernel(q, q, q)[1]


class Sin(Activation):
    """phi(x) = sin(x + phase); `Sin(pi/2)` is cos. With c = phase, s = (q11 + q22)/2:

    E[phi phi]   = e^-s (sin^2 c cosh q12 + cos^2 c sinh q12)
    E[phi' phi'] = e^-s (cos^2 c cosh q12 + sin^2 c sinh q12)

    (= (e^(q12 - s) -+ cos(2c) e^(-q12 - s)) / 2, neural-tangents' form; the sinh form keeps
    relative accuracy as q12 -> 0, which deep recursions need.)
    """

    phase: ArrayLike = 0.0

    def __call__(self, x: ArrayLike) -> Array:
        return jnp.sin(jnp.asarray(x) + self.phase)

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        damp = jnp.exp(-(q11 + q22) / 2)
        sin_sq, cos_sq = jnp.sin(self.phase) ** 2, jnp.cos(self.phase) ** 2
        cosh, sinh = jnp.cosh(q12), jnp.sinh(q12)
        return damp * (sin_sq * cosh + cos_sq * sinh), damp * (cos_sq * cosh + sin_sq * sinh)

    def diag(self, q: Array) -> tuple[Array, Array]:
        minus = jnp.exp(-2 * q) * jnp.cos(2 * self.phase)
        return (1 - minus) / 2, (1 + minus) / 2


class Identity(Activation):
    """phi(x) = x: E[u v] = q12, E[1] = 1 (a deep linear network)."""

    def __call__(self, x: ArrayLike) -> Array:
        return jnp.asarray(x)

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        return q12, jnp.ones_like(q12)

    def diag(self, q: Array) -> tuple[Array, Array]:
        return q, jnp.ones_like(q)


class Scaled(Activation):
    """phi(x) = factor * inner(x): both kernel maps scale by factor^2 (factor traced)."""

    inner: Activation
    factor: ArrayLike = 1.0

    @property
    def evals_per_entry(self) -> int:
        return self.inner.evals_per_entry

    def __call__(self, x: ArrayLike) -> Array:
        return self.factor * self.inner(x)

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        nngp, dot = self.inner.kernel(q12, q11, q22)
        return self.factor**2 * nngp, self.factor**2 * dot

    def diag(self, q: Array) -> tuple[Array, Array]:
        nngp, dot = self.inner.diag(q)
        return self.factor**2 * nngp, self.factor**2 * dot


# --- quadrature ---


class Quadrature(Activation):
    """Any elementwise phi, its kernel maps by Gaussian quadrature (phi' by autodiff).

    Bivariate expectations in polar coordinates. With psi = arccos(q12 / sqrt(q11 q22)),
    u = sqrt(q11) r cos(t) and v = sqrt(q22) r cos(t - psi) for (r, t) the polar coordinates of
    a standard normal pair, so

        E[f(u) g(v)] = 1/(2 pi) int_{-pi/2}^{pi/2} dt int_0^inf r e^{-r^2/2}
                       [f(u) g(v) + f(-u) g(-v)] dr.

    The angle integral is split at t = psi - pi/2, where v changes sign, and u > 0 inside, so
    each piece sees f and g on one half-line only; each piece gets `angular_nodes`
    Gauss-Legendre nodes. The radius uses the `radial_nodes`-point Gauss rule of the weight
    r e^{-r^2/2} on [0, inf) (half-range Gauss-Hermite; nodes from the discretised Stieltjes
    procedure). A function that is polynomial on each half-line (relu, abs, leaky relu and
    their derivatives) is therefore integrated exactly up to rounding; smooth functions converge
    geometrically. One-dimensional expectations (`diag`, Hermite coefficients) use the
    `line_nodes`-point half-range rule of e^{-z^2/2} on [0, inf) on each half-line.

    Measured accuracy at the default orders (48 radial x 2 x 48 angular, 64 line nodes), float64,
    variances in [0.1, 4], rho in [-1, 1]: against the closed forms (relu, abs, leaky relu, erf,
    gelu, sin, cos, identity) <= 2e-14 absolute; tanh and softplus against 4x the orders
    <= 2e-14 (docs/ntk.md). Non-smoothness away from 0 (e.g. relu6, hard tanh) is not resolved:
    convergence is then algebraic. Cost: 4 * radial_nodes * angular_nodes evaluations of phi
    and of phi' per entry; at most 256 nodes per rule.

    Args:
        fn: phi, a jax-traceable elementwise function of an array.
        radial_nodes, angular_nodes, line_nodes: quadrature orders (static).
    """

    fn: Callable[[Array], Array] = eqx.field(static=True)
    radial_nodes: int = eqx.field(static=True, default=RADIAL_NODES)
    angular_nodes: int = eqx.field(static=True, default=ANGULAR_NODES)
    line_nodes: int = eqx.field(static=True, default=LINE_NODES)

    @property
    def evals_per_entry(self) -> int:
        return 4 * self.radial_nodes * self.angular_nodes

    def __call__(self, x: ArrayLike) -> Array:
        return self.fn(jnp.asarray(x))

    def derivative(self, x: Array) -> Array:
        """phi'(x) elementwise, by forward-mode autodiff."""
        return jax.jvp(self.fn, (x,), (jnp.ones_like(x),))[1]

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        return polar_expectations(
            self.fn, self.derivative, q12, q11, q22, self.radial_nodes, self.angular_nodes
        )

    def diag(self, q: Array) -> tuple[Array, Array]:
        return line_expectations(self.fn, self.derivative, q, self.line_nodes)


def polar_expectations(
    f: Callable[[Array], Array],
    df: Callable[[Array], Array],
    q12: Array,
    q11: Array,
    q22: Array,
    radial_nodes: int,
    angular_nodes: int,
) -> tuple[Array, Array]:
    """(E[f(u) f(v)], E[df(u) df(v)]) by the polar quadrature described in `Quadrature`."""
    q12, q11, q22 = jnp.broadcast_arrays(q12, q11, q22)
    dtype = q12.dtype
    r, w_r = half_range_rule(radial_nodes, 1, dtype)
    t, w_t = gauss_legendre(angular_nodes, dtype)
    psi = safe_atan2(safe_sqrt(q11 * q22 - q12**2), q12)[..., None]
    # Two arcs of the angle: [-pi/2, psi - pi/2] and [psi - pi/2, pi/2].
    lo = jnp.concatenate([jnp.full_like(psi, -math.pi / 2), psi - math.pi / 2], -1)
    half = jnp.concatenate([psi, math.pi - psi], -1) / 2
    angle = (lo + half)[..., :, None] + half[..., :, None] * t  # (..., 2, n_t)
    weight = half[..., :, None] * w_t  # (..., 2, n_t)
    u = safe_sqrt(q11)[..., None, None, None] * jnp.cos(angle)[..., None] * r  # (..., 2, n_t, n_r)
    v = safe_sqrt(q22)[..., None, None, None] * jnp.cos(angle - psi[..., None])[..., None] * r
    u, v = jnp.stack([u, -u]), jnp.stack([v, -v])

    def integrate(values: Array) -> Array:
        radial = jnp.sum(values, axis=0) @ w_r  # (..., 2, n_t)
        return jnp.sum(radial * weight, axis=(-2, -1)) / _TWO_PI

    return integrate(f(u) * f(v)), integrate(df(u) * df(v))


def line_expectations(
    f: Callable[[Array], Array], df: Callable[[Array], Array], q: Array, nodes: int
) -> tuple[Array, Array]:
    """(E[f(u)^2], E[df(u)^2]), u ~ N(0, q), by the half-range rule on each half-line."""
    z = safe_sqrt(q)[..., None] * line_points(nodes, q.dtype)
    return gaussian_mean(f(z) ** 2, nodes), gaussian_mean(df(z) ** 2, nodes)


class Hermite(Activation):
    """phi(x) = sum_k coeffs[k] h_k(x), h_k = He_k / sqrt(k!) the normalised Hermite polynomials.

    The h_k are orthonormal under N(0, 1), so at unit variances E[phi(u) phi(v)] =
    sum_k a_k^2 rho^k (the dual activation, Daniely, Frostig & Singer 2016) and
    E[phi(Z)^2] = sum_k a_k^2. For other variances the maps use the polar quadrature, exact in
    the radius (phi is a polynomial) with radial nodes >= degree + 1. `coeffs` are traced.
    """

    coeffs: Array

    @property
    def _nodes(self) -> int:
        return max(RADIAL_NODES, jnp.shape(self.coeffs)[0] + 1)

    @property
    def evals_per_entry(self) -> int:
        return 4 * self._nodes * ANGULAR_NODES

    def __call__(self, x: ArrayLike) -> Array:
        return _hermite_series(self.coeffs, jnp.asarray(x))

    def dual(self, rho: Array) -> tuple[Array, Array]:
        """(sum_k a_k^2 rho^k, sum_k k a_k^2 rho^(k-1)): the maps at unit variances, exactly."""
        power = jnp.asarray(self.coeffs) ** 2
        k = jnp.arange(1, power.shape[0])
        return jnp.polyval(power[::-1], rho), jnp.polyval((k * power[1:])[::-1], rho)

    def derivative(self, x: Array) -> Array:
        """phi' = sum_k a_k sqrt(k) h_{k-1}."""
        k = jnp.arange(1, jnp.shape(self.coeffs)[0])
        return _hermite_series(self.coeffs[1:] * jnp.sqrt(k), x)

    def kernel(self, q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
        return polar_expectations(self, self.derivative, q12, q11, q22, self._nodes, ANGULAR_NODES)

    def diag(self, q: Array) -> tuple[Array, Array]:
        return line_expectations(self, self.derivative, q, max(LINE_NODES, self._nodes))


def _hermite_series(coeffs: Array, x: Array) -> Array:
    """sum_k coeffs[k] h_k(x) by the recurrence h_{k+1} = (x h_k - sqrt(k) h_{k-1}) / sqrt(k+1)."""
    coeffs = jnp.asarray(coeffs)
    prev, cur = jnp.zeros_like(x), jnp.ones_like(x)
    total = coeffs[0] * cur
    for k in range(1, coeffs.shape[0]):
        prev, cur = cur, (x * cur - math.sqrt(k - 1) * prev) / math.sqrt(k)
        total = total + coeffs[k] * cur
    return total


def line_points(n: int, dtype: Any) -> Array:
    """The 2n points (z, -z) of `gaussian_mean`'s rule, shape (2n,)."""
    z, _ = half_range_rule(n, 0, dtype)
    return jnp.concatenate([z, -z])


def gaussian_mean(values: Array, n: int) -> Array:
    """E[h(Z)], Z ~ N(0, 1), from values h at `line_points(n)` along the last axis.

    E[h(Z)] = (1/2) sum_k w_k (h(z_k) + h(-z_k)) with the n-point Gauss rule (z_k, w_k) of the
    weight e^{-z^2/2} on [0, inf), normalised to unit mass: exact for h polynomial of degree
    < 2n on each half-line.
    """
    _, w = half_range_rule(n, 0, values.dtype)
    return (values[..., :n] + values[..., n:]) @ w / 2


def gauss_legendre(n: int, dtype: Any) -> tuple[Array, Array]:
    """n-point Gauss-Legendre nodes and weights on [-1, 1]."""
    t, w = _gauss_legendre_np(n)
    return jnp.asarray(t, dtype), jnp.asarray(w, dtype)


def half_range_rule(n: int, power: int, dtype: Any) -> tuple[Array, Array]:
    """n-point Gauss rule of the weight r^power e^{-r^2/2} on [0, inf), weights summing to 1."""
    r, w = _half_range_rule_np(n, power)
    return jnp.asarray(r, dtype), jnp.asarray(w, dtype)


@functools.cache
def _gauss_legendre_np(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


@functools.cache
def _half_range_rule_np(n: int, power: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule from recurrence coefficients of the discretised Stieltjes procedure.

    The weight is discretised by 30-point Gauss-Legendre panels of width 1/2 on [0, L],
    L = 2 sqrt(2n) + 12 (beyond every node, with e^{-L^2/2} below 1e-31 of the mass): this
    integrates p(r) r^power e^{-r^2/2} for polynomials p of degree < 2n to rounding (checked:
    moments to 1e-13 and E[h_k(Z)^2] = 1 to 1e-14 for k < n <= 256).
    """
    if not 1 <= n <= MAX_NODES:
        raise ValueError(f"half-range Gauss rules have 1 to {MAX_NODES} nodes, got {n}")
    length = 2.0 * math.sqrt(2.0 * n) + 12.0
    t, w = np.polynomial.legendre.leggauss(30)
    edges = np.linspace(0.0, length, int(math.ceil(length * 2)) + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    x = (mid[:, None] + half[:, None] * t).ravel()
    weights = (half[:, None] * w).ravel() * x**power * np.exp(-(x**2) / 2)
    weights /= weights.sum()
    # Stieltjes on the weighted values sqrt(w_i) p_j(x_i), which stay bounded (Lanczos).
    alpha, beta = np.zeros(n), np.zeros(n)
    prev, cur = np.zeros_like(x), np.sqrt(weights)
    for j in range(n):
        alpha[j] = np.sum(x * cur**2)
        if j + 1 == n:
            break
        q = (x - alpha[j]) * cur - beta[j] * prev
        beta[j + 1] = np.linalg.norm(q)
        prev, cur = cur, q / beta[j + 1]
    jacobi = np.diag(alpha) + np.diag(beta[1:], 1) + np.diag(beta[1:], -1)
    nodes = np.linalg.eigvalsh(jacobi)
    # Weights 1 / sum_k p_k(x_j)^2 with the orthonormal p_k from the recurrence: relative
    # accuracy even for the tiny weights of the outer nodes (Golub-Welsch's v_0j^2 is only
    # accurate to ~1e-32 absolute, which h_k(z) ~ 1e50 there would amplify).
    total, p_prev, p = np.ones_like(nodes), np.zeros_like(nodes), np.ones_like(nodes)
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(n - 1):
            p_prev, p = p, ((nodes - alpha[j]) * p - beta[j] * p_prev) / beta[j + 1]
            total += p**2
    return nodes, np.where(np.isfinite(total), 1 / total, 0.0)


# --- names ---

_NAMED: dict[str, Callable[[], Activation]] = {
    "relu": lambda: ABRelu(0.0, 1.0),
    "leaky_relu": leaky_relu,
    "abs": lambda: ABRelu(-1.0, 1.0),
    "erf": Erf,
    "identity": Identity,
    "gelu": Gelu,
    "sin": lambda: Sin(0.0),
    "cos": lambda: Sin(math.pi / 2),
    "tanh": lambda: Quadrature(jnp.tanh),
    "softplus": lambda: Quadrature(jax.nn.softplus),
}
ACTIVATION_NAMES = tuple(_NAMED)


def get_activation(activation: str | Activation | Callable[[Array], Array]) -> Activation:
    """The `Activation` for a name in ACTIVATION_NAMES, an `Activation`, or a callable.

    A callable that is not an `Activation` becomes `Quadrature(callable)`. "leaky_relu" has
    slope 0.01 (as jax.nn.leaky_relu); for another or a traced slope pass `leaky_relu(slope)`.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        if activation not in _NAMED:
            raise ValueError(
                f"unknown activation {activation!r}; allowed names are {list(ACTIVATION_NAMES)}, "
                "an Activation, or a callable (integrated by Quadrature)"
            )
        return _NAMED[activation]()
    if callable(activation):
        return Quadrature(activation)
    raise ValueError(
        f"activation must be one of {list(ACTIVATION_NAMES)}, an Activation or a callable, "
        f"got {activation!r}"
    )
