"""Linear ridge regression: simulation against eigenframework theory, limits, gradients."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk import regression, sweep
from theorytk.regression import RidgeConfig, krr_risk, ridge_theory, simulate_ridge
from theorytk.regression._gaussian import linear_teacher_data
from theorytk.sweep import Status

D = 200
SEEDS = 100
N_GRID = np.array([40, 100, 200, 400, 1000])  # n/d = 0.2 .. 5
LAM_GRID = np.array([1e-4, 1e-2, 1e-1, 10.0])
CONFIGS = {
    "isotropic": RidgeConfig(d=D, n_max=5 * D, noise=0.5, signal=1.0),
    "power_law": RidgeConfig(
        d=D,
        n_max=5 * D,
        spectrum="power_law",
        eigen_decay=1.5,
        target="power_law",
        target_decay=1.5,
        noise=0.1,
    ),
}


@functools.partial(jax.jit, static_argnames=("fn", "config"))
def _grid_theory(ns, lams, *, fn, config):
    """fn(params, config=config) on the (n, ridge) grid, arrays of shape (len(ns), len(ridges))."""
    point = lambda n, r: fn({"n": n, "lam": r}, config=config)  # noqa: E731
    return jax.vmap(lambda n: jax.vmap(lambda r: point(n, r))(lams))(jnp.asarray(ns, float))


def _theory_grid(config, ns, lams):
    return _grid_theory(
        jnp.asarray(ns, float), jnp.asarray(lams, float), fn=ridge_theory, config=config
    )


@functools.partial(jax.jit, static_argnames=("config", "seeds"))
def _grid_simulate_jit(ns, lams, key, *, config, seeds):
    def per_seed(k):
        point = lambda n, r: simulate_ridge({"n": n, "lam": r}, k, config=config)  # noqa: E731
        return jax.vmap(lambda n: jax.vmap(lambda r: point(n, r))(lams))(ns)

    return jax.lax.map(per_seed, jax.random.split(key, seeds), batch_size=16)


def _grid_simulate(config, ns, lams, seeds):
    """simulate on seeds x n x ridge, as arrays of shape (seeds, len(ns), len(ridges)).

    One draw per seed, shared by the grid (the key is not batched over n and ridge); seeds run
    in batches of 16 to bound memory.
    """
    ns, lams = jnp.asarray(ns, float), jnp.asarray(lams, float)
    out = _grid_simulate_jit(ns, lams, jax.random.key(0), config=config, seeds=seeds)
    return {name: np.asarray(value) for name, value in out.items()}


@functools.cache
def _comparison(name):
    config = CONFIGS[name]
    sim = _grid_simulate(config, N_GRID, LAM_GRID, SEEDS)
    th = {k: np.asarray(v) for k, v in _theory_grid(config, N_GRID, LAM_GRID).items()}
    lam = np.asarray(config.eigenvalues())
    dof = np.sum(lam / (lam + th["kappa"][..., None]), axis=-1)  # sum_i L_i
    gap = np.maximum(N_GRID[:, None], D) - dof
    return sim, th, gap


# Finite-size allowance. The deterministic equivalent is exact as n, d -> inf; at finite size
# the exact Gaussian expectations differ from it by O(1/gap), gap = max(n, d) - sum_i L_i, the
# number of unused degrees of freedom (= |n - d| for ridgeless regression, larger with ridge).
# Ridgeless, the exact inverse-Wishart moments give the coefficient: E[W^-1] = I / (m - p - 1)
# against 1 / (m - p), i.e. 1/gap relative, for the test error and E||w||^2; the train error
# involves E[W^-2] = (m - 1) / ((m - p)(m - p - 1)(m - p - 3)) against m / (m - p)^3, i.e.
# about 4/gap. Measured with 4096 seeds at these points (|mean - theory| / theory * gap):
# test_mse <= 0.6 (isotropic), 1.3 +- 0.6 (power law, n = 40, ridge = 0.1); train_mse
# <= 3.7 +- 1.0; E||w||^2 <= 1.9 +- 1.2. With 100 seeds every measured bias is below 1.3
# standard errors, so the 4-standard-error band carries most of the tolerance.
ALLOWANCE = {"test_mse": 1.0, "train_mse": 4.0, "weight_norm_sq": 1.0}
# Points with gap < 10 are excluded: there the O(1/gap) corrections exceed 10% and the seed
# distribution is heavy-tailed. On this grid that is only (n = d, ridge = 1e-4) for the
# isotropic spectrum (gap = 2; train-error kurtosis 17); its peak is tested separately below.
MIN_GAP = 10.0


@pytest.mark.parametrize(
    "name",
    # The isotropic grid costs ~20 s CPU like the power-law one; it runs with the slow checks
    # (the isotropic simulation is also checked against exact finite-size formulas below).
    ["power_law", pytest.param("isotropic", marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("metric", list(ALLOWANCE))
def test_theory_matches_the_seed_averaged_simulation(name, metric):
    sim, th, gap = _comparison(name)
    if metric == "weight_norm_sq":  # theory's weight_norm is sqrt(E ||w||^2): compare squares
        samples, predicted = sim["weight_norm"] ** 2, th["weight_norm"] ** 2
    else:
        samples, predicted = sim[metric], th[metric]
    mean = samples.mean(axis=0)
    sem = samples.std(axis=0, ddof=1) / np.sqrt(SEEDS)
    tolerance = 4 * sem + ALLOWANCE[metric] * np.abs(predicted) / gap
    kept = gap >= MIN_GAP
    assert kept.sum() >= 19
    error = np.abs(mean - predicted)
    assert np.all(error[kept] <= tolerance[kept]), (
        f"{metric}: |sim - theory| / sem =\n{np.round(error / sem, 2)}\n"
        f"tolerance / sem =\n{np.round(tolerance / sem, 2)}"
    )


SMALL = RidgeConfig(d=50, n_max=150, noise=0.5, signal=2.0)


SMALL_N = [20.0, 120.0]  # n < d and n > d


def test_simulation_mean_equals_the_exact_finite_size_least_squares_risk():
    # Independent of the eigenframework: for Sigma = I, ridge -> 0 and Gaussian X, exactly
    # (Wishart inverse moments) E test = ||w*||^2 (1 - n/d) + noise (1 + n / (d - n - 1)) for
    # n < d - 1, and noise (1 + d / (n - d - 1)) for n > d + 1. ridge = 1e-9 shifts these by
    # ~1e-8 relative; 4 standard errors of 1024 seeds bound the comparison.
    d, s2, signal = SMALL.d, SMALL.noise, SMALL.signal
    sim = _grid_simulate(SMALL, SMALL_N, [1e-9], 1024)["test_mse"][:, :, 0]
    for i, n in enumerate(SMALL_N):
        if n < d:
            exact = signal * (1 - n / d) + s2 * (1 + n / (d - n - 1))
        else:
            exact = s2 * (1 + d / (n - d - 1))
        mean, sem = sim[:, i].mean(), sim[:, i].std(ddof=1) / np.sqrt(sim.shape[0])
        assert abs(mean - exact) <= 4 * sem, (n, mean, exact, sem)


def test_infinite_ridge_gives_signal_plus_noise_in_theory_and_simulation():
    # At ridge 1e8, w = O(1/ridge): test_mse = ||w*||_Sigma^2 + noise up to ~1e-7 relative.
    # (The simulation reuses the compiled grid of the test above: 1024 seeds, cheap at d = 50.)
    expected = SMALL.signal + SMALL.noise
    sim = _grid_simulate(SMALL, SMALL_N, [1e8], 1024)["test_mse"]
    np.testing.assert_allclose(sim, expected, rtol=1e-6)
    for config in (SMALL, RidgeConfig(d=50, n_max=150, spectrum="power_law", noise=0.3)):
        th = _theory_grid(config, SMALL_N, [1e8])["test_mse"]
        np.testing.assert_allclose(th, config.signal + config.noise, rtol=1e-6)


def test_ridgeless_theory_has_its_double_descent_peak_at_n_equals_d():
    config = CONFIGS["isotropic"]  # noise 0.5, signal 1
    below = np.linspace(0.5 * D, D - 1, 40)
    above = np.linspace(D + 1, 5 * D, 40)
    test = lambda ns: _theory_grid(config, ns, [0.0])["test_mse"][:, 0]  # noqa: E731
    # For Sigma = I: test = (1 - n/d) + noise d / (d - n) below d, noise n / (n - d) above;
    # with noise > signal / 4 it increases on [d/2, d) and decreases on (d, inf).
    assert np.all(np.diff(test(below)) > 0)
    assert np.all(np.diff(test(above)) < 0)
    assert np.isinf(test(np.array([float(D)]))[0])
    for ns in (below, above):  # and it is the closed form (Hastie et al. 2019) to rounding
        closed = np.where(ns < D, (1 - ns / D) + 0.5 * D / (D - ns), 0.5 * ns / (ns - D))
        np.testing.assert_allclose(test(ns), closed, rtol=1e-12)


def test_simulation_with_tiny_ridge_peaks_at_n_equals_d():
    # The seed distribution near n = d is heavy-tailed (E test = inf ridgeless), so the peak is
    # located with the seed median, which is finite and robust.
    d = 100
    config = RidgeConfig(d=d, n_max=2 * d, noise=0.5)
    ns = jnp.array([50.0, 80, 90, 95, 100, 105, 110, 125, 200])
    sim = _grid_simulate(config, ns, [1e-8], 64)["test_mse"][:, :, 0]
    median = np.median(sim, axis=0)
    assert ns[np.argmax(median)] == d, median


@functools.partial(jax.jit, static_argnames="config")
def _test_mse(lam, n, *, config):
    return ridge_theory({"n": n, "lam": lam}, config=config)["test_mse"]


_test_mse_grad = jax.jit(jax.grad(_test_mse, argnums=(0, 1)), static_argnames="config")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_theory_gradient_in_ridge_and_n_matches_finite_differences(name):
    config = CONFIGS[name]
    for n, lam in [(100.0, 1e-2), (400.0, 0.3), (1000.0, 1e-3)]:
        g_lam, g_n = _test_mse_grad(lam, n, config=config)
        # Relative steps 1e-4: central-difference truncation ~1e-8 relative; rounding of the
        # root-finding (~10 ulps) / 1e-4 ~ 1e-11. So 1e-6 relative.
        h, k = 1e-4 * lam, 1e-4 * n
        fd_lam = _test_mse(lam + h, n, config=config) - _test_mse(lam - h, n, config=config)
        fd_n = _test_mse(lam, n + k, config=config) - _test_mse(lam, n - k, config=config)
        np.testing.assert_allclose(g_lam, fd_lam / (2 * h), rtol=1e-6)
        np.testing.assert_allclose(g_n, fd_n / (2 * k), rtol=1e-6)


def _gradient_root(config, n, lo=1e-4, hi=1e2):
    """The ridge where d test_mse / d ridge changes sign, by bisection in log ridge."""
    grad = lambda r: _test_mse_grad(r, n, config=config)[0]  # noqa: E731
    log_lo, log_hi = np.log(lo), np.log(hi)
    assert grad(lo) < 0 < grad(hi)
    for _ in range(60):
        mid = 0.5 * (log_lo + log_hi)
        if grad(np.exp(mid)) < 0:
            log_lo = mid
        else:
            log_hi = mid
    return np.exp(0.5 * (log_lo + log_hi))


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("n", [100.0, 400.0])
def test_zero_of_the_ridge_gradient_is_the_grid_minimiser(name, n):
    config = CONFIGS[name]
    root = _gradient_root(config, n)
    lams = np.geomspace(1e-4, 1e2, 4001)  # ratio 1.0035 between neighbours
    test = _theory_grid(config, [n], lams)["test_mse"][0]
    best = lams[np.argmin(test)]
    # The minimiser of a smooth function on the grid is within one grid step of the root.
    assert abs(np.log(best / root)) <= np.log(lams[1] / lams[0])
    if name == "isotropic":
        # Sigma = I: the optimal mean-loss ridge is noise * d / (n * ||w*||^2)
        # (delta = noise * d / ||w*||^2 on the Gram scale); bisection pins it to ~1e-10.
        np.testing.assert_allclose(root, config.noise * D / (n * config.signal), rtol=1e-7)


def test_pad_and_mask_equals_an_unpadded_fit_on_the_same_draws():
    n, lam = 37, 0.05
    params = {"n": n, "lam": lam}
    key = jax.random.key(3)
    padded_config = RidgeConfig(d=50, n_max=150, spectrum="power_law", noise=0.2)
    exact_config = RidgeConfig(d=50, n_max=n, spectrum="power_law", noise=0.2)
    run = jax.jit(simulate_ridge, static_argnames="config")
    padded = run(params, key, config=padded_config)
    unpadded = run(params, key, config=exact_config)
    # Direct fit with numpy on the first n rows of the padded draws.
    eigenvalues, teacher = padded_config.eigenvalues(), padded_config.teacher()
    x, y = linear_teacher_data(
        *jax.random.split(key), n=150, eigenvalues=eigenvalues, teacher=teacher, noise=0.2
    )
    x, y = np.asarray(x)[:n], np.asarray(y)[:n]
    w = np.linalg.solve(x.T @ x + n * lam * np.eye(50), x.T @ y)
    w_star, eig = np.asarray(teacher), np.asarray(eigenvalues)
    direct = {
        "test_mse": np.sum(eig * (w - w_star) ** 2) + 0.2,
        "train_mse": np.mean((x @ w - y) ** 2),
        "weight_norm": np.linalg.norm(w),
    }
    for name, value in direct.items():
        # Same numbers, different summation order and solver: float64 rounding, 1e-10.
        np.testing.assert_allclose(padded[name], value, rtol=1e-10)
        np.testing.assert_allclose(unpadded[name], value, rtol=1e-10)


def test_simulate_and_theory_are_vmappable_and_respect_float32():
    config = RidgeConfig(d=20, n_max=40, noise=0.1)
    params = {
        "n": jnp.array([10.0, 30.0], jnp.float32),
        "lam": jnp.array([0.1, 1.0], jnp.float32),
    }
    keys = jax.random.split(jax.random.key(0), 2)
    sim = jax.jit(jax.vmap(lambda p, k: simulate_ridge(p, k, config=config)))(params, keys)
    th_fn = jax.jit(jax.vmap(lambda p: ridge_theory(p, config=config)))
    th = th_fn(params)
    np.testing.assert_array_equal(sim.pop("status"), [Status.OK, Status.OK])
    for out in (sim, th):
        for name, value in out.items():
            assert value.dtype == jnp.float32 and value.shape == (2,), name
            assert np.all(np.isfinite(value)), name
    th64 = th_fn(jax.tree.map(jnp.float64, params))
    # float32 rounding of 20-mode sums: 1e-5 relative.
    np.testing.assert_allclose(th["test_mse"], th64["test_mse"], rtol=1e-5)


def test_traced_non_positive_ridge_gives_nan_metrics_in_simulation():
    config = RidgeConfig(d=20, n_max=40)
    out = jax.jit(lambda r: simulate_ridge({"n": 10, "lam": r}, jax.random.key(0), config=config))(
        0.0
    )
    assert out.pop("status") == Status.INVALID
    assert all(np.isnan(v) for v in out.values())


@given(
    spectrum=st.sampled_from(["isotropic", "power_law"]),
    target=st.sampled_from(["isotropic", "power_law"]),
    eigen_decay=st.floats(0.0, 3.0),
    target_decay=st.floats(-1.0, 3.0),
    signal=st.one_of(st.just(0.0), st.floats(1e-100, 10.0)),  # no subnormal v_i^2
)
@settings(max_examples=30, deadline=None)
def test_config_task_is_one_teacher_with_the_requested_power(
    spectrum, target, eigen_decay, target_decay, signal
):
    config = RidgeConfig(
        d=30, n_max=1, spectrum=spectrum, eigen_decay=eigen_decay, target=target,
        target_decay=target_decay, signal=signal,
    )  # fmt: skip
    lam, w_star, v2 = config.eigenvalues(), config.teacher(), config.target_coeffs_sq()
    np.testing.assert_allclose(v2, lam * w_star**2, rtol=1e-14)
    np.testing.assert_allclose(v2.sum(), signal, rtol=1e-12, atol=1e-300)
    i = np.arange(1, 31)
    if spectrum == "power_law":
        np.testing.assert_allclose(lam, i**-eigen_decay, rtol=1e-14)
    if target == "power_law" and signal > 0:
        np.testing.assert_allclose(v2 / v2[0], i**-target_decay, rtol=1e-12)
    if target == "isotropic":
        np.testing.assert_allclose(w_star, w_star[0], rtol=1e-14)


def test_sweep_engine_runs_simulate_and_theory():
    config = RidgeConfig(d=10, n_max=30, noise=0.1)
    grid = sweep.Grid(n=np.array([5, 20]), lam=sweep.geomspace(1e-2, 1.0, 3), seed=range(2))
    sim = sweep.run(simulate_ridge, grid, key=jax.random.key(0), config=config, progress=False)
    th = sweep.run(ridge_theory, sweep.Grid(n=np.array([5, 20]), lam=sweep.geomspace(1e-2, 1.0, 3)),
                   config=config, progress=False)  # fmt: skip
    assert set(sim.data_vars) >= {"test_mse", "train_mse", "weight_norm", "status"}
    assert set(th.data_vars) >= {"test_mse", "train_mse", "weight_norm", "kappa"}
    assert int(sim["status"].max()) == sweep.Status.OK


@pytest.mark.parametrize(
    "fn, params, match",
    [
        ("simulate", {"n": 10, "lam": 0.0}, r"params\['lam'\] must be a finite scalar > 0"),
        ("simulate", {"n": 10, "lam": -1.0}, r"params\['lam'\]"),
        ("simulate", {"n": 41, "lam": 1.0}, r"params\['n'\] must be .* integer in \[1, n_max"),
        ("simulate", {"n": 10.5, "lam": 1.0}, r"params\['n'\]"),
        ("simulate", {"n": 0, "lam": 1.0}, r"params\['n'\]"),
        ("simulate", {"n": 10, "lam": 1.0, "noise": -1.0}, r"params\['noise'\]"),
        ("simulate", {"lam": 1.0}, "missing"),
        ("theory", {"n": 10, "lam": -1e-3}, r"params\['lam'\] must be a finite scalar >= 0"),
        ("theory", {"n": 0.0, "lam": 1.0}, r"params\['n'\] must be a finite scalar > 0"),
        ("theory", {"n": np.nan, "lam": 1.0}, r"params\['n'\]"),
    ],
)
def test_bad_params_raise_value_error(fn, params, match):
    config = RidgeConfig(d=20, n_max=40)
    with pytest.raises(ValueError, match=match):
        if fn == "simulate":
            simulate_ridge(params, jax.random.key(0), config=config)
        else:
            ridge_theory(params, config=config)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"d": 0}, "d must be an integer >= 1"),
        ({"n_max": 2.5}, "n_max must be an integer >= 1"),
        ({"spectrum": "gaussian"}, "spectrum must be one of"),
        ({"target": "sparse"}, "target must be one of"),
        ({"eigen_decay": np.inf}, "eigen_decay must be a finite number"),
        ({"noise": -0.1}, "noise must be a finite number >= 0"),
        ({"signal": np.nan}, "signal must be a finite number >= 0"),
    ],
)
def test_bad_config_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RidgeConfig(**{"d": 10, "n_max": 20, **kwargs})


def test_old_names_warn_and_read_the_mean_loss_ridge_from_params_ridge():
    # regression.simulate / regression.theory (deprecated) are simulate_ridge / ridge_theory
    # with params["ridge"] meaning lam: identical numbers.
    config = RidgeConfig(d=10, n_max=30, noise=0.1)
    with pytest.warns(DeprecationWarning, match="use theorytk.regression.simulate_ridge"):
        old_simulate = regression.simulate
    with pytest.warns(DeprecationWarning, match="use theorytk.regression.ridge_theory"):
        old_theory = regression.theory
    key = jax.random.key(2)
    old = old_simulate({"n": 20, "ridge": 0.1}, key, config=config)
    new = simulate_ridge({"n": 20, "lam": 0.1}, key, config=config)
    assert {k: float(v) for k, v in old.items()} == {k: float(v) for k, v in new.items()}
    old = old_theory({"n": 20, "ridge": 0.1}, config=config)
    assert float(old["test_mse"]) == float(
        ridge_theory({"n": 20, "lam": 0.1}, config=config)["test_mse"]
    )
    with pytest.raises(ValueError, match="'ridge' is now 'lam'"):
        simulate_ridge({"n": 20, "ridge": 0.1}, key, config=config)


def test_traced_parameters_outside_the_domain_are_invalid_never_plausible_numbers():
    config = RidgeConfig(d=10, n_max=20, noise=0.1)
    params = {"n": jnp.array([10.0, 25.0, 2.5, 10.0]), "lam": jnp.array([0.1, 0.1, 0.1, -1.0])}
    keys = jax.random.split(jax.random.key(0), 4)
    sim = jax.jit(jax.vmap(lambda p, k: simulate_ridge(p, k, config=config)))(params, keys)
    # n > n_max, non-integer n and lam < 0 each make the point invalid
    np.testing.assert_array_equal(sim["status"], [Status.OK] + [Status.INVALID] * 3)
    for name in ("test_mse", "train_mse", "weight_norm"):
        assert np.isfinite(sim[name][0]) and np.all(np.isnan(sim[name][1:])), name
    risk = jax.jit(
        jax.vmap(
            lambda ridge: krr_risk(jnp.array([1.0, 0.5]), jnp.array([1.0, 1.0]), n=3.0, ridge=ridge)
        )
    )(jnp.array([0.1, -0.1]))
    for name, value in risk.items():
        assert np.isfinite(value[0]) and np.isnan(value[1]), name


def test_a_sweep_refuses_ridge_grid_values_outside_the_domain_before_tracing():
    config = RidgeConfig(d=10, n_max=20)
    with pytest.raises(sweep.GridError, match="'n': values must be integers >= 1, got 2.5"):
        sweep.run(
            simulate_ridge,
            sweep.Grid(n=[2.5, 4.0], lam=[0.1]),
            key=jax.random.key(0),
            config=config,
        )
    with pytest.raises(sweep.GridError, match="'lam': values must be > 0, got 0"):
        sweep.run(
            simulate_ridge,
            sweep.Grid(n=[4.0], lam=[0.0, 0.1]),
            key=jax.random.key(0),
            config=config,
        )
