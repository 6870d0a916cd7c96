"""Closed-form test error of a linear classifier on chi-data, and the predicted exponents."""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import betainc, gammaln
from jaxtyping import Array, ArrayLike, Float

from ._data import check_chi


def closed_form_test_error(
    w1: Float[ArrayLike, "*n"], w_perp: Float[ArrayLike, "*n"], chi: Float[ArrayLike, ""]
) -> Float[Array, "*n"]:
    """Test error of the classifier sign(w . x) on chi-data, from w_1 and ||w_perp|| alone.

    With x_1 = s sqrt(2G), G ~ Gamma(a, 1), a = (chi + 1)/2, and w_perp . x_perp =
    ||w_perp|| z, z ~ N(0, 1), the error of a classifier with w_1 > 0 and theta = ||w_perp||/w_1
    is (the integral form is the one of the perceptron analysis of Sclocchi, Geiger & Wyart)

        eps(theta) = int_0^inf phi(z) P(a, theta^2 z^2 / 2) dz = P(z > |x_1| / theta)
                   = (1/2) I_{theta^2 / (1 + theta^2)}(a, 1/2),

    with P the regularised lower incomplete gamma function and I the regularised incomplete
    beta function. The last form is exact, not a quadrature: x_1^2 / z^2 = G / G' with
    G' = z^2 / 2 ~ Gamma(1/2, 1) independent of G, and G / (G + G') ~ Beta(a, 1/2), so
    P(x_1^2 / z^2 < theta^2) = I_{theta^2/(1+theta^2)}(a, 1/2). For chi = 0 it is the familiar
    arctan(theta) / pi; for small theta, eps ~ theta^(1 + chi) / ((1 + chi) B(a, 1/2)). A
    classifier with w_1 < 0 errs with probability 1 - eps(|theta|); w_1 = 0 gives 1/2.
    Here theta^2/(1 + theta^2) is computed as ||w_perp||^2 / (w_1^2 + ||w_perp||^2), so
    w_1 = 0 is exact; w = 0 gives NaN.

    Args:
        w1: `Float[ArrayLike, "*n"]` the weight (or weight change) along x_1.
        w_perp: `Float[ArrayLike, "*n"]` the norm of its other components, >= 0.
        chi: depletion exponent > -1 of the data.

    Returns:
        `Float[Array, "*n"]` the probability that sign(w . x) != sign(x_1).
    """
    check_chi(chi)
    w1, w_perp = jnp.asarray(w1), jnp.asarray(w_perp)
    dtype = jnp.result_type(float, w1, w_perp, chi)
    w1, w_perp = w1.astype(dtype), w_perp.astype(dtype)
    a = (jnp.asarray(chi, dtype) + 1) / 2
    x = w_perp**2 / (w1**2 + w_perp**2)
    eps = 0.5 * betainc(a, jnp.asarray(0.5, dtype), x)
    return jnp.where(w1 >= 0, eps, 1 - eps)


def predicted_exponents(chi: float) -> dict[str, float]:
    """The scaling exponents predicted for the perceptron on chi-data.

    - `gd_dw1_vs_P` = 1/(1 + chi): in the gradient-descent regime (alpha T -> 0) training
      stops when the point closest to the boundary, at |x_1| ~ P^(-1/(1+chi)), is fitted,
      so alpha dw_1 ~ P^(1/(1+chi)) (Sclocchi, Geiger & Wyart, ICML 2023).
    - `noise_dw1_over_T_vs_P` = 1/(1+chi): in the noise-dominated regime (alpha T >> 1),
      dw_1 / T grows with P, asymptotically as P^(1/(1+chi)) (Sclocchi & Wyart, "On the
      different regimes of stochastic gradient descent", PNAS 2024). Finite-P measurements
      approach it from below; report the measured exponent rather than force this one.
    - `noise_dw_perp_vs_T` = 1: there ||dw_perp|| ~ c T sqrt(d), nearly independent of P.
    - `test_error_vs_theta` = 1 + chi: eps(theta) ~ theta^(1+chi) as theta -> 0
      (`closed_form_test_error`).

    Args:
        chi: depletion exponent > -1.

    Returns:
        The four exponents by name.
    """
    check_chi(chi)
    growth = 1.0 / (1.0 + float(chi))
    return {
        "gd_dw1_vs_P": growth,
        "noise_dw1_over_T_vs_P": growth,
        "noise_dw_perp_vs_T": 1.0,
        "test_error_vs_theta": 1.0 + float(chi),
    }


def gradient_flow_temperature(
    P: Float[ArrayLike, "*n"], *, d: int, chi: Float[ArrayLike, ""], fraction: float = 0.15
) -> Float[Array, "*n"]:
    """alpha T of a full-batch gradient-descent run that stands in for gradient flow.

    Full-batch GD (B = P) has no noise; its step alpha eta = alpha T P only discretises
    gradient flow. Its first step moves u_1 = alpha dw_1 by alpha T P E|x_1| / sqrt(d). Training
    ends when the points nearest the boundary are fitted; with d - 1 transverse directions to
    fit the closest few, u_1 ends near sqrt(d) / delta_d, delta_d ~ P^(-1/(1+chi)) the d-th
    smallest |x_1| (an estimate within ~25% of the measured u_1 for chi in {0, 1, 3}, d = 16).
    This returns the alpha T at which the first step is `fraction` of that scale,

        alpha T = fraction * d / (P E|x_1| delta_d),
        delta_d = (d (1 + chi) 2^a Gamma(a) / (2 P))^(1/(1+chi)),  a = (chi + 1)/2,
        E|x_1| = sqrt(2) Gamma(a + 1/2) / Gamma(a),

    so that the discretisation is the same at every P (the scaling of dw_1 with P is not
    biased by the step) and small: at fraction 0.15 the final dw_1 differs from that of a 3x
    smaller step by ~0.1%, 0.3% and 2.5% for chi = 3, 1, 0 (P = 512, d = 16; the test
    suite checks chi = 1, P = 128, where it is ~1%).

    Args:
        P: `Float[ArrayLike, "*n"]` training-set sizes.
        d: input dimension.
        chi: depletion exponent > -1.
        fraction: the first step as a fraction of the final u_1 estimate.

    Returns:
        `Float[Array, "*n"]` alpha T (pass T = alpha T / alpha with B = None).
    """
    check_chi(chi)
    P = jnp.asarray(P, jnp.result_type(float, P))
    a = (jnp.asarray(chi, P.dtype) + 1) / 2
    mean_abs_x1 = jnp.sqrt(2.0) * jnp.exp(gammaln(a + 0.5) - gammaln(a))
    delta = (d * 2 * a * 2**a * jnp.exp(gammaln(a)) / (2 * P)) ** (1 / (2 * a))
    return fraction * d / (P * mean_abs_x1 * delta)
