"""Tests for theorytk.fit.fit_law (user laws, multi-start) and fit_broken_power_law."""

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest

from theorytk import fit
from theorytk.fit._multistart import Problem, solve_starts

X = np.linspace(0.0, 6.0, 60)


def wave(theta, x):
    """exp(sin(omega x)): the log residual sin(omega x) - sin(omega_0 x) has many minima."""
    return jnp.exp(jnp.sin(theta["omega"] * x))


@pytest.mark.parametrize("pool_size", [None, 3])
def test_multistart_finds_the_global_minimum_of_a_problem_with_several_local_minima(pool_size):
    y = np.exp(np.sin(2.0 * X))
    starts = {"omega": np.linspace(0.2, 4.0, 20)}
    result = fit.fit_law(wave, X, y, starts, objective="least_squares_log", pool_size=pool_size)
    # Noise-free: the global minimum is omega = 2 with objective 0 (BFGS stops at tolerance
    # 1e-8 on omega, so 1e-6 is a wide margin).
    np.testing.assert_allclose(result.params["omega"], 2.0, rtol=1e-6)
    assert float(result.value) < 1e-12
    # The problem does have other local minima: single starts far from 2 end elsewhere, at a
    # clearly larger objective.
    local = [
        fit.fit_law(wave, X, y, {"omega": np.array([w])}, objective="least_squares_log")
        for w in (0.4, 3.8)
    ]
    assert all(abs(float(r.params["omega"]) - 2.0) > 0.1 for r in local)
    assert all(float(r.value) > 1e-3 for r in local)


def _solves(pool_size, solver="bfgs", max_steps=300):
    y = np.exp(np.sin(2.0 * X))
    problem = Problem(law=wave, law_is_log=False, objective="least_squares_log")
    args = ((jnp.asarray(X), jnp.asarray(y)), jnp.ones(X.size))
    starts = {"omega": jnp.linspace(0.2, 4.0, 20)}
    return solve_starts(problem, solver, starts, args, max_steps, pool_size)


@pytest.mark.parametrize("solver", ["bfgs", "lbfgs"])
def test_refilled_pool_runs_every_start_through_the_same_iterations_as_one_vmapped_solve(solver):
    one, pooled = _solves(None, solver), _solves(3, solver)
    # 20 starts through 3 lanes: most lanes are refilled several times. Each start runs the
    # optimistix loop (init, step until terminate / failure / max_steps), so its step count
    # and result code are the same, and its parameters agree up to rounding (1e-12 on this
    # well-conditioned problem, where rounding does not change a step decision).
    np.testing.assert_array_equal(pooled.steps, one.steps)
    np.testing.assert_array_equal(pooled.result._value, one.result._value)
    np.testing.assert_allclose(pooled.theta["omega"], one.theta["omega"], rtol=1e-12)
    assert len(set(np.asarray(one.steps).tolist())) > 5  # the starts stop at different steps


def test_refilled_pool_reports_starts_that_run_out_of_steps_and_the_fit_as_failed():
    pooled = _solves(3, max_steps=1)
    # optimistix's BFGS never terminates on its first step, so with max_steps=1 every start
    # runs out of steps (one start is omega = 2 exactly, the optimum, and still does).
    assert np.all(np.asarray(pooled.steps) == 1)
    codes = np.asarray(pooled.result._value)
    assert np.all(codes == int(optx.RESULTS.nonlinear_max_steps_reached._value))
    y = np.exp(np.sin(2.0 * X))
    starts = {"omega": np.linspace(0.2, 4.0, 20)}
    with pytest.warns(RuntimeWarning, match="did not converge from any of 20 starts"):
        result = fit.fit_law(wave, X, y, starts, max_steps=1, pool_size=3)
    assert not bool(result.converged) and np.isnan(float(result.params["omega"]))


def test_levenberg_marquardt_and_bfgs_reach_the_same_least_squares_minimum():
    rng = np.random.default_rng(0)
    y = np.exp(np.sin(2.0 * X) + 0.05 * rng.normal(size=X.size))
    starts = {"omega": np.linspace(1.5, 2.5, 5)}
    by = {
        s: fit.fit_law(wave, X, y, starts, objective="least_squares_log", solver=s)
        for s in ("bfgs", "lbfgs", "levenberg_marquardt")
    }
    # All three stop at tolerance 1e-8 on omega.
    for result in by.values():
        assert bool(result.converged)
        np.testing.assert_allclose(result.params["omega"], by["bfgs"].params["omega"], rtol=1e-6)


def test_broken_power_law_noise_free_data_is_fitted_to_rounding():
    x = np.geomspace(1.0, 1e6, 80)
    a, b, c0, c1, d, f = 0.05, 2.0, 0.1, 0.6, 1e3, 0.5
    x_c = np.exp(np.mean(np.log(x)))
    y = a + b * (x / x_c) ** -c0 * (1 + (x / d) ** (1 / f)) ** (-c1 * f)
    result = fit.fit_broken_power_law(x, y, objective="least_squares_log")
    assert bool(result.converged)
    p = {k: float(v) for k, v in result.params.items()}
    # Noise-free: the exponents before and after the break are identified to tolerance.
    np.testing.assert_allclose([p["c0"], p["c0"] + p["c1"]], [c0, c0 + c1], rtol=1e-4)
    np.testing.assert_allclose(np.exp(p["log_a"]), a, rtol=1e-4)
    # The fitted curve reproduces the data: objective mean r^2 / 2 at rounding level.
    assert float(result.value) < 1e-14


def test_law_with_more_parameters_than_points_and_bad_starts_raise_value_error():
    starts = {"omega": np.ones((3, 5))}  # 5 parameters per start
    with pytest.raises(ValueError, match="5 parameters needs more than 5 points, got 5"):
        fit.fit_law(wave, X[:5], np.ones(5), starts)
    with pytest.raises(ValueError, match="same leading axis"):
        fit.fit_law(wave, X, np.ones(X.size), {"omega": np.ones(3), "phi": np.ones(4)})
    with pytest.raises(ValueError, match=r"y must be > 0 \(objective 'huber_log' fits log y\)"):
        fit.fit_law(wave, X, -np.ones(X.size), {"omega": np.ones(3)})
    with pytest.raises(ValueError, match="pool_size must be None or an integer >= 1, got 0"):
        fit.fit_law(wave, X, np.ones(X.size), {"omega": np.ones(3)}, pool_size=0)
    with pytest.raises(ValueError, match="x must be finite"):
        fit.fit_law(wave, np.r_[np.nan, X[1:]], np.ones(X.size), {"omega": np.ones(3)})


def test_no_points_bad_max_steps_and_a_law_of_the_wrong_shape_raise_value_error():
    starts = {"omega": np.ones(3)}
    with pytest.raises(ValueError, match="x and y hold no points"):
        fit.fit_law(wave, X[:0], np.ones(0), starts)
    with pytest.raises(ValueError, match=r"max_steps must be an integer >= 1, got -5"):
        fit.fit_law(wave, X, np.ones(X.size), starts, max_steps=-5)
    with pytest.raises(ValueError, match=r"one value per point, shape \(60,\), got \(\)"):
        fit.fit_law(lambda theta, x: jnp.sum(wave(theta, x)), X, np.ones(X.size), starts)
    with pytest.raises(ValueError, match=r"shape \(60,\), got \(60, 2\)"):
        fit.fit_law(lambda t, x: jnp.stack([wave(t, x)] * 2, 1), X, np.ones(X.size), starts)


def test_fit_law_under_jit_gives_the_eager_fit():
    # Traced data skip the value checks; the solve is the same computation.
    y = np.exp(np.sin(2.0 * X))
    starts = {"omega": np.linspace(1.5, 2.5, 4)}

    def fitted(y):
        return fit.fit_law(wave, X, y, starts, objective="least_squares_log").params["omega"]

    np.testing.assert_allclose(jax.jit(fitted)(y), fitted(y), rtol=1e-12)
