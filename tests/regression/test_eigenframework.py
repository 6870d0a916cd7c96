"""Properties of the eigenframework deterministic equivalent `krr_risk`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from finite_differences import assert_jacobian_matches_central_differences
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.regression import krr_risk

# One compiled krr_risk for every P, reused across hypothesis examples.
_risk = jax.jit(krr_risk)

# Mode counts: one compiled krr_risk per count. P = 1 and 2 are edge cases; 40 is generic.
MODE_COUNTS = (1, 2, 40)


def reals(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats in [lo, hi] without subnormals (XLA on CPU flushes them to zero)."""
    return st.floats(lo, hi, allow_subnormal=False)


def noises(hi: float) -> st.SearchStrategy[float]:
    """0 or a noise variance in [1e-100, hi]: risks stay normal floats (no flush to zero)."""
    return st.one_of(st.just(0.0), reals(1e-100, hi))


@st.composite
def spectra(draw, log10_range: float = 12.0):
    """(eigenvalues, target_coeffs_sq), unsorted, eigenvalues spanning up to 1e+-log10_range."""
    p = draw(st.sampled_from(MODE_COUNTS))
    exponents = draw(st.lists(reals(-log10_range, log10_range), min_size=p, max_size=p))
    coeffs = draw(st.lists(reals(0.0, 10.0), min_size=p, max_size=p))
    return 10.0 ** np.array(exponents), np.array(coeffs)


@given(
    spectrum=spectra(),
    n_frac=reals(0.01, 3.0),
    log10_ridge=st.one_of(st.none(), reals(-10.0, 10.0)),
)
@settings(max_examples=60, deadline=None)
def test_kappa_solves_its_equation(spectrum, n_frac, log10_ridge):
    lam, v2 = spectrum
    p = lam.size
    n = n_frac * p
    ridge = 0.0 if log10_ridge is None else 10.0**log10_ridge
    kappa = float(_risk(lam, v2, n=n, ridge=ridge)["kappa"])
    if ridge == 0.0 and n >= p:
        assert kappa == 0.0  # no positive root: the interpolating branch
        return
    assert kappa > 0
    residual = np.sum(lam / (lam + kappa)) + ridge / kappa - n
    # All terms on the left are positive and sum to n; rounding in float64 over P <= 40 terms
    # leaves ~P * 1e-16 relative, so 1e-12 relative to n is a tight but safe bound.
    assert abs(residual) <= 1e-12 * n


@given(
    p=st.sampled_from(MODE_COUNTS),
    n=reals(0.1, 300.0),
    ridge=st.one_of(st.just(0.0), reals(1e-200, 1e3)),  # kappa stays a normal float
)
@settings(max_examples=40, deadline=None)
def test_isotropic_kappa_is_the_marchenko_pastur_root(p, n, ridge):
    # lambda_i = 1: n kappa^2 + (n - P - delta) kappa - delta = 0; its non-negative root in the
    # cancellation-free form (0 for delta = 0, n >= P; P/n - 1 for delta = 0, n < P).
    out = _risk(np.ones(p), np.ones(p), n=n, ridge=ridge)
    b = n - p - ridge
    root = np.sqrt(b * b + 4 * n * ridge)
    expected = 2 * ridge / (b + root) if b > 0 else (root - b) / (2 * n)
    # Both sides are accurate to a few ulps times the root's condition number: 1e-10.
    np.testing.assert_allclose(float(out["kappa"]), expected, rtol=1e-10, atol=1e-300)


@given(p=st.sampled_from(MODE_COUNTS[1:]), n_frac=reals(0.02, 0.98), noise=noises(5.0))
@settings(max_examples=40, deadline=None)
def test_ridgeless_underparametrised_matches_hastie_et_al(p, n_frac, noise):
    # Hastie et al. (2019), isotropic min-norm least squares with gamma = P/n > 1:
    # test_mse = ||w*||^2 (1 - n/P) + noise * P / (P - n).
    n = n_frac * p
    v2 = np.full(p, 1.0 / p)
    out = _risk(np.ones(p), v2, n=n, ridge=0.0, noise=noise)
    expected = (1 - n / p) + noise * p / (p - n)
    np.testing.assert_allclose(float(out["test_mse"]), expected, rtol=1e-10)
    assert float(out["train_mse"]) == 0.0  # interpolation


@given(spectrum=spectra(), n_over=reals(1e-3, 100.0), noise=noises(10.0))
@settings(max_examples=40, deadline=None)
def test_ridgeless_overparametrised_sample_count_gives_n_over_n_minus_p_noise(
    spectrum, n_over, noise
):
    lam, v2 = spectrum
    p = lam.size
    n = p + n_over
    out = _risk(lam, v2, n=n, ridge=0.0, noise=noise)
    # Closed form, no solve involved: equal to a few ulps.
    np.testing.assert_allclose(float(out["test_mse"]), n / (n - p) * noise, rtol=1e-14)
    np.testing.assert_allclose(float(out["train_mse"]), (n - p) / n * noise, rtol=1e-14)
    assert float(out["kappa"]) == 0.0


def test_ridgeless_interpolation_threshold_is_an_infinite_peak():
    lam, v2 = np.geomspace(1.0, 1e-3, 30), np.ones(30)
    out = _risk(lam, v2, n=30.0, ridge=0.0, noise=0.1)
    assert np.isinf(float(out["test_mse"])) and np.isinf(float(out["e0"]))
    assert float(out["train_mse"]) == 0.0
    # Without noise the interpolant at n = P is exact: no peak.
    assert float(_risk(lam, v2, n=30.0, ridge=0.0, noise=0.0)["test_mse"]) == 0.0


@given(spectrum=spectra(log10_range=6.0), n_frac=reals(0.01, 3.0), noise=noises(5))
@settings(max_examples=40, deadline=None)
def test_infinite_ridge_gives_the_null_predictor_risk(spectrum, n_frac, noise):
    lam, v2 = spectrum
    n = n_frac * lam.size
    ridge = 1e10 * n * lam.max()
    out = _risk(lam, v2, n=n, ridge=ridge, noise=noise)
    # Corrections are O(n lambda_max / delta) = O(1e-10) relative.
    np.testing.assert_allclose(float(out["test_mse"]), v2.sum() + noise, rtol=1e-8, atol=1e-300)


@given(spectrum=spectra(log10_range=3.0), ridge=reals(1e-3, 1e3), noise=reals(0.01, 5))
@settings(max_examples=40, deadline=None)
def test_infinite_samples_give_the_noise_floor(spectrum, ridge, noise):
    lam, v2 = spectrum
    out = _risk(lam, v2, n=1e12, ridge=ridge, noise=noise)
    # E0 - 1 ~ P/n = 4e-11 and the bias ~ (delta / (n lambda_min))^2 v^2 <= 1e-12: 1e-9 relative.
    np.testing.assert_allclose(float(out["test_mse"]), noise, rtol=1e-9)


@given(spectrum=spectra(log10_range=4.0), n_frac=reals(0.05, 3.0), ridge=reals(0, 10))
@settings(max_examples=30, deadline=None)
def test_eigenvalue_order_does_not_matter(spectrum, n_frac, ridge):
    lam, v2 = spectrum
    n = n_frac * lam.size
    order = np.argsort(lam)
    a = _risk(lam, v2, n=n, ridge=ridge, noise=0.3)
    b = _risk(lam[order], v2[order], n=n, ridge=ridge, noise=0.3)
    for name in ("test_mse", "train_mse", "kappa"):
        # Same terms summed in another order: 1e-12 relative (inf == inf at the peak).
        np.testing.assert_allclose(float(a[name]), float(b[name]), rtol=1e-12)


def test_float32_inputs_give_float32_outputs_close_to_float64():
    lam = np.arange(1, 101, dtype=np.float64) ** -1.3
    v2 = np.arange(1, 101, dtype=np.float64) ** -1.1
    out64 = _risk(lam, v2, n=50.0, ridge=1e-2, noise=0.1)
    out32 = _risk(lam.astype(np.float32), v2.astype(np.float32), n=50.0, ridge=1e-2, noise=0.1)
    for name, value in out32.items():
        assert value.dtype == jnp.float32, name
        # float32 rounding of 100-term sums and of the Newton step: 1e-5 relative.
        np.testing.assert_allclose(float(value), float(out64[name]), rtol=1e-5)


_LAM = np.arange(1, 41, dtype=np.float64) ** -1.5
_V2 = np.arange(1, 41, dtype=np.float64) ** -1.2
_METRICS = ("test_mse", "train_mse", "rkhs_norm_sq")


def _risk_of(ridge, n, noise, lam, v2):
    return _risk(lam, v2, n=n, ridge=ridge, noise=noise)


_jacobian = jax.jit(jax.jacrev(_risk_of, argnums=(0, 1, 2, 3, 4)))


@pytest.mark.parametrize("n, ridge", [(15.0, 1e-2), (60.0, 0.3), (25.0, 0.5), (70.0, 1e-4)])
def test_gradients_match_central_finite_differences(n, ridge):
    # n = 15, 25 < P = 40 and n = 60, 70 > P; ridge 1e-4 at n = 70 is close to the kappa = 0
    # branch. Derivatives w.r.t. ridge, n, noise and one large and one small mode of the
    # eigenvalues and of the target coefficients, for every metric.
    args = (ridge, n, 0.2, _LAM, _V2)
    assert_jacobian_matches_central_differences(_risk_of, _jacobian(*args), args, _METRICS)


@pytest.mark.parametrize("n", [20.0, 60.0])
def test_ridge_gradient_at_zero_is_the_right_derivative(n):
    # n = 20 < P: smooth root branch; n = 60 > P: no root at delta = 0, kappa ~ delta/(n - P).
    def f(ridge):
        return _risk(_LAM, _V2, n=n, ridge=ridge, noise=0.2)["test_mse"]

    h = 1e-7
    forward = (-3 * f(0.0) + 4 * f(h) - f(2 * h)) / (2 * h)  # second-order one-sided
    # One-sided difference error O(h^2 f''') plus rounding 1e-16/h = 1e-9 relative: 1e-5.
    grad = jax.jit(jax.grad(f))(0.0)
    assert np.isfinite(grad)
    np.testing.assert_allclose(grad, forward, rtol=1e-5)


def test_vmap_over_a_ridge_grid_equals_a_loop():
    ridges = jnp.geomspace(1e-6, 1e3, 17)
    batched = jax.jit(jax.vmap(lambda r: krr_risk(_LAM, _V2, n=25.0, ridge=r, noise=0.1)))(ridges)
    for i, r in enumerate(ridges):
        single = _risk(_LAM, _V2, n=25.0, ridge=float(r), noise=0.1)
        for name, value in single.items():
            # Same operations, batched: equal to rounding.
            np.testing.assert_allclose(batched[name][i], value, rtol=1e-13)


def test_traced_inputs_are_not_validated():
    # Inside jit/vmap the values are unknown: no exception, the caller's data flows through.
    out = jax.jit(lambda r: krr_risk(_LAM, _V2, n=25.0, ridge=r)["test_mse"])(1e-2)
    assert np.isfinite(out)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ridge": -1e-3}, "ridge must be a finite scalar >= 0"),
        ({"eigenvalues": np.array([1.0, 0.0, 0.5])}, "eigenvalues must be positive"),
        ({"eigenvalues": np.array([1.0, -2.0, 0.5])}, "eigenvalues must be positive"),
        ({"target_coeffs_sq": np.ones(4)}, "must have the shape of eigenvalues"),
        ({"eigenvalues": np.array([1.0, np.nan, 0.5])}, "eigenvalues must be positive and finite"),
        ({"target_coeffs_sq": np.array([1.0, np.nan, 0.5])}, "non-negative and finite"),
        ({"target_coeffs_sq": np.array([1.0, -1.0, 0.5])}, "non-negative and finite"),
        ({"eigenvalues": np.ones((3, 1))}, "1-D"),
        ({"n": 0.0}, "n must be a finite scalar > 0"),
        ({"n": np.nan}, "n must be a finite scalar > 0"),
        ({"noise": -0.1}, "noise must be a finite scalar >= 0"),
    ],
)
def test_bad_inputs_raise_value_error(kwargs, match):
    args = {
        "eigenvalues": np.array([1.0, 0.3, 0.1]),
        "target_coeffs_sq": np.ones(3),
        "n": 2.0,
        "ridge": 0.1,
        "noise": 0.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        krr_risk(args.pop("eigenvalues"), args.pop("target_coeffs_sq"), **args)
