"""Infinite-depth limits of the NTK (Radhakrishnan, Belkin & Uhler) and their classifiers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ntk_setups import RELU_DEPTHS, deep_relu_ntk, relu_correlations

from theorytk import kernels

MAJORITY = kernels.Hermite(jnp.array([0.5, 0.6, math.sqrt(1 - 0.61)]))
SINGULAR = kernels.Hermite(jnp.array([0.0, 0.8, 0.6]))
NEAREST = kernels.Hermite(jnp.array([0.0, 0.0, 0.8, 0.6]))


def _centred_abs(z):
    return jnp.abs(z) - math.sqrt(2 / math.pi)


# --- dual activations and Hermite coefficients ---


def test_hermite_coefficients_of_relu_match_the_hand_computed_ones():
    # a_k = E[relu(Z) h_k(Z)]: 1/sqrt(2 pi), 1/2, 1/(2 sqrt(pi)), 0, -1/(sqrt(2 pi) sqrt(24)) by
    # the half-Gaussian moments E[Z^j; Z > 0]; the half-range rule is exact here (1e-14).
    got = np.asarray(kernels.hermite_coefficients("relu", 5))
    want = [1 / math.sqrt(2 * math.pi), 0.5, 1 / (2 * math.sqrt(math.pi)), 0.0,
            -1 / (math.sqrt(2 * math.pi) * math.sqrt(24))]  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["erf", "sin", "tanh", "gelu"])
def test_hermite_coefficients_satisfy_parseval_for_phi_and_its_derivative(name):
    # sum_k a_k^2 = E[phi(Z)^2] and sum_k k a_k^2 = E[phi'(Z)^2] (h_k' = sqrt(k) h_(k-1)). The
    # coefficients of these smooth activations decay at least like exp(-c sqrt(k)) (tanh, the
    # slowest: a_160 ~ 3e-9); 160 terms leave < 1e-14 (measured), bound 1e-11 relative.
    coeffs = np.asarray(kernels.hermite_coefficients(name, 160, nodes=256))
    value, slope = kernels.get_activation(name).diag(jnp.ones(()))
    assert np.sum(coeffs**2) == pytest.approx(float(value), rel=1e-11)
    assert np.sum(np.arange(160) * coeffs**2) == pytest.approx(float(slope), rel=1e-11)


@pytest.mark.parametrize("name", ["relu", "erf", "sin", "tanh"])
def test_dual_activation_is_the_hermite_series_sum_of_squared_coefficients(name):
    # dual(rho) = sum_k a_k^2 rho^k / E[phi(Z)^2] (Daniely et al. 2016) and dual' its
    # derivative, against the activation's own kernel map at unit variance, |rho| <= 0.9 with
    # 200 terms: the tail is <= 0.9^200 ~ 7e-10 times the decaying a_k^2; bound 1e-9.
    coeffs = np.asarray(kernels.hermite_coefficients(name, 200, nodes=256))
    power = coeffs**2 / float(kernels.dual_activation(name).norm_sq)
    rho = np.linspace(-0.9, 0.9, 37)
    value, slope = kernels.dual_activation(name)(rho)
    k = np.arange(200)
    np.testing.assert_allclose(value, np.polyval(power[::-1], rho), rtol=0, atol=1e-9)
    np.testing.assert_allclose(slope, np.polyval((k * power)[:0:-1], rho), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "activation",
    ["relu", "erf", "sin", pytest.param("tanh", marks=pytest.mark.slow), SINGULAR, NEAREST],
)
def test_deep_ntk_is_the_normalised_ntk_of_mlp_kernels(activation):
    # The recursion on correlations equals the analytic NTK of the bias-free network with the
    # normalised activation, sigma_w = 1, on inputs of norm sqrt(d), divided by its diagonal.
    # Independent paths (closed form / quadrature in mlp_kernels vs the dual map); 1e-12.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4))
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    norm = math.sqrt(float(kernels.dual_activation(activation).norm_sq))
    scaled = kernels.Scaled(kernels.get_activation(activation), 1 / norm)
    ntk = kernels.mlp_kernels(2 * x, depth=5, activation=scaled, sigma_w=1.0, sigma_b=0.0).ntk
    rho = x @ x.T
    np.fill_diagonal(rho, 1.0)
    deep = kernels.deep_ntk(rho, activation, 5)
    np.testing.assert_allclose(deep, np.asarray(ntk) / np.asarray(ntk)[0, 0], rtol=0, atol=1e-12)


def test_a_sequence_of_depths_gives_each_depth_as_if_computed_alone():
    # One pass through the layers, read at depths 0, 3, 7 (in any order), equals separate
    # calls exactly (the same operations in the same order) for deep_ntk and ntk_classifier.
    x_train, y_train, x_test = _cap_data()
    rho = np.clip(x_test @ x_train.T, -1, 1)
    stacked = kernels.deep_ntk(rho, "erf", [7, 0, 3])
    for row, depth in zip(stacked, [7, 0, 3], strict=True):
        np.testing.assert_array_equal(row, kernels.deep_ntk(rho, "erf", depth))
    decisions = kernels.ntk_classifier(x_train, y_train, x_test, SINGULAR, (2, 5))
    assert decisions.shape == (2, x_test.shape[0])
    for row, depth in zip(decisions, (2, 5), strict=True):
        expected = kernels.ntk_classifier(x_train, y_train, x_test, SINGULAR, depth)
        np.testing.assert_allclose(row, expected, rtol=1e-12, atol=0)


# --- the taxonomy ---


def test_depth_limit_classifies_named_and_hermite_activations():
    # Hand values (normalised phi): relu a0 = 1/sqrt(pi), a1^2 = 1/2, mu = 1 -> majority vote;
    # erf a1^2 = (4/(3 pi)) / N, mu = (4/(pi sqrt 5)) / N with N = (2/pi) arcsin(2/3);
    # sin a1^2 = 1/sinh(1), mu = coth(1); both singular with alpha = 2 log(1/a1^2)/log(mu);
    # cos: a0 != 0 and mu = tanh(1) < 1 -> degenerate; identity -> linear; centred |x| and
    # h2/h3 mixtures (a0 = a1 = 0) -> nearest neighbour. Quadrature-level accuracy: 1e-12.
    relu = kernels.depth_limit("relu")
    assert relu.classifier == "majority_vote"
    assert (relu.a0, relu.a1_sq, relu.slope_at_one) == pytest.approx(
        (1 / math.sqrt(math.pi), 0.5, 1.0), abs=1e-12
    )
    norm = 2 / math.pi * math.asin(2 / 3)
    for name, a1_sq, mu in (
        ("erf", 4 / (3 * math.pi) / norm, 4 / (math.pi * math.sqrt(5)) / norm),
        ("sin", 1 / math.sinh(1), 1 / math.tanh(1)),
    ):
        limit = kernels.depth_limit(name)
        assert limit.classifier == "singular_kernel"
        assert (limit.a1_sq, limit.slope_at_one) == pytest.approx((a1_sq, mu), rel=1e-12)
        assert limit.exponent == pytest.approx(2 * math.log(1 / a1_sq) / math.log(mu), rel=1e-10)
    cos = kernels.depth_limit("cos")
    assert cos.classifier == "degenerate"
    assert cos.slope_at_one == pytest.approx(math.tanh(1), rel=1e-12)
    assert kernels.depth_limit("identity").classifier == "linear"
    assert kernels.depth_limit(_centred_abs).classifier == "nearest_neighbour"
    assert kernels.depth_limit(MAJORITY).classifier == "majority_vote"
    assert kernels.depth_limit(NEAREST).classifier == "nearest_neighbour"
    singular = kernels.depth_limit(SINGULAR)
    assert singular.classifier == "singular_kernel"
    assert singular.exponent == pytest.approx(2 * math.log(1 / 0.64) / math.log(1.36), rel=1e-12)


@pytest.mark.parametrize("activation", ["erf", "sin", SINGULAR])
def test_koenigs_kernel_solves_its_functional_equation(activation):
    # Psi(dual(rho)) = a1^2 Psi(rho) and Psi(rho) / rho -> 1 as rho -> 0; the iteration stops at
    # |rho_l| < 1e-13, so both hold to ~1e-12 relative.
    dual = kernels.dual_activation(activation)
    a1_sq = kernels.depth_limit(activation).a1_sq
    rho = jnp.linspace(-0.95, 0.95, 39)
    psi = kernels.koenigs_kernel(rho, dual)
    np.testing.assert_allclose(kernels.koenigs_kernel(dual(rho)[0], dual), a1_sq * psi, rtol=1e-11)
    assert float(kernels.koenigs_kernel(jnp.array(1e-9), dual)) == pytest.approx(1e-9, rel=1e-8)


@pytest.mark.parametrize("activation", ["erf", SINGULAR])
def test_koenigs_kernel_is_singular_with_the_predicted_exponent(activation):
    # Psi(rho) ~ c (1 - rho)^(-alpha/2) as rho -> 1 (= c' ||x - x'||^-alpha on the sphere): the
    # log-log slope between 1 - rho = 1e-7 and 1e-10 equals -alpha/2. The approach is
    # geometric in log(1 - rho) (the next term of the dual at 1 is O(1 - rho)): 1e-3 relative.
    gaps = jnp.array([1e-7, 1e-10])
    psi = kernels.koenigs_kernel(1 - gaps, activation)
    slope = float((jnp.diff(jnp.log(psi)) / jnp.diff(jnp.log(gaps)))[0])
    assert slope == pytest.approx(-kernels.depth_limit(activation).exponent / 2, rel=1e-3)


def test_singular_activation_has_the_requested_exponent():
    for alpha, degree in ((3.0, 2), (1.5, 3), (10.0, 2)):
        limit = kernels.depth_limit(kernels.singular_activation(alpha, degree))
        assert limit.classifier == "singular_kernel"
        assert limit.exponent == pytest.approx(alpha, rel=1e-9)
    with pytest.raises(ValueError, match="alpha must be > 2"):
        kernels.singular_activation(1.5, degree=2)


# --- convergence of the depth-L NTK classifier to the limit ---


def _cap_data():
    """Two classes on a spherical cap in R^3 (pairwise correlations > -0.5), 8 vs 6 labels."""
    rng = np.random.default_rng(1)

    def cap(n):
        z = 0.35 * rng.standard_normal((n, 3))
        z[:, 0] += 1.0
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    x_train, x_test = cap(14), cap(40)
    y_train = np.where(x_train[:, 1] + 0.3 * x_train[:, 2] > -0.08, 1.0, -1.0)
    return x_train, y_train, x_test


@pytest.mark.parametrize(
    ("activation", "kind", "depths"),
    [
        (MAJORITY, "majority_vote", (1, 16, 256)),
        ("relu", "majority_vote", (1, 100, 1000)),
        ("erf", "singular_kernel", (1, 10, 1000)),
        (SINGULAR, "singular_kernel", (1, 10, 300)),
        ("sin", "singular_kernel", (1, 100, 1000)),
        (NEAREST, "nearest_neighbour", (1, 3, 6)),
        pytest.param(_centred_abs, "nearest_neighbour", (1, 2, 6), marks=pytest.mark.slow),
    ],
)
def test_ntk_classifier_converges_to_the_predicted_limit_classifier(activation, kind, depths):
    # On 14 training and 40 test points the predictions sign(K_L(x, X) K_L(X, X)^-1 y) of the
    # depth-L NTK agree with the limit classifier on every test point at the largest depth, and
    # not yet at depth 1 (so the limit is reached through depth, not given). Measured
    # agreement at the three depths: majority (Hermite) 0.90, 0.53, 1; relu 0.53, 0.50, 1;
    # erf 0.68, 0.80, 1; Hermite singular 0.50, 0.95, 1; sin 0.58, 0.95, 1; Hermite nearest
    # neighbour 0.63, 0.90, 1; centred |x| 0.95, 0.93, 1. Depths stay below the underflow of
    # the normalised kernel (~L (a1^2/mu)^L > 1e-300).
    x_train, y_train, x_test = _cap_data()
    assert kernels.depth_limit(activation).classifier == kind
    limit = np.asarray(kernels.limit_classifier(x_train, y_train, x_test, activation))
    assert np.all(limit != 0)
    agreement = [
        np.mean(
            np.sign(kernels.ntk_classifier(x_train, y_train, x_test, activation, depth)) == limit
        )
        for depth in depths
    ]
    assert agreement[-1] == 1.0, agreement
    assert agreement[0] < 1.0, agreement


def test_the_three_limits_are_different_classifiers_on_the_same_data():
    # The taxonomy is not vacuous here: majority vote, nearest neighbour and the singular kernel
    # classifier disagree on some test points.
    x_train, y_train, x_test = _cap_data()
    preds = [np.asarray(kernels.limit_classifier(x_train, y_train, x_test, a))
             for a in (MAJORITY, NEAREST, SINGULAR)]  # fmt: skip
    assert np.all(preds[0] == 1.0)  # 8 positive labels against 6
    assert np.any(preds[1] != preds[0]) and np.any(preds[2] != preds[0])
    assert np.any(preds[1] != preds[2])


def test_degenerate_activation_has_no_limit_classifier():
    x_train, y_train, x_test = _cap_data()
    with pytest.raises(ValueError, match="degenerate at infinite depth"):
        kernels.limit_classifier(x_train, y_train, x_test, "cos")


def test_bad_input_raises_value_error():
    x_train, y_train, x_test = _cap_data()
    with pytest.raises(ValueError, match="x_train and x_test must have shapes"):
        kernels.ntk_classifier(x_train, y_train, x_test[:, :2], "erf", 3)
    with pytest.raises(ValueError, match="y_train must have shape"):
        kernels.limit_classifier(x_train, y_train[:-1], x_test, "erf")
    with pytest.raises(ValueError, match="depth must be an integer >= 0"):
        kernels.deep_ntk(0.5, "erf", -1)
    with pytest.raises(ValueError, match="or a sequence of them"):
        kernels.ntk_classifier(x_train, y_train, x_test, "erf", [1, 2.5])
    with pytest.raises(ValueError, match="allowed names are"):
        kernels.depth_limit("swish")


# --- the rate at which relu approaches majority vote ---


def test_relu_correlations_approach_one_like_nine_pi_squared_over_two_l_squared():
    # The normalised relu dual is 1 - theta^2/2 + theta^3/(3 pi) + O(theta^4) in
    # rho = cos(theta), so theta_{l+1} = theta_l - theta_l^2/(3 pi) + O(theta^3): theta_l ~ 3 pi / l
    # and 1 - rho_l ~ 9 pi^2 / (2 l^2). The next order is a relative O(log l / l) (< 1% at
    # l = 4096 for a constant of order 10): bound 2%, and the approach must be monotone.
    rhos = relu_correlations(4096)
    scaled = {layer: float((1 - rhos[layer - 1]) * layer**2) for layer in RELU_DEPTHS}
    limit = 9 * math.pi**2 / 2
    assert scaled[4096] == pytest.approx(limit, rel=0.02)
    assert abs(scaled[4096] - limit) < abs(scaled[1024] - limit)


def test_relu_ntk_tends_to_a_quarter_and_its_input_dependence_decays_like_one_over_depth():
    # With theta_l ~ 3 pi / l the slope dual'(rho_l) = 1 - theta_l / pi ~ 1 - 3 / l, so
    # prod_{l <= m < L} dual'(rho_m) ~ (l / L)^3 and K_L(rho) ~ sum_l (l / L)^3 ~ L / 4 against
    # K_L(1) = L + 1: the normalised NTK tends to 1/4 off the diagonal (majority vote). The
    # input enters only through the shift l_0(rho) of theta_l ~ 3 pi / (l + l_0(rho)), so
    # K_L(rho1) - K_L(rho2) ~ (l_0(rho1) - l_0(rho2)) / (4 L): L times the difference must be
    # the same at L = 1024 and 4096 up to the O(log L / L) next order (bound 2%), and every
    # entry is within O(log L / L) of 1/4 (bound 3 log(L) / L).
    k = deep_relu_ntk()  # rho in {-0.5, 0, 0.5, 0.9, 0.99}, L in {1024, 4096}
    spread = np.array(RELU_DEPTHS)[:, None] * (k - k[:, 1:2])
    np.testing.assert_allclose(spread[1], spread[0], rtol=0.02, atol=1e-3)
    assert np.all(np.abs(np.delete(spread[1], 1)) > 0.1)  # a real 1/L term (column 1 is 0)
    for depth, row in zip(RELU_DEPTHS, k, strict=True):
        assert np.all(np.abs(row - 0.25) < 3 * math.log(depth) / depth)


@pytest.mark.parametrize("function", [kernels.deep_ntk, kernels.koenigs_kernel])
def test_a_correlation_beyond_rounding_of_one_is_refused_or_nan_when_traced(function):
    call = (
        (lambda r: function(r, "erf", 3))
        if function is kernels.deep_ntk
        else (lambda r: function(r, "erf"))
    )
    for rho in (2.0, -1.5, np.nan, [0.3, 1.1]):
        with pytest.raises(ValueError, match=r"rho must be correlations in \[-1, 1\]"):
            call(rho)
    out = np.asarray(jax.jit(call)(jnp.array([2.0, np.nan, 0.4, -0.3])))
    assert np.isnan(out[:2]).all() and np.isfinite(out[2:]).all()
    np.testing.assert_allclose(out[2:], np.asarray(call(jnp.array([0.4, -0.3]))), rtol=1e-12)


def test_a_correlation_one_plus_rounding_is_clipped_to_one():
    at_one = kernels.deep_ntk(jnp.array([1.0, -1.0]), "relu", 4)
    rounded = kernels.deep_ntk(jnp.array([1.0 + 1e-9, -1.0 - 1e-9]), "relu", 4)
    np.testing.assert_array_equal(rounded, at_one)
