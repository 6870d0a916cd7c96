"""Linear random-feature simulation against the `rf_risk` theory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rf_setups import linear_rf_against_theory

from theorytk.regression import LinearRFConfig, RidgeConfig, simulate_linear_rf
from theorytk.regression._gaussian import linear_teacher_data


@pytest.mark.slow  # ~30 s of simulation (480 fits with up to 1000 features) on 2 cores
def test_simulated_risks_match_theory_within_three_standard_errors():
    # d = 600, n = 200, lambda_i = v_i^2 = i^-1.5, noise 0.1, N in
    # {100, 200, 300, 1000} (across the interpolation threshold N = n), delta in
    # {1e-3, 0.1, 1}. Seed means over 40 independent draws (data, noise, features) agree with
    # the deterministic equivalent within 3 standard errors of the mean; the theory's
    # finite-size bias at this size is ~1%, below one standard error (measured |z| <= 1.6,
    # the largest at the train error of N = 300, delta = 1e-3). At N = n = 200, delta = 1e-3
    # (the double-descent peak) the measured seed distribution was not heavy-tailed
    # (mean 1.514, median 1.538, theory 1.544), so no special treatment is needed.
    _, _, theory, z = linear_rf_against_theory()
    for metric, scores in z.items():
        assert np.all(np.abs(scores) < 3), (metric, scores)
    # The double-descent peak at small ridge: N = n is the worst of the four N.
    peak = np.asarray(theory["test_mse"]).reshape(4, 3)[:, 0]
    assert np.argmax(peak) == 1


def test_infinite_ridge_limit_predicts_zero():
    # delta -> inf: beta -> 0, so test_mse -> sum_i v_i^2 + noise exactly (no sampling noise).
    config = LinearRFConfig(d=30, n=20, n_features_max=40, noise=0.1)
    out = simulate_linear_rf({"n_features": 25.0, "ridge": 1e12}, jax.random.key(1), config=config)
    expected = float(jnp.sum(config.target_coeffs_sq())) + 0.1
    # beta ~ 1/delta = 1e-12: the relative deviation is ~1e-11.
    np.testing.assert_allclose(float(out["test_mse"]), expected, rtol=1e-9)


def test_traced_feature_count_gives_the_concrete_result_and_more_features_fit_better():
    # N is dynamic (rows >= N of an N_max draw are masked): jit with traced N equals the eager
    # call, and with a tiny ridge the train error falls as N grows below n (fewer residual
    # degrees of freedom) and is ~0 above it (interpolation).
    config = LinearRFConfig(d=30, n=20, n_features_max=40, noise=0.1)
    key = jax.random.key(2)

    def run(f):
        return simulate_linear_rf({"n_features": f, "ridge": 1e-8}, key, config=config)

    jitted = jax.jit(run)
    for f in (5.0, 25.0):
        for name, value in run(f).items():
            # Compiled vs eager, condition number ~1e8 at ridge 1e-8: 1e-6 relative, and 1e-10
            # absolute for the interpolating (N > n) train error, itself ~1e-12.
            np.testing.assert_allclose(float(jitted(f)[name]), float(value), rtol=1e-6, atol=1e-10)
    train = [float(run(f)["train_mse"]) for f in (5.0, 10.0, 15.0, 30.0)]
    assert train[0] > train[1] > train[2] > 1e3 * train[3]


def test_bad_config_raises_value_error():
    with pytest.raises(ValueError, match="n_features_max must be an integer >= 1"):
        LinearRFConfig(d=10, n=5, n_features_max=0)
    with pytest.raises(ValueError, match="noise must be a finite scalar >= 0"):
        LinearRFConfig(d=10, n=5, n_features_max=3, noise=-1.0)


def test_task_is_the_power_law_spectrum_and_target_of_the_ridge_model():
    # One home for the power law: the same lambda_i bit for bit, and v_i^2 proportional to the
    # ridge model's (normalised to its signal there): ratios equal to rounding, 1e-14.
    config = LinearRFConfig(d=50, n=10, n_features_max=5, eigen_decay=1.3, target_decay=2.1)
    ridge = RidgeConfig(
        d=50, n_max=10, spectrum="power_law", eigen_decay=1.3, target="power_law", target_decay=2.1
    )
    np.testing.assert_array_equal(config.eigenvalues(), ridge.eigenvalues())
    v2, ridge_v2 = np.asarray(config.target_coeffs_sq()), np.asarray(ridge.target_coeffs_sq())
    np.testing.assert_allclose(v2 / v2[0], ridge_v2 / ridge_v2[0], rtol=1e-14)
    np.testing.assert_allclose(config.eigenvalues() * config.teacher() ** 2, v2, rtol=1e-14)


def test_simulation_data_are_the_shared_gaussian_sampler_draws():
    # simulate_linear_rf draws (x, y) with linear_teacher_data from the first two of three
    # keys; refit the RF predictor by hand on those draws: the same numbers up to the order of
    # summation (float64, 1e-10 relative).
    config = LinearRFConfig(d=30, n=20, n_features_max=40, noise=0.1)
    key = jax.random.key(7)
    k_x, k_eps, k_z = jax.random.split(key, 3)
    lam, w_star = config.eigenvalues(), config.teacher()
    x, y = linear_teacher_data(k_x, k_eps, n=20, eigenvalues=lam, teacher=w_star, noise=0.1)
    w = np.asarray(jax.random.normal(k_z, (40, 30)))[:25] / np.sqrt(25.0)
    feats = np.asarray(x) @ w.T
    coef = np.linalg.solve(feats @ feats.T + 0.5 * np.eye(20), np.asarray(y))
    beta = w.T @ (feats.T @ coef)
    expected = float(np.sum(np.asarray(lam) * (beta - np.asarray(w_star)) ** 2) + 0.1)
    out = simulate_linear_rf({"n_features": 25.0, "ridge": 0.5}, key, config=config)
    np.testing.assert_allclose(float(out["test_mse"]), expected, rtol=1e-10)
