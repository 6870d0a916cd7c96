"""Properties of the random-feature eigenframework `rf_risk`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from finite_differences import assert_jacobian_matches_central_differences
from hypothesis import given, settings
from hypothesis import strategies as st
from rf_setups import WIDE_CASES, rf_equation_errors

from theorytk.regression import krr_risk, rf_risk

# One compiled rf_risk per mode count, reused across hypothesis examples.
_risk = jax.jit(rf_risk)

_LAM = np.arange(1, 41, dtype=np.float64) ** -1.5
_V2 = np.arange(1, 41, dtype=np.float64) ** -1.2


def reals(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats in [lo, hi] without subnormals (XLA on CPU flushes them to zero)."""
    return st.floats(lo, hi, allow_subnormal=False)


@st.composite
def spectra(draw):
    """(eigenvalues, target_coeffs_sq), unsorted, eigenvalues spanning up to 1e+-8."""
    p = draw(st.sampled_from((1, 2, 40)))
    exponents = draw(st.lists(reals(-8.0, 8.0), min_size=p, max_size=p))
    coeffs = draw(st.lists(reals(0.0, 10.0), min_size=p, max_size=p))
    return 10.0 ** np.array(exponents), np.array(coeffs)


@given(
    spectrum=spectra(),
    n_frac=reals(0.05, 3.0),
    feat_frac=reals(0.05, 3.0),
    log10_ridge=reals(-6.0, 6.0),
)
@settings(max_examples=60, deadline=None)
def test_gamma_and_kappa_solve_the_rf_equations(spectrum, n_frac, feat_frac, log10_ridge):
    lam, v2 = spectrum
    p = lam.size
    n, n_feat, ridge = max(1.0, n_frac * p), max(1.0, feat_frac * p), 10.0**log10_ridge
    out = _risk(lam, v2, n=n, n_features=n_feat, ridge=ridge)
    gamma, kappa = float(out["gamma"]), float(out["kappa"])
    assert gamma > 0 and kappa > 0
    learn = lam / (lam + gamma)
    # Both equations are sums of positive terms equal to n (resp. N); float64 rounding over
    # <= 40 terms and the cancellation-free evaluation leave ~1e-14 relative: 1e-12 is safe.
    assert abs(np.sum(learn) + ridge / kappa - n) <= 1e-12 * n
    assert abs(np.sum(learn) + n_feat * kappa / gamma - n_feat) <= 1e-12 * n_feat


def test_test_mse_matches_the_issue_formula_at_generic_points():
    # The cancellation-free evaluation equals the issue's formula in its original form.
    for n, n_feat, ridge in [(25.0, 10.0, 1e-2), (25.0, 60.0, 0.3), (50.0, 30.0, 1e-4)]:
        out = _risk(_LAM, _V2, n=n, n_features=n_feat, ridge=ridge, noise=0.2)
        g, k = float(out["gamma"]), float(out["kappa"])
        learn = _LAM / (_LAM + g)
        z, q = learn.sum(), (learn**2).sum()
        x = (q * (n_feat - 2 * z) + z**2) / (n * (n_feat - q))
        b = g / (_LAM + g) - n_feat * k / (n_feat - q) * _LAM / (_LAM + g) ** 2
        test = (np.sum(b * _V2) + 0.2) / (1 - x)
        # Direct formula loses a few digits to cancellation near 1 - x: 1e-9 relative.
        np.testing.assert_allclose(float(out["test_mse"]), test, rtol=1e-9)
        np.testing.assert_allclose(
            float(out["train_mse"]), (ridge / (n * k)) ** 2 * test, rtol=1e-9
        )


@pytest.mark.parametrize("n, ridge", [(25.0, 1e-3), (25.0, 0.5), (60.0, 1e-3), (60.0, 0.0)])
def test_infinitely_many_features_recover_krr(n, ridge):
    # The RF corrections are O(n / N) and O(P / N): at N = 1e12 they are ~1e-10 relative.
    rf = _risk(_LAM, _V2, n=n, n_features=1e12, ridge=ridge, noise=0.1)
    krr = krr_risk(_LAM, _V2, n=n, ridge=ridge, noise=0.1)
    for name in ("test_mse", "train_mse", "kappa"):
        np.testing.assert_allclose(float(rf[name]), float(krr[name]), rtol=1e-8, atol=1e-300)


@pytest.mark.parametrize("n_feat, ridge", [(10.0, 1e-3), (30.0, 0.5), (100.0, 1e-2)])
def test_infinitely_many_samples_give_the_rf_population_risk(n_feat, ridge):
    # n -> inf: gamma solves N = sum_i L_i + N gamma' with kappa -> 0 like ridge / n, so
    # test_mse -> sum_i gamma v_i^2 / (lambda_i + gamma) + noise, gamma solving
    # sum_i lambda_i / (lambda_i + gamma) = N (for N < P). Corrections O(N / n) = 1e-9 at 1e11.
    out = _risk(_LAM, _V2, n=1e11, n_features=n_feat, ridge=ridge, noise=0.1)
    gamma = float(out["gamma"])
    expected = np.sum(gamma * _V2 / (_LAM + gamma)) + 0.1
    np.testing.assert_allclose(float(out["test_mse"]), expected, rtol=1e-7)
    if n_feat < _LAM.size:
        np.testing.assert_allclose(np.sum(_LAM / (_LAM + gamma)), n_feat, rtol=1e-7)


def test_ridgeless_double_descent_diverges_at_n_features_equal_n():
    # P = 40 modes, n = 20: test_mse grows without bound as N -> n from either side and is
    # inf at N = n; the ridge removes the divergence.
    def test(n_feat, ridge=0.0):
        return float(
            _risk(_LAM, _V2, n=20.0, n_features=n_feat, ridge=ridge, noise=0.1)["test_mse"]
        )

    assert test(20.0) == np.inf
    below = [test(20.0 - e) for e in (1.0, 1e-2, 1e-4)]
    above = [test(20.0 + e) for e in (1.0, 1e-2, 1e-4)]
    # Near the peak test_mse ~ c / |N - n|: each 100x step closer multiplies it by > 30.
    assert below[1] > 30 * below[0] and below[2] > 30 * below[1]
    assert above[1] > 30 * above[0] and above[2] > 30 * above[1]
    assert np.isfinite(test(20.0, ridge=1e-2))


@pytest.mark.parametrize("n_feat", [10.0, 30.0, 80.0])
def test_ridgeless_limit_is_continuous_in_the_ridge(n_feat):
    # delta = 0 is solved by separate branches (N < n: z = N; n < N: z = n; P <= min(n, N):
    # gamma = 0); each must be the delta -> 0 limit. n = 20 or 60 with P = 40.
    for n in (20.0, 60.0):
        if n == n_feat:
            continue
        zero = _risk(_LAM, _V2, n=n, n_features=n_feat, ridge=0.0, noise=0.1)
        tiny = _risk(_LAM, _V2, n=n, n_features=n_feat, ridge=1e-12, noise=0.1)
        for name in ("test_mse", "train_mse"):
            # The risk is smooth in delta with slope O(1 / kappa_min) ~ 1e3: 1e-6 relative.
            np.testing.assert_allclose(float(zero[name]), float(tiny[name]), rtol=1e-6, atol=1e-12)


def test_huge_and_tiny_eigenvalues_give_finite_risks():
    lam = 10.0 ** np.linspace(-150, 150, 50)
    for n_feat in (10.0, 30.0, 60.0, 1e6):
        for ridge in (0.0, 1e-100, 1.0, 1e100):
            out = _risk(lam, np.ones(50), n=20.0, n_features=n_feat, ridge=ridge, noise=0.1)
            for name, value in out.items():
                assert np.isfinite(value) and value >= 0, (n_feat, ridge, name, value)


def test_float32_inputs_give_float32_outputs_close_to_float64():
    lam, v2 = _LAM.astype(np.float32), _V2.astype(np.float32)
    out64 = _risk(_LAM, _V2, n=25.0, n_features=30.0, ridge=1e-2, noise=0.1)
    out32 = _risk(lam, v2, n=25.0, n_features=30.0, ridge=1e-2, noise=0.1)
    for name, value in out32.items():
        assert value.dtype == jnp.float32, name
        # float32 rounding of 40-term sums, amplified by 1/(1 - x) ~ 10 near N ~ n: 1e-4.
        np.testing.assert_allclose(float(value), float(out64[name]), rtol=1e-4)


def _risk_of(ridge, n, n_feat, noise, lam, v2):
    return _risk(lam, v2, n=n, n_features=n_feat, ridge=ridge, noise=noise)


_jacobian = jax.jit(jax.jacrev(_risk_of, argnums=(0, 1, 2, 3, 4, 5)))


@pytest.mark.parametrize(
    "n, n_feat, ridge",
    [(25.0, 10.0, 1e-2), (25.0, 60.0, 0.3), (60.0, 30.0, 1e-3), (15.0, 80.0, 1.0)],
)
def test_gradients_match_central_finite_differences(n, n_feat, ridge):
    args = (ridge, n, n_feat, 0.2, _LAM, _V2)
    assert_jacobian_matches_central_differences(
        _risk_of, _jacobian(*args), args, ("test_mse", "train_mse", "gamma", "kappa")
    )


def test_vmap_over_a_features_ridge_grid_equals_a_loop():
    feats = jnp.array([5.0, 20.0, 25.0, 60.0, 1e4])
    ridges = jnp.array([0.0, 1e-6, 1e-2, 10.0])
    f, r = (a.ravel() for a in jnp.meshgrid(feats, ridges))

    def one(n_feat, ridge):
        return rf_risk(_LAM, _V2, n=25.0, n_features=n_feat, ridge=ridge, noise=0.1)

    batched = jax.jit(jax.vmap(one))(f, r)
    for i in range(f.size):
        single = _risk(_LAM, _V2, n=25.0, n_features=float(f[i]), ridge=float(r[i]), noise=0.1)
        for name, value in single.items():
            # Same operations, batched: equal to rounding (inf == inf at the peak).
            np.testing.assert_allclose(batched[name][i], value, rtol=1e-12)


@pytest.mark.parametrize("p, count", WIDE_CASES)
def test_rf_equations_hold_on_wide_random_spectra(p, count):
    # 1,300 fixed-seed cases, wider than the hypothesis test: eigenvalues over 1e+-12, ridges
    # over 1e+-10, among them n ~ N ~ P with tiny ridges (slow Newton convergence) and roots on
    # an end of the bracket (every Newton step rounds outside it and bisects). Both equations
    # are sums of positive terms equal to n (resp. N), rounded over <= 1000 terms and read from
    # a root in log gamma whose error the solver drives to rounding: 1e-12 relative.
    errors = rf_equation_errors(p, count)
    assert np.all(errors["gamma"] > 0) and np.all(errors["kappa"] > 0)
    assert np.max(errors["n_equation"]) <= 1e-12
    assert np.max(errors["N_equation"]) <= 1e-12


@pytest.mark.parametrize("batch", [1, 7, 20, 48])
def test_batches_in_blocks_equal_single_points(batch):
    # A vmapped batch runs as a loop over blocks of gcd(batch, 16) points (1, 1, 4 and 16
    # lanes here); every point is the same computation as alone: equal to rounding.
    rng = np.random.default_rng(batch)
    feats = 10.0 ** rng.uniform(0.0, 3.0, batch)
    ridges = np.where(rng.uniform(size=batch) < 0.2, 0.0, 10.0 ** rng.uniform(-8.0, 2.0, batch))
    batched = jax.jit(
        jax.vmap(lambda f, r: rf_risk(_LAM, _V2, n=25.0, n_features=f, ridge=r, noise=0.1))
    )(feats, ridges)
    for i in range(batch):
        single = _risk(_LAM, _V2, n=25.0, n_features=feats[i], ridge=ridges[i], noise=0.1)
        for name, value in single.items():
            np.testing.assert_allclose(batched[name][i], value, rtol=1e-12)


def test_nested_vmap_over_spectra_and_ridges_equals_single_points():
    # Batched eigenvalues (an outer vmap over two spectra) and an inner vmap over ridges.
    lams = np.stack([_LAM, _LAM[::-1] * 2.0])
    ridges = np.array([1e-4, 1e-2, 1.0])

    def grid(lam):
        return jax.vmap(lambda r: rf_risk(lam, _V2, n=25.0, n_features=30.0, ridge=r))(ridges)

    out = jax.jit(jax.vmap(grid))(lams)
    for s in range(2):
        for j, ridge in enumerate(ridges):
            single = _risk(lams[s], _V2, n=25.0, n_features=30.0, ridge=ridge)
            np.testing.assert_allclose(out["test_mse"][s, j], single["test_mse"], rtol=1e-12)


def test_vmapped_gradient_equals_single_point_gradients():
    # jax.grad through the batched rf_risk (vmap of grad and grad of a vmapped sum): the
    # implicit-function derivative of each point, equal to rounding.
    ridges = np.array([1e-3, 0.1, 2.0])

    def test_mse(ridge):
        return rf_risk(_LAM, _V2, n=25.0, n_features=30.0, ridge=ridge, noise=0.1)["test_mse"]

    grad = jax.jit(jax.grad(test_mse))
    per_point = np.array([float(grad(r)) for r in ridges])
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(test_mse)))(ridges), per_point, rtol=1e-12)
    summed = jax.jit(jax.grad(lambda r: jnp.sum(jax.vmap(test_mse)(r))))(ridges)
    np.testing.assert_allclose(summed, per_point, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ridge": -1e-3}, "ridge must be a finite scalar >= 0"),
        ({"noise": -0.1}, "noise must be a finite scalar >= 0"),
        ({"n": 0.5}, "n must be a finite scalar >= 1"),
        ({"n_features": 0.5}, "n_features must be a finite scalar >= 1"),
        ({"n_features": np.nan}, "n_features must be a finite scalar >= 1"),
        ({"ridge": np.nan}, "ridge must be a finite scalar >= 0"),
        ({"eigenvalues": np.array([1.0, 0.0, 0.5])}, "eigenvalues must be positive"),
        ({"eigenvalues": np.array([1.0, np.nan, 0.5])}, "eigenvalues must be positive and finite"),
        ({"target_coeffs_sq": np.array([1.0, np.nan, 0.5])}, "non-negative and finite"),
    ],
)
def test_bad_inputs_raise_value_error(kwargs, match):
    args = {
        "eigenvalues": np.array([1.0, 0.3, 0.1]),
        "target_coeffs_sq": np.ones(3),
        "n": 2.0,
        "n_features": 3.0,
        "ridge": 0.1,
        "noise": 0.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        rf_risk(args.pop("eigenvalues"), args.pop("target_coeffs_sq"), **args)
