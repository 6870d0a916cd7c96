"""Tests for theorytk.fit.fit_joint_law: the Chinchilla-style joint law L(N, D)."""

import warnings

import jax
import numpy as np
import optimistix as optx
import pytest
import scipy.optimize

from theorytk import fit

TRUE = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
# 32 starts around the truth's basin (a, b = log A, log B ~ 6): the full 4,500-point grid is
# exercised by the benchmark; tests use this grid to stay fast.
SMALL = fit.grid_starts(a=[0.0, 10.0], b=[0.0, 10.0], e=[-1.0, 1.0], alpha=[0.5, 1], beta=[0.5, 1])
NAMES = ("a", "b", "e", "alpha", "beta")


def chinchilla_data(seed: int, m: int = 120, noise: float = 0.02):
    """m runs with log-uniform N in [7e7, 1.6e10], D in [5e9, 5e11], lognormal noise."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), m))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), m))
    clean = TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]
    return N, D, clean * np.exp(noise * rng.normal(size=m))


def test_noise_free_data_recovers_the_law_and_the_compute_optimal_exponent():
    N, D, loss = chinchilla_data(0, noise=0.0)
    result = fit.fit_joint_law(N, D, loss, starts=SMALL, objective="least_squares_log")
    assert bool(result.converged)
    # Noise-free: the minimum is the truth; BFGS stops at rtol 1e-10 on the parameters, and
    # E, A, B are exp of them, so 1e-6 relative is a wide margin.
    np.testing.assert_allclose([result.E, result.A, result.B], [1.69, 406.4, 410.7], rtol=1e-6)
    np.testing.assert_allclose([result.alpha, result.beta], [0.34, 0.28], rtol=1e-6)
    np.testing.assert_allclose(result.a_opt, 0.28 / 0.62, rtol=1e-6)
    np.testing.assert_allclose(result(N, D), loss, rtol=1e-8)


@pytest.mark.parametrize("objective", ["huber_log", "least_squares_log"])
def test_fit_agrees_with_scipy_reference_fit_to_1e_6_on_same_data_and_objective(objective):
    N, D, loss = chinchilla_data(1)
    result = fit.fit_joint_law(N, D, loss, starts=SMALL, objective=objective)
    x = np.stack([np.log(N), np.log(D)], 1)

    def reference(v):  # objective and analytic gradient in NumPy, independent of JAX
        t = np.stack([v[0] - v[3] * x[:, 0], v[1] - v[4] * x[:, 1], np.full(len(x), v[2])])
        w = np.exp(t - t.max(0))
        lse = t.max(0) + np.log(w.sum(0))
        w /= w.sum(0)  # d lse / d (the three terms)
        r = lse - np.log(loss)
        if objective == "least_squares_log":
            value, dr = np.mean(0.5 * r**2), r / r.size
        else:
            delta = 1e-3
            inside = np.abs(r) <= delta
            rho = np.where(inside, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
            value, dr = np.mean(rho) / delta, np.where(inside, r, delta * np.sign(r)) / delta
            dr = dr / r.size
        grad = [dr @ w[0], dr @ w[1], dr @ w[2], -(dr * w[0]) @ x[:, 0], -(dr * w[1]) @ x[:, 1]]
        return value, np.array(grad)

    # scipy's L-BFGS-B from the same 32 starts, the best kept.
    starts = np.stack([SMALL[k] for k in NAMES], 1)
    options = dict(maxiter=5000, ftol=1e-15, gtol=1e-12)
    runs = [
        scipy.optimize.minimize(reference, s, jac=True, method="L-BFGS-B", options=options)
        for s in starts
    ]
    ref = min(runs, key=lambda r: r.fun).x
    ours = np.array([float(result.law.params[k]) for k in NAMES])
    # Both minimise the same function and stop near rounding of the objective (relative
    # 1e-15); the Huber objective is nearly flat (mostly linear pieces), which leaves the
    # parameters determined to ~1e-8, so the 1e-6 holds with margin.
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)
    assert reference(ours)[0] <= reference(ref)[0] * (1 + 1e-12)


def test_refilled_pool_keeps_the_best_fit_of_one_vmapped_solve():
    N, D, loss = chinchilla_data(1)
    one = fit.fit_joint_law(N, D, loss, starts=SMALL, pool_size=None)
    pooled = fit.fit_joint_law(N, D, loss, starts=SMALL, pool_size=5)  # 32 starts, 5 lanes
    # Each start runs the same optimistix iterations in both; rounding can at most move a
    # start's end point within the BFGS tolerance 1e-8, so 1e-6 (the scipy-agreement bound)
    # has a wide margin; the best objective then agrees to ~1e-16 relative (first order).
    ours = [float(pooled.law.params[k]) for k in NAMES]
    np.testing.assert_allclose(ours, [float(one.law.params[k]) for k in NAMES], rtol=1e-6)
    np.testing.assert_allclose(pooled.law.value, one.law.value, rtol=1e-12)
    assert bool(pooled.converged)


@pytest.mark.slow
def test_bootstrap_percentile_intervals_cover_true_exponents_in_expected_fraction():
    # 90% intervals in 40 independent seeded trials: covered count ~ Binomial(40, 0.9), mean
    # 36, sd 1.9. Requiring >= 31 (2.6 sd below the mean; P(fail) < 1% for exact 90% coverage)
    # also allows for the known small undercoverage of percentile intervals at m = 120.
    trials, covered = 40, {"alpha": 0, "beta": 0, "a_opt": 0}
    truth = {"alpha": 0.34, "beta": 0.28, "a_opt": 0.28 / 0.62}
    for seed in range(trials):
        N, D, loss = chinchilla_data(100 + seed)
        result = fit.fit_joint_law(
            N, D, loss, starts=SMALL, n_bootstrap=100, key=jax.random.key(seed)
        )
        lower, upper = result.ci(0.9)
        for name in covered:
            covered[name] += int(lower[name] <= truth[name] <= upper[name])
    assert all(count >= 31 for count in covered.values()), covered


def test_stderr_and_intervals_are_reported_for_every_parameter_and_derived_quantity():
    N, D, loss = chinchilla_data(2)
    result = fit.fit_joint_law(N, D, loss, starts=SMALL, n_bootstrap=50, key=jax.random.key(0))
    expected = {"E", "A", "B", "alpha", "beta", "a_opt", "b_opt", "G"}
    assert set(result.stderr) == expected
    assert all(float(v) > 0 for v in result.stderr.values())
    lower, upper = result.ci(0.95)
    for name in expected:
        assert float(lower[name]) <= float(getattr(result, name)) <= float(upper[name]), name
    np.testing.assert_allclose(result.a_opt + result.b_opt, 1.0, rtol=1e-12)
    frontier = result.compute_optimal([1e20, 1e22])
    for name in ("N_opt", "D_opt", "tokens_per_parameter", "loss"):
        assert set(frontier[name]) == {"value", "stderr", "lower", "upper"}
        assert np.all(frontier[name]["lower"] <= frontier[name]["upper"])


def test_compute_optimal_allocation_minimises_loss_along_the_iso_flop_line():
    N, D, loss = chinchilla_data(3, noise=0.0)
    result = fit.fit_joint_law(N, D, loss, starts=SMALL, objective="least_squares_log")
    for c in (1e19, 1e21, 1e23):
        opt = result.compute_optimal(c)
        n_opt, d_opt = float(opt["N_opt"]["value"][0]), float(opt["D_opt"]["value"][0])
        np.testing.assert_allclose(6 * n_opt * d_opt, c, rtol=1e-12)  # on the budget
        n = n_opt * np.geomspace(0.5, 2.0, 101)
        along = np.asarray(result(n, c / (6 * n)))
        # The loss on the iso-FLOP line is smallest at the grid point n = n_opt (index 50).
        assert int(np.argmin(along)) == 50
        np.testing.assert_allclose(opt["loss"]["value"][0], along[50], rtol=1e-12)


def test_exclude_highest_drops_the_outlier_runs_before_fitting():
    N, D, loss = chinchilla_data(4)
    with_outlier = loss.copy()
    with_outlier[7] = 50.0  # a diverged run
    dropped = fit.fit_joint_law(N, D, with_outlier, starts=SMALL, exclude_highest=1)
    keep = np.arange(N.size) != 7
    clean = fit.fit_joint_law(N[keep], D[keep], loss[keep], starts=SMALL)
    assert dropped.law.n_points == N.size - 1
    # Same points, same starts, same deterministic solves: the same fit.
    np.testing.assert_allclose(dropped.alpha, clean.alpha, rtol=1e-12)
    np.testing.assert_allclose(dropped.E, clean.E, rtol=1e-12)


def test_non_converged_fit_is_reported_as_such_with_nan_estimates():
    N, D, loss = chinchilla_data(5)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        result = fit.fit_joint_law(N, D, loss, starts=SMALL, max_steps=2)
    assert not bool(result.converged)
    assert float(result.converged_fraction) == 0.0
    assert result.result == optx.RESULTS.nonlinear_max_steps_reached
    assert np.isnan(float(result.alpha)) and np.isnan(float(result.E))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(N=-1.0), r"N must be > 0 .*got N\[3\] = -1.0"),
        (dict(D=0.0), r"D must be > 0"),
        (dict(loss=0.0), r"loss must be > 0"),
        (dict(loss=np.nan), r"loss must be finite, got NaN or inf at \[3\]"),
        (dict(N=np.inf), r"N must be finite"),
    ],
)
def test_bad_data_raise_value_error_naming_the_problem(change, match):
    N, D, loss = chinchilla_data(6)
    data = {"N": N, "D": D, "loss": loss}
    for name, value in change.items():
        data[name] = data[name].copy()
        data[name][3] = value
    with pytest.raises(ValueError, match=match):
        fit.fit_joint_law(data["N"], data["D"], data["loss"])


def test_bad_options_raise_value_error():
    N, D, loss = chinchilla_data(7)
    with pytest.raises(ValueError, match=r"5 parameters needs more than 5 points, got 5"):
        fit.fit_joint_law(N[:5], D[:5], loss[:5])
    with pytest.raises(ValueError, match="same length"):
        fit.fit_joint_law(N, D[:-1], loss)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        fit.fit_joint_law(N, D, loss, n_bootstrap=10)
    with pytest.raises(ValueError, match="objective must be one of"):
        fit.fit_joint_law(N, D, loss, objective="l1")
    with pytest.raises(ValueError, match="levenberg_marquardt' needs a sum-of-squares"):
        fit.fit_joint_law(N, D, loss, solver="levenberg_marquardt")
    with pytest.raises(ValueError, match="would drop all"):
        fit.fit_joint_law(N, D, loss, exclude_highest=N.size)
    with pytest.raises(ValueError, match=r"max_steps must be an integer >= 1, got -5"):
        fit.fit_joint_law(N, D, loss, max_steps=-5)
    with pytest.raises(ValueError, match="hold no points"):
        fit.fit_joint_law(N[:0], D[:0], loss[:0])


def test_a_size_that_never_varies_is_refused_as_not_identifiable():
    # One N for every run: only E + A / N^alpha is determined, so A, alpha and E are not;
    # a fit would report whatever start the grid held.
    N, D, loss = chinchilla_data(8)
    with pytest.raises(ValueError, match=r"N takes 1 distinct value.*A, alpha and E are not"):
        fit.fit_joint_law(np.full_like(N, 1e9), D, loss)
    with pytest.raises(ValueError, match=r"D takes 2 distinct value.*B, beta and E are not"):
        fit.fit_joint_law(N, np.where(np.arange(D.size) % 2, 1e10, 1e11), loss)


SMALL_NO_E = {name: values for name, values in SMALL.items() if name != "e"}


@pytest.mark.parametrize("E", [TRUE["E"], 0.0])
def test_fixed_irreducible_loss_recovers_the_other_four_parameters(E):
    # Noise-free data of the law with irreducible loss E (E = 0: two pure power laws, the
    # e = -inf path): with E fixed at its true value the minimum is the truth, as in the
    # free fit (same stopping rule, so the same 1e-6 margin).
    N, D, _ = chinchilla_data(9, noise=0.0)
    loss = E + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]
    result = fit.fit_joint_law(
        N, D, loss, starts=SMALL_NO_E, n_bootstrap=20, key=jax.random.key(0), E=E
    )
    assert bool(result.converged) and result.E_fixed and "e" not in result.law.params
    np.testing.assert_allclose([result.A, result.B], [TRUE["A"], TRUE["B"]], rtol=1e-6)
    np.testing.assert_allclose([result.alpha, result.beta], [0.34, 0.28], rtol=1e-6)
    assert float(result.E) == E  # reported exactly, and its interval is the point
    lower, upper = result.ci(0.95)
    assert float(lower["E"]) == float(upper["E"]) == E
    assert "(fixed)" in result.summary()


def test_fixed_irreducible_loss_off_the_truth_moves_the_exponent_it_trades_against():
    # E fixed below the truth leaves a constant that the power-law terms must absorb: the
    # flattest term (beta = 0.28 < alpha) does so by flattening further, so beta falls.
    N, D, loss = chinchilla_data(10, noise=0.0)
    free = fit.fit_joint_law(N, D, loss, starts=SMALL)
    low = fit.fit_joint_law(N, D, loss, starts=SMALL_NO_E, E=1.0)
    assert float(low.beta) < float(free.beta) - 0.01
    assert float(low.law.value) > float(free.law.value)  # and fits worse than the truth


@pytest.mark.parametrize(
    ("E", "starts", "match"),
    [
        (-0.1, None, r"E = -0.1: a fixed irreducible loss must lie in \[0, min\(loss\)\)"),
        (np.nan, None, "must lie in"),
        (1e3, None, r"must lie in \[0, min\(loss\)\) = \[0, "),
        (0.5, SMALL, "starts must not hold 'e' when E is fixed"),
    ],
)
def test_bad_fixed_irreducible_loss_is_refused(E, starts, match):
    N, D, loss = chinchilla_data(11)
    with pytest.raises(ValueError, match=match):
        fit.fit_joint_law(N, D, loss, starts=starts, E=E)


def test_log_on_one_to_four_is_within_one_ulp_of_numpy_and_its_derivative_is_one_over_s():
    from theorytk.fit._joint import HALVE_FROM, HFSQ_BELOW, HFSQ_FROM, _log_1_to_4

    edges = [1.0, HFSQ_FROM, np.nextafter(HFSQ_BELOW, 0), HALVE_FROM, np.nextafter(HALVE_FROM, 0)]
    edges += [2.0, np.nextafter(2.0, 0), 2 * HALVE_FROM, 3.0, np.nextafter(4.0, 0)]
    s = np.concatenate([np.random.default_rng(0).uniform(1.0, 4.0, 200_000), edges])
    ours = np.asarray(jax.jit(_log_1_to_4)(jax.numpy.asarray(s)))
    # fdlibm's log is accurate to < 1 ulp, so it differs from NumPy's by at most one ulp.
    assert np.all(np.abs(ours - np.log(s)) <= np.spacing(np.log(s)))
    assert ours[s == 1.0][0] == 0.0
    slope = jax.vmap(jax.grad(_log_1_to_4))(jax.numpy.asarray(s[:1000]))
    np.testing.assert_array_equal(slope, 1.0 / s[:1000])


def test_joint_log_law_is_the_logsumexp_of_its_three_terms_with_the_softmax_gradient():
    rng = np.random.default_rng(3)
    x = jax.numpy.asarray(np.stack([rng.uniform(15, 28, 300), rng.uniform(20, 27, 300)], 1))

    def reference(theta, x):
        terms = [theta["a"] - theta["alpha"] * x[:, 0], theta["b"] - theta["beta"] * x[:, 1]]
        terms.append(jax.numpy.broadcast_to(theta["e"], x[:, 0].shape))
        return jax.scipy.special.logsumexp(jax.numpy.stack(terms), axis=0)

    for _ in range(20):  # random parameters: which term is largest varies between points
        theta = {
            k: jax.numpy.asarray(v)
            for k, v in zip(NAMES, rng.uniform(-2, 2, 5) * [8, 8, 1, 1, 1], strict=True)
        }
        np.testing.assert_allclose(
            fit.joint_log_law(theta, x), reference(theta, x), rtol=1e-15, atol=1e-15
        )
        ours = jax.grad(lambda t: fit.joint_log_law(t, x).sum())(theta)
        ref = jax.grad(lambda t: reference(t, x).sum())(theta)
        for k in NAMES:
            np.testing.assert_allclose(ours[k], ref[k], rtol=1e-13)
    fixed = {"a": 6.0, "b": 7.0, "alpha": 0.3, "beta": 0.3, "e": -np.inf}  # E = 0 exactly
    np.testing.assert_allclose(fit.joint_log_law(fixed, x), reference(fixed, x), rtol=1e-15)


def test_a_float64_fit_is_evaluated_in_float64_outside_enable_x64():
    N, D, loss = chinchilla_data(2)
    result = fit.fit_joint_law(N, D, loss, starts=SMALL, n_bootstrap=20, key=jax.random.key(0))
    assert result.alpha.dtype == np.float64

    def evaluations():
        lower, upper = result.ci(0.95)
        frontier = result.compute_optimal([1e20, 1e22])
        return result(N, D), lower, upper, frontier, result.summary()

    inside = evaluations()
    with jax.enable_x64(False), warnings.catch_warnings():
        warnings.simplefilter("error")  # "float64 requested ... truncated" would raise
        outside = evaluations()
    assert outside[-1] == inside[-1]
    for got, want in zip(jax.tree.leaves(outside[:-1]), jax.tree.leaves(inside[:-1]), strict=True):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)
