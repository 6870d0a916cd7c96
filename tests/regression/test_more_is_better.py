"""`rf_optima` and `more_is_better`: batched optimal-ridge risks of RF and kernel ridge."""

import numpy as np
import pytest

from theorytk import regression
from theorytk.regression import more_is_better, optimal_ridge, rf_optima

_I = np.arange(1, 101, dtype=np.float64)
_LAM, _V2 = _I**-1.5, _I**-1.5  # the `rf` experiment's quick task: d = 100, noise 0.1


def test_rf_optima_equals_optimal_ridge_at_every_broadcast_point():
    # n (3, 1) against N (1, 4) with N = inf (KRR) in the last column: 12 points, 2 chunks of
    # one compilation each. Same arithmetic point by point, batched or not: 1e-12 relative.
    n = np.array([[20.0], [50.0], [120.0]])
    feats = np.array([[10.0, 50.0, 400.0, np.inf]])
    out = rf_optima(_LAM, _V2, n=n, n_features=feats, noise=0.1)
    assert all(v.shape == (3, 4) for v in out.values())
    for i in range(3):
        for j in range(4):
            f = None if np.isinf(feats[0, j]) else feats[0, j]
            one = optimal_ridge(_LAM, _V2, n=n[i, 0], n_features=f, noise=0.1)
            for name in ("ridge", "test_mse", "train_mse", "fitting_ratio"):
                np.testing.assert_allclose(out[name][i, j], float(one[name]), rtol=1e-12)


def test_rf_optima_takes_one_target_per_point():
    # Two targets v_i^2 = i^-beta (beta 1.2, 2.0) at n = 30 and 60: the (2, P) target batch
    # broadcasts against n (2,). beta = 2 >= alpha = 1.5 and no noise: delta* = 0 (obligatory
    # overfitting, Simon et al. 2023), train error 0; beta = 1.2 < alpha: delta* > 0.
    v2 = _I ** -np.array([[1.2], [2.0]])
    out = rf_optima(_LAM, v2, n=np.array([30.0, 60.0]))
    assert out["at_zero"].tolist() == [False, True]
    assert out["ridge"][0] > 0 and out["ridge"][1] == 0 and out["fitting_ratio"][1] == 0


def test_more_is_better_optimal_error_falls_with_n_and_features_and_krr_is_below():
    # Simon, Karkada, Ghosh & Belkin (2023), Theorem 1: min over delta of the RF test error is
    # non-increasing in N and n, and N = inf (KRR) is below every finite N. Each optimum is
    # ~1e-12 relative exact (bisection to ~1e-16 in log delta at a stationary point): 1e-10.
    ns = np.array([12, 25, 50, 100])
    feats = np.geomspace(5, 1000, 24)
    ds = more_is_better(_LAM, _V2, n=ns, n_features=feats, noise=0.1)
    best = ds["test_mse"].values
    assert ds["test_mse"].dims == ("n", "n_features") and ds["n"].values.tolist() == ns.tolist()
    assert np.all(np.diff(best, axis=1) <= 1e-10 * best[:, 1:])
    assert np.all(np.diff(best, axis=0) <= 1e-10 * best[1:])
    assert np.all(ds["test_mse_krr"].values[:, None] <= best * (1 + 1e-10))
    # The KRR column is optimal_ridge without features.
    krr = optimal_ridge(_LAM, _V2, n=50.0, noise=0.1)
    np.testing.assert_allclose(ds["ridge_krr"].sel(n=50).item(), float(krr["ridge"]), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 10.0, "n_features": 0.5}, "n_features must be >= 1 or inf"),
        ({"n": 0.5, "n_features": 10.0}, "n must be finite, >= 1 with features"),
        ({"n": 0.0}, "n must be finite"),
        ({"n": 10.0, "noise": -1.0}, "noise must be finite and >= 0"),
    ],
)
def test_rf_optima_rejects_bad_sizes_and_noise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rf_optima(_LAM, _V2, **kwargs)


def test_rf_optima_rejects_a_bad_spectrum_or_target():
    with pytest.raises(ValueError, match="eigenvalues must be"):
        rf_optima(-_LAM, _V2, n=10.0)
    with pytest.raises(ValueError, match="target_coeffs_sq must be"):
        rf_optima(_LAM, _V2[:50], n=10.0)
    with pytest.raises(ValueError, match="n_features must be finite"):
        more_is_better(_LAM, _V2, n=[10.0], n_features=[np.inf])


_P = np.arange(1, 5001, dtype=np.float64)  # P = 5000 modes, lambda_i = i^-1.5


def test_noisy_optima_keeps_overfitting_obligatory_for_targets_no_rougher_than_the_spectrum():
    # Simon, Karkada, Ghosh & Belkin (ICLR 2024), noisy case: label noise of variance r times
    # the noiseless ridgeless test error at n (their scripts/opt-ridge.py, r in {0, 0.5, 5}).
    # For beta >= alpha the optimal ridge is then positive but the train error stays much
    # smaller than the test error: "much smaller" is taken as train/test < 1/4 for r <= 1.
    # The ratio grows with the noise (more noise, more ridge), and r = 0 gives delta* = 0.
    for beta in (1.5, 2.0):
        ds = regression.noisy_optima(
            _P**-1.5, _P**-beta, n=[50, 200], relative_noise=[0.0, 0.25, 1.0, 4.0]
        )
        ratio = ds["fitting_ratio"].values
        assert np.all(ds["ridge"].values[0] == 0) and np.all(ratio[0] == 0)
        assert np.all(ratio[:3] < 0.25)
        assert np.all(np.diff(ratio, axis=0) >= 0)
        np.testing.assert_allclose(ds["noise"].values[2], ds["ridgeless_noiseless"].values)


def test_noisy_optima_fitting_ratio_does_not_depend_on_n_while_a_fixed_noise_drives_it_up():
    # With noise proportional to the error at n the power-law problem is self-similar: the
    # optimal fitting ratio depends on (alpha, beta, r) only, up to finite-n corrections of
    # relative order n^-(1 - 1/alpha) = 0.27 at n = 50 (alpha = 1.5): bound 0.27 from n = 50 to
    # 400. A fixed noise instead dominates the shrinking error, delta* / n grows and the
    # ratio rises towards 1 (here the noise of r = 1 at n = 50, held fixed).
    ds = regression.noisy_optima(_P**-1.5, _P**-1.5, n=[50, 400], relative_noise=[1.0])
    ratio = ds["fitting_ratio"].values[0]
    assert ratio[1] == pytest.approx(ratio[0], rel=0.27)
    fixed = rf_optima(_P**-1.5, _P**-1.5, n=np.array([50.0, 400.0]), noise=ds["noise"][0, 0].item())
    assert fixed["fitting_ratio"][1] > 2 * ratio[1]


def test_noisy_optima_refuses_negative_relative_noise():
    with pytest.raises(ValueError, match="relative_noise must be finite and >= 0"):
        regression.noisy_optima(_P**-1.5, _P**-1.5, n=[50], relative_noise=[-0.1])
