"""Tests for theorytk.fit: power-law fits, their uncertainties, and critical lines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.stats
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.fit import FitResult, bootstrap_ci, critical_line, fit_power_law, local_exponents

X = np.geomspace(10.0, 1e5, 25)  # four decades, as in scaling-law fits


def power_law(x, a, b, c):
    return a * x ** (-b) + c


@pytest.mark.parametrize("with_constant", [True, False])
def test_fitted_exponent_is_inside_its_95pct_ci_in_at_least_90pct_of_50_noisy_trials(
    with_constant,
):
    a, b, c = 2.0, 0.7, (0.5 if with_constant else 0.0)
    keys = jax.random.split(jax.random.key(0), 50)
    noise = 0.005 * jax.vmap(lambda k: jax.random.normal(k, X.shape))(keys)
    y = power_law(jnp.asarray(X), a, b, c) + noise
    # additive noise of one scale: linear space is the right estimator for both models
    fits = jax.vmap(lambda yi: fit_power_law(X, yi, with_constant=with_constant, space="linear"))(y)
    lower, upper = fits.ci(0.95)
    covered = int(jnp.sum((lower[:, 1] <= b) & (b <= upper[:, 1])))
    assert bool(jnp.all(fits.converged))
    # Nominal coverage 95%; with 50 independent trials the covered fraction has binomial sd
    # sqrt(0.95 * 0.05 / 50) ~ 3.1%, so requiring >= 90% (45 of 50) is a ~1.6 sd margin
    # (P(fail) ~ 4% for a random seed; the seed is fixed so the test is deterministic).
    assert covered >= 45, f"b covered in {covered}/50 trials"


@pytest.mark.parametrize(
    ("a", "b", "c"), [(2.0, 0.7, 0.5), (1.0, 0.2, -3.0), (5.0, 3.0, 0.1), (-0.3, 1.5, 2.0)]
)
def test_noise_free_data_recovers_parameters_to_1e_8_relative(a, b, c):
    y = power_law(X, a, b, c)
    fit = fit_power_law(X, y)
    assert int(fit.result) == FitResult.SUCCESS
    np.testing.assert_allclose([fit.a, fit.b, fit.c], [a, b, c], rtol=1e-8)
    np.testing.assert_allclose(fit(X), y, rtol=1e-10)

    pure = fit_power_law(X, power_law(X, a, b, 0.0), with_constant=False, space="linear")
    assert int(pure.result) == FitResult.SUCCESS
    np.testing.assert_allclose([pure.a, pure.b], [a, b], rtol=1e-8)
    assert float(pure.c) == 0.0 and float(pure.stderr[2]) == 0.0


@settings(max_examples=25, deadline=None)
@given(
    magnitude=st.floats(0.1, 10.0),
    sign=st.sampled_from([-1.0, 1.0]),
    b=st.floats(0.2, 3.0),
    c=st.floats(-5.0, 5.0),
    with_constant=st.booleans(),
)
def test_noise_free_recovery_for_drawn_parameters(magnitude, sign, b, c, with_constant):
    a = sign * magnitude
    c = c if with_constant else 0.0
    y = power_law(X, a, b, c)
    fit = fit_power_law(X, y, with_constant=with_constant, space="linear")
    assert int(fit.result) == FitResult.SUCCESS
    np.testing.assert_allclose([fit.a, fit.b], [a, b], rtol=1e-8)
    # c is compared on the scale of the data, since it may be ~0.
    np.testing.assert_allclose(fit.c, c, rtol=0, atol=1e-8 * np.max(np.abs(y)))


@pytest.mark.parametrize("with_constant", [True, False])
def test_grad_of_fitted_exponent_wrt_y_matches_central_finite_differences(with_constant):
    rng = np.random.default_rng(1)
    c = 0.5 if with_constant else 0.0
    y = power_law(X, 2.0, 0.7, c) + 0.005 * rng.normal(size=X.shape)
    direction = rng.normal(size=X.shape)

    def fitted_b(y):
        return fit_power_law(X, y, with_constant=with_constant, space="linear").b

    grad = jax.grad(fitted_b)(jnp.asarray(y))
    h = 1e-6
    fd = (fitted_b(y + h * direction) - fitted_b(y - h * direction)) / (2 * h)
    # Central differences: truncation O(h^2) ~ 1e-12, rounding ~ eps * |b| / h ~ 1e-10; the
    # solver ends at the rounding floor, so 1e-6 relative leaves a wide margin.
    np.testing.assert_allclose(grad @ direction, fd, rtol=1e-6)


@pytest.mark.parametrize("absolute_sigma", [False, True])
def test_covariance_matches_scipy_curve_fit_with_per_point_sigma(absolute_sigma):
    rng = np.random.default_rng(2)
    sigma = 0.005 * (1.0 + rng.uniform(size=X.shape))
    y = power_law(X, 2.0, 0.7, 0.5) + sigma * rng.normal(size=X.shape)
    fit = fit_power_law(X, y, sigma=sigma, absolute_sigma=absolute_sigma)
    popt, pcov = scipy.optimize.curve_fit(
        power_law,
        X,
        y,
        p0=np.asarray(fit.params),
        sigma=sigma,
        absolute_sigma=absolute_sigma,
        xtol=1e-14,
        ftol=1e-14,
    )
    # Started at our optimum, curve_fit stays there (params to 1e-8); its covariance uses a
    # forward-difference Jacobian (relative error ~sqrt(eps) ~ 1e-8, amplified by the
    # conditioning of J^T J), so the covariances agree to ~1e-7 and 1e-5 leaves a margin.
    np.testing.assert_allclose(fit.params, popt, rtol=1e-8)
    np.testing.assert_allclose(fit.cov, pcov, rtol=1e-5)


def test_constant_sigma_leaves_fit_and_relative_stderr_unchanged():
    rng = np.random.default_rng(3)
    y = power_law(X, 2.0, 0.7, 0.5) + 0.005 * rng.normal(size=X.shape)
    plain = fit_power_law(X, y)
    weighted = fit_power_law(X, y, sigma=np.full(X.shape, 7.0))
    np.testing.assert_allclose(weighted.params, plain.params, rtol=1e-10)
    np.testing.assert_allclose(weighted.stderr, plain.stderr, rtol=1e-8)


def test_ci_half_width_is_student_t_quantile_times_stderr():
    rng = np.random.default_rng(4)
    y = power_law(X, 2.0, 0.7, 0.5) + 0.005 * rng.normal(size=X.shape)
    fit = fit_power_law(X, y)
    lower, upper = fit.ci(0.9)
    assert fit.dof == X.size - 3
    q = scipy.stats.t.ppf(0.95, X.size - 3)
    np.testing.assert_allclose((upper - lower) / 2, q * fit.stderr, rtol=1e-12)
    np.testing.assert_allclose((upper + lower) / 2, fit.params, rtol=1e-12)
    with pytest.raises(ValueError, match="level must be in"):
        fit.ci(1.5)


def test_failures_under_vmap_are_reported_as_result_codes_not_exceptions():
    # Traced inputs skip validation; a bad curve in a batch must not spoil the others.
    # (Batch of 50 as in the coverage test, so the compiled fit is reused.)
    y = np.tile(power_law(X, 2.0, 0.7, 0.5), (50, 1))
    y[0, 3] = np.nan
    y[1] = 1.0  # constant: a = 0 and b is not identifiable
    fits = jax.vmap(lambda yi: fit_power_law(X, yi))(jnp.asarray(y))
    assert int(fits.result[0]) == FitResult.NONFINITE
    assert int(fits.result[1]) == FitResult.SINGULAR
    assert bool(jnp.all(fits.converged[2:]))
    np.testing.assert_allclose(fits.b[2:], 0.7, rtol=1e-8)


def test_float32_inputs_give_float32_fit():
    x = X.astype(np.float32)
    y = power_law(x, np.float32(2.0), np.float32(0.7), np.float32(0.5))
    fit = fit_power_law(x, y)
    assert fit.b.dtype == jnp.float32 and fit.cov.dtype == jnp.float32
    assert int(fit.result) == FitResult.SUCCESS
    # float32 eps ~ 1.2e-7; conditioning of the fit over four decades loses ~2 digits.
    np.testing.assert_allclose(fit.params, [2.0, 0.7, 0.5], rtol=1e-4)


def test_bootstrap_interval_for_b_agrees_with_wald_interval():
    rng = np.random.default_rng(5)
    y = power_law(X, 2.0, 0.7, 0.5) + 0.005 * rng.normal(size=X.shape)
    fit = fit_power_law(X, y)
    lower, upper = bootstrap_ci(X, y, key=jax.random.key(0), n_resamples=200)
    wald_lower, wald_upper = fit.ci(0.95)
    assert float(lower[1]) < float(fit.b) < float(upper[1])
    # For a nearly linear model both estimate the same sampling sd. The percentile width from
    # 200 resamples has Monte-Carlo sd ~7% (2.5% quantile of a normal: sd 0.19 sigma per end),
    # and the Wald interval uses t_22 (2.07 vs 1.96); [0.7, 1.3] is a > 3 sd band around ~0.95.
    ratio = float((upper[1] - lower[1]) / (wald_upper[1] - wald_lower[1]))
    assert 0.7 < ratio < 1.3, ratio


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(x=np.r_[0.0, X[1:]]), r"x must be > 0 .*got x\[0\] = 0.0"),
        (dict(x=-X), r"x must be > 0"),
        (dict(x=X[:3], y=X[:3]), r"too few points.*at least 4.*got 3"),
        (dict(x=X[:2], y=X[:2], with_constant=False), r"too few points.*at least 3.*got 2"),
        (dict(y=X[:-1]), r"same shape"),
        (dict(sigma=np.ones(3)), r"sigma must have the shape of x"),
        (dict(y=np.r_[np.nan, X[1:]]), r"y must be finite, got NaN"),
        (dict(x=np.r_[X[:-1], np.nan]), r"x must be finite, got NaN"),
        (dict(sigma=np.zeros_like(X)), r"sigma must be > 0"),
        (dict(space="loglog"), r"space must be 'log', 'linear' or None"),
        (dict(space="log"), r"space='log' fits the pure law.*needs space='linear'"),
        (
            dict(y=np.r_[-1.0, X[1:]], with_constant=False),
            r"y must be > 0 for space='log' \(the default.*pass space='linear'",
        ),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_problem(kwargs, match):
    args = dict(x=X, y=power_law(X, 2.0, 0.7, 0.5)) | kwargs
    with pytest.raises(ValueError, match=match):
        fit_power_law(**args)


def test_critical_line_recovers_analytic_crossing_and_its_exponent():
    # values = log(y / y_c(x)) is linear in log y, so log-linear interpolation is exact.
    x = X
    y = np.geomspace(1e-5, 1.0, 41)
    y_c = 0.1 * x**-0.5
    values = np.log(y[None, :] / y_c[:, None])
    crossing = critical_line(x, y, values, 0.0)
    np.testing.assert_allclose(crossing, y_c, rtol=1e-12)
    for space in ("log", "linear"):
        fit = fit_power_law(x, crossing, with_constant=False, space=space)
        np.testing.assert_allclose([fit.a, fit.b], [0.1, 0.5], rtol=1e-10)


def test_critical_line_gives_nan_without_crossing_and_first_crossing_otherwise():
    y = np.array([1.0, 2.0, 4.0, 8.0])
    values = np.array(
        [
            [0.0, 0.1, 0.2, 0.3],  # never reaches 0.5
            [0.0, 1.0, 0.0, 1.0],  # crosses three times; the first is between 1 and 2
            [0.0, 0.5, 1.0, 1.0],  # exactly at level on a grid point
            [np.nan, 1.0, 1.0, 1.0],  # NaN never crosses
        ]
    )
    crossing = critical_line(np.arange(4.0), y, values, 0.5)
    np.testing.assert_allclose(crossing, [np.nan, np.sqrt(2.0), 2.0, np.nan], rtol=1e-12)
    linear = critical_line(np.arange(4.0), y, values, 0.5, log_y=False)
    np.testing.assert_allclose(linear[1], 1.5, rtol=1e-12)


def test_critical_line_reads_dataarray_by_dimension_names_in_any_order():
    x = np.geomspace(1.0, 100.0, 5)
    y = np.geomspace(1e-3, 1.0, 20)
    values = np.log(y[None, :] / (0.05 * x[:, None] ** -0.3))
    da = xr.DataArray(values.T, dims=("lr", "width"), coords={"lr": y, "width": x})
    np.testing.assert_allclose(
        critical_line("width", "lr", da, 0.0), critical_line(x, y, values, 0.0), rtol=1e-14
    )
    with pytest.raises(ValueError, match="exactly the dimensions"):
        critical_line("width", "seed", da, 0.0)


def test_critical_line_invalid_inputs_raise_value_error():
    y = np.geomspace(0.1, 1.0, 4)
    with pytest.raises(ValueError, match=r"values must have shape \(len\(x\), len\(y\)\)"):
        critical_line(np.arange(3.0), y, np.zeros((4, 3)), 0.0)
    with pytest.raises(ValueError, match="log_y=True needs y > 0"):
        critical_line(np.arange(3.0), y - 0.5, np.zeros((3, 4)), 0.0)


def test_log_space_fit_is_the_least_squares_line_of_log_y_on_log_x():
    rng = np.random.default_rng(6)
    y = 2.0 * X**-0.7 * np.exp(0.1 * rng.normal(size=X.shape))
    fit = fit_power_law(X, y, with_constant=False)  # the default for the pure law: log space
    assert fit.space == "log" and fit.estimator == "log-space LS"
    line = scipy.stats.linregress(np.log(X), np.log(y))
    np.testing.assert_allclose([fit.b, np.log(fit.a)], [-line.slope, line.intercept], rtol=1e-12)
    np.testing.assert_allclose(fit.stderr[1], line.stderr, rtol=1e-10)
    # delta method: sd(a) = a sd(log a)
    np.testing.assert_allclose(fit.stderr[0], fit.a * line.intercept_stderr, rtol=1e-10)


def test_log_space_weights_are_sigma_over_y():
    rng = np.random.default_rng(7)
    rel = 0.02 * (1.0 + rng.uniform(size=X.shape))
    y = 2.0 * X**-0.7 * np.exp(rel * rng.normal(size=X.shape))
    fit = fit_power_law(X, y, sigma=rel * y, with_constant=False, space="log")
    assert fit.estimator == "log-space weighted LS (sigma/y)"
    design = np.stack([np.ones_like(X), -np.log(X)], axis=1) / rel[:, None]
    coef, *_ = np.linalg.lstsq(design, np.log(y) / rel, rcond=None)
    np.testing.assert_allclose([np.log(fit.a), fit.b], coef, rtol=1e-10)


def test_log_space_interval_covers_the_exponent_of_multiplicative_noise_at_95pct():
    # Noise proportional to y over four decades: the log fit is exact-Gaussian, so its
    # t-interval has coverage 95%; 200 trials give a binomial sd of 1.5%, and >= 90% (183 of
    # 200) is a > 3 sd margin.
    keys = jax.random.split(jax.random.key(1), 200)
    noise = 0.2 * jax.vmap(lambda k: jax.random.normal(k, X.shape))(keys)
    y = 2.0 * jnp.asarray(X) ** -0.7 * jnp.exp(noise)
    fits = jax.vmap(lambda yi: fit_power_law(X, yi, with_constant=False, space="log"))(y)
    lower, upper = fits.ci(0.95)
    assert bool(jnp.all(fits.converged))
    assert int(jnp.sum((lower[:, 1] <= 0.7) & (0.7 <= upper[:, 1]))) >= 183


def test_linear_space_without_sigma_is_decided_by_the_largest_values():
    # A pure law over four decades with a kink in the last decade: linear space follows the
    # first decade (largest y), log space weighs every decade alike.
    y = np.where(X < 1e4, X**-0.5, 1e-2 * (X / 1e4) ** -1.5)
    linear = fit_power_law(X, y, with_constant=False, space="linear")
    log = fit_power_law(X, y, with_constant=False, space="log")
    assert abs(float(linear.b) - 0.5) < 0.02
    assert float(log.b) > 0.6


def test_log_space_bootstrap_interval_agrees_with_the_wald_interval():
    # Multiplicative noise, log-space fit: the residual bootstrap resamples log residuals.
    # Both intervals estimate the same sampling sd of b (the model is linear in log space);
    # 200 resamples give a percentile width with Monte-Carlo sd ~7%, and the Wald interval
    # uses t_23, so [0.7, 1.3] is a > 3 sd band around ~0.95.
    rng = np.random.default_rng(9)
    y = 2.0 * X**-0.7 * np.exp(0.1 * rng.normal(size=X.shape))
    fit = fit_power_law(X, y, with_constant=False, space="log")
    lower, upper = bootstrap_ci(
        X, y, key=jax.random.key(0), with_constant=False, space="log", n_resamples=200
    )
    wald_lower, wald_upper = fit.ci(0.95)
    assert float(lower[1]) < float(fit.b) < float(upper[1])
    ratio = float((upper[1] - lower[1]) / (wald_upper[1] - wald_lower[1]))
    assert 0.7 < ratio < 1.3, ratio


def test_local_exponents_recover_the_slope_of_each_decade():
    x = 2.0 ** np.arange(7, 15)
    y = np.where(x <= 1024, x**-0.45, 1024**-0.45 * (x / 1024) ** -0.7)
    y = y * np.exp(0.01 * np.random.default_rng(8).normal(size=x.shape))
    windows = local_exponents(x, y)
    assert [(w.x_low, w.x_high) for w in windows] == [(128.0, 1024.0), (2048.0, 16384.0)]
    for window, slope in zip(windows, (0.45, 0.7), strict=True):
        lower, upper = window.fit.ci(0.95)
        assert float(lower[1]) < slope < float(upper[1])
    with pytest.raises(ValueError, match="width must be a number > 1"):
        local_exponents(x, y, width=1.0)
