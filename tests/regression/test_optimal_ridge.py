"""Properties of `optimal_ridge`: grid agreement, "more is better", obligatory overfitting."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk.regression import krr_risk, optimal_ridge, rf_risk

_I = np.arange(1, 201, dtype=np.float64)
_LAM, _V2 = _I**-1.5, _I**-1.2


def _rf_opt(n, n_feat, noise):
    return optimal_ridge(_LAM, _V2, n=n, n_features=n_feat, noise=noise)


def _krr_opt(n, noise):
    return optimal_ridge(_LAM, _V2, n=n, noise=noise)


@jax.jit
@jax.vmap
def _grid(ridge, v2, n, n_feat, noise):
    """rf_risk test_mse on a ridge grid (n_feat = inf: krr_risk), one compilation for all."""
    rf = rf_risk(_LAM, v2, n=n, n_features=jnp.minimum(n_feat, 1e300), ridge=ridge, noise=noise)
    krr = krr_risk(_LAM, v2, n=n, ridge=ridge, noise=noise)
    return jnp.where(jnp.isinf(n_feat), krr["test_mse"], rf["test_mse"])


def _grid_of(ridges, v2, n, n_feat, noise):
    size = ridges.size
    full = [jnp.broadcast_to(jnp.asarray(a, float), (size,)) for a in (n, n_feat, noise)]
    return _grid(ridges, jnp.broadcast_to(v2, (size, v2.size)), *full)


@pytest.mark.parametrize("n, n_feat", [(50.0, 30.0), (50.0, 50.0), (50.0, 120.0), (150.0, None)])
def test_optimum_agrees_with_a_fine_grid_search(n, n_feat):
    ridges = jnp.geomspace(1e-6, 1e4, 4001)  # log step 0.00576
    out = _krr_opt(n, 0.1) if n_feat is None else _rf_opt(n, n_feat, 0.1)
    grid = _grid_of(ridges, _V2, n, np.inf if n_feat is None else n_feat, 0.1)
    best = int(jnp.argmin(grid))
    assert 0 < best < ridges.size - 1  # an interior optimum
    assert not out["at_zero"]
    # The bisection optimum is at least as good as every grid point (to rounding, 1e-12).
    assert float(out["test_mse"]) <= float(grid[best]) * (1 + 1e-12)
    # and lies within two grid steps of the grid's argmin.
    step = np.log(float(ridges[1] / ridges[0]))
    assert abs(np.log(float(out["ridge"]) / float(ridges[best]))) <= 2 * step


def test_noiseless_easy_krr_task_has_its_optimum_at_zero_ridge():
    # v_i^2 = i^-3 decays faster than lambda_i = i^-1.5 (beta >= alpha), no noise: for kernel
    # ridge regression the ridge only hurts, d test_mse / d log delta > 0 at the lower end.
    # (With N = 120 random features the optimum is positive: the ridge damps feature noise.)
    v2 = _I**-3.0
    out = optimal_ridge(_LAM, v2, n=50.0)
    assert bool(out["at_zero"]) and float(out["ridge"]) == 0.0
    ridgeless = krr_risk(_LAM, v2, n=50.0, ridge=0.0)
    assert float(out["test_mse"]) == float(ridgeless["test_mse"])
    grid = _grid_of(jnp.geomspace(1e-8, 1e4, 4001), v2, 50.0, np.inf, 0.0)
    assert float(out["test_mse"]) <= float(jnp.min(grid))
    assert not bool(optimal_ridge(_LAM, v2, n=50.0, n_features=120.0)["at_zero"])


def test_more_features_and_more_samples_never_hurt_at_optimal_ridge():
    # Simon, Karkada, Ghosh & Belkin (2023), Theorem 1: the optimally regularised RF risk is
    # non-increasing in N and in n. Grid N, n in [10, 400] (across N = n and N, n = P = 200).
    sizes = jnp.geomspace(10.0, 400.0, 12)
    n_grid, f_grid = jnp.meshgrid(sizes, sizes, indexing="ij")
    opt = jax.jit(jax.vmap(lambda n, f: _rf_opt(n, f, 0.1)["test_mse"]))
    test = np.asarray(opt(n_grid.ravel(), f_grid.ravel())).reshape(n_grid.shape)
    # Each optimum is accurate to ~1e-12 relative (bisection to 1e-16 in log delta at a
    # stationary point): allow 1e-10 relative increase between neighbours.
    assert np.all(np.diff(test, axis=0) <= 1e-10 * test[1:])  # in n
    assert np.all(np.diff(test, axis=1) <= 1e-10 * test[:, 1:])  # in N
    # KRR (N = inf) is the limit of more features: no finite N beats it.
    krr = np.asarray(jax.jit(jax.vmap(lambda n: _krr_opt(n, 0.1)["test_mse"]))(sizes))
    assert np.all(krr[:, None] <= test * (1 + 1e-10))


_P_BIG = 5000
_NS = jnp.array([50.0, 100.0, 200.0, 400.0, 800.0])


@jax.jit
def _krr_opt_curve(beta):
    """Noiseless KRR optimum for lambda_i = i^-1.5, v_i^2 = i^-beta at each n in _NS."""
    i = jnp.arange(1, _P_BIG + 1, dtype=jnp.float64)
    return jax.vmap(lambda n: optimal_ridge(i**-1.5, i**-beta, n=n))(_NS)


@pytest.mark.parametrize("beta", [1.6, 2.0, 3.0])
def test_noiseless_powerlaw_with_beta_at_least_alpha_has_zero_optimal_ridge(beta):
    # Overfitting is obligatory (Simon et al. 2023, Sec. 5): alpha = 1.5 < beta < 2 alpha + 1,
    # no noise: the ridgeless interpolator is optimal at every n (P = 5000 modes).
    out = _krr_opt_curve(beta)
    assert bool(jnp.all(out["at_zero"])) and bool(jnp.all(out["train_mse"] == 0))


@pytest.mark.parametrize("beta", [1.2, 1.4])
def test_noiseless_powerlaw_with_beta_below_alpha_needs_a_positive_vanishing_ridge(beta):
    # 1 < beta < alpha = 1.5, no noise: delta* > 0 at every n, but delta*/n (the mean-loss
    # ridge) falls by > 2x per doubling of n and the optimal train/test ratio decreases
    # towards 0: near-interpolation is still optimal asymptotically. Measured at beta = 1.2:
    # delta*/n = 7.8e-3, 2.4e-3, 7.3e-4, 2.1e-4, 5.6e-5 and ratio 0.144 ... 0.064 (P = 2e4).
    out = _krr_opt_curve(beta)
    per_n = np.asarray(out["ridge"]) / np.asarray(_NS)
    ratio = np.asarray(out["fitting_ratio"])
    assert not bool(jnp.any(out["at_zero"])) and np.all(per_n > 0)
    assert np.all(per_n[1:] < 0.5 * per_n[:-1])
    assert np.all(np.diff(ratio) < 0)


def test_vmap_of_optimal_ridge_equals_a_loop():
    feats = jnp.array([20.0, 50.0, 300.0])
    batched = jax.jit(jax.vmap(lambda f: _rf_opt(50.0, f, 0.1)))(feats)
    for i, f in enumerate(feats):
        single = _rf_opt(50.0, float(f), 0.1)
        for name, value in single.items():
            # Same operations, batched: equal to rounding.
            np.testing.assert_allclose(batched[name][i], value, rtol=1e-10)


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="n_features must be a finite scalar >= 1"):
        optimal_ridge(_LAM, _V2, n=10.0, n_features=0.0)
    with pytest.raises(ValueError, match="noise must be a finite scalar >= 0"):
        optimal_ridge(_LAM, _V2, n=10.0, noise=-1.0)
    with pytest.raises(ValueError, match="eigenvalues must be positive"):
        optimal_ridge(-_LAM, _V2, n=10.0)
