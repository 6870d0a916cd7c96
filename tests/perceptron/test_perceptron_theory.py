"""The closed-form test error of a linear classifier on chi-data, and the predicted exponents."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.perceptron import chi_data, closed_form_test_error, predicted_exponents

_error = jax.jit(closed_form_test_error)


def integral_form(theta: float, chi: float) -> float:
    """The issue's form: int_0^inf phi(z) P((chi+1)/2, theta^2 z^2 / 2) dz, by scipy quad."""
    a = (chi + 1) / 2
    integrand = lambda z: scipy.stats.norm.pdf(z) * scipy.special.gammainc(a, theta**2 * z**2 / 2)  # noqa: E731
    # split at the scale 1/theta where P(a, .) rises, so quad sees the feature
    knot = min(1.0 / theta, 40.0)
    return sum(
        scipy.integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        for lo, hi in ((0.0, knot), (knot, np.inf))
    )


@given(log10_theta=st.floats(-3.0, 3.0), chi=st.floats(-0.9, 6.0))
@settings(max_examples=60, deadline=None)
def test_closed_form_equals_the_incomplete_gamma_integral(log10_theta, chi):
    theta = 10.0**log10_theta
    expected = integral_form(theta, chi)
    got = float(_error(1.0, theta, chi))
    # both are accurate to ~1e-12 relative (betainc in float64; quad at epsrel 1e-12)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-15)


@given(theta=st.floats(0.0, 1e4))
@settings(max_examples=30, deadline=None)
def test_gaussian_data_give_the_angle_over_pi(theta):
    assert float(_error(1.0, theta, 0.0)) == pytest.approx(np.arctan(theta) / np.pi, rel=1e-12)


@pytest.mark.parametrize("chi", [0.0, 1.0, 3.0])
def test_small_angle_error_grows_as_theta_pow_one_plus_chi(chi):
    a = (chi + 1) / 2
    prefactor = 1 / ((1 + chi) * scipy.special.beta(a, 0.5))
    for theta in (1e-4, 1e-6):
        # I_x(a, b) = x^a / (a B(a, b)) (1 + O(x)): relative corrections ~ theta^2
        assert float(_error(1.0, theta, chi)) == pytest.approx(
            prefactor * theta ** (1 + chi), rel=1e-6
        )


def test_sign_of_w1_and_the_orthogonal_classifier():
    assert float(_error(0.0, 1.0, 2.0)) == 0.5
    eps = float(_error(2.0, 0.5, 1.0))
    assert float(_error(-2.0, 0.5, 1.0)) == pytest.approx(1 - eps, rel=1e-14)
    assert float(_error(3.0, 0.0, 1.0)) == 0.0


@pytest.mark.parametrize("chi", [0.0, 1.0, 3.0])
def test_closed_form_equals_monte_carlo_within_its_standard_error(chi):
    # Classifiers w with a range of angles; the Monte Carlo error over n fresh points is
    # Binomial(n, eps)/n, so |MC - eps| / sqrt(eps (1 - eps) / n) is ~N(0, 1): bound 4.5 (fixed
    # keys; a wrong closed form off by 2% at eps ~ 0.1 would give ~8).
    d, n = 5, 200_000
    x, y = chi_data(jax.random.key(1), d=d, n=n, chi=chi)
    for i, w in enumerate(
        jax.random.normal(jax.random.key(2), (6, d)) * jnp.array([2.0] + [0.5] * 4)
    ):
        mc = float(jnp.mean(y * (x @ w) <= 0))
        eps = float(_error(w[0], jnp.linalg.norm(w[1:]), chi))
        z = abs(mc - eps) / np.sqrt(eps * (1 - eps) / n)
        assert z < 4.5, (i, mc, eps)


@pytest.mark.parametrize("chi", [0.0, 1.0, 3.0])
def test_predicted_gd_exponent_is_the_scaling_of_the_closest_point_to_the_boundary(chi):
    # The gradient-descent prediction 1/(1+chi) comes from the smallest |x_1| among P points:
    # P(|x_1| < m) = P_reg((chi+1)/2, m^2/2) (x_1^2/2 ~ Gamma((chi+1)/2)), so the median of
    # min |x_1| is m(P) = sqrt(2 P_reg^-1((chi+1)/2, 1 - 2^(-1/P))), exactly. Its log-slope
    # between P = 2^20 and 2^24 must be -gd_dw1_vs_P; the finite-P correction is of relative
    # order m^2 ~ P^(-2/(1+chi)) <= 2^(-10) here, so 1e-3 is a bound, not a fit.
    a = (chi + 1) / 2
    sizes = np.array([2.0**20, 2.0**24])
    median = np.sqrt(2 * scipy.special.gammaincinv(a, -np.expm1(-np.log(2) / sizes)))
    slope = np.diff(np.log(median))[0] / np.diff(np.log(sizes))[0]
    assert abs(-slope - predicted_exponents(chi)["gd_dw1_vs_P"]) < 1e-3, slope


@pytest.mark.parametrize("chi", [0.0, 1.0, 3.0])
def test_predicted_error_exponent_is_the_small_angle_slope_of_the_closed_form(chi):
    # eps(theta) ~ theta^(1+chi) / ((1+chi) B(a, 1/2)) + O(theta^(3+chi)): the log-slope of
    # the closed form between theta = 1e-4 and 1e-3 equals test_error_vs_theta to O(theta^2),
    # i.e. within 1e-5.
    theta = np.array([1e-4, 1e-3])
    eps = np.asarray(closed_form_test_error(1.0, theta, chi))
    slope = np.diff(np.log(eps))[0] / np.log(10.0)
    assert abs(slope - predicted_exponents(chi)["test_error_vs_theta"]) < 1e-5, slope


def test_bad_chi_is_rejected():
    with pytest.raises(ValueError, match="chi"):
        predicted_exponents(-1.0)
    with pytest.raises(ValueError, match="chi"):
        closed_form_test_error(1.0, 1.0, -1.5)
