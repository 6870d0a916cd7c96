"""Training predictions of infinitely wide networks (`gd_predictions`, `nngp_posterior`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ntk_setups import gd_gaps, regression_inputs

from theorytk import kernels

CFG = dict(depth=2, activation="relu", sigma_w=1.4, sigma_b=0.2)


def _problem(seed: int = 0, n: int = 8, m: int = 4, outputs: int | None = None):
    """NTK and NNGP Grams of random inputs, and smooth targets (n,) or (n, outputs)."""
    x, xt, y = regression_inputs(seed, n, m)
    if outputs is not None:
        y = np.stack([y * (i + 1) for i in range(outputs)], axis=1)
    train, test = kernels.mlp_kernels(x, **CFG), kernels.mlp_kernels(xt, x, **CFG)
    test_test = kernels.mlp_kernels(xt, **CFG)
    return x, xt, y, train, test, test_test


@given(seed=st.integers(0, 2**16), outputs=st.sampled_from([None, 2]))
@settings(max_examples=10, deadline=None)
def test_infinite_time_equals_kernel_regression(seed, outputs):
    # t = inf: f_test = f_test(0) + K(test, X) Theta^-1 (y - f_train(0)) and f_train = y
    # (gradient flow and gradient descent below its stability limit). Float64, condition
    # number of the 8 x 8 NTK <= ~1e3: 1e-10 relative.
    _, _, y, train, test, _ = _problem(seed, outputs=outputs)
    rng = np.random.default_rng(seed + 1)
    f0, f0t = rng.standard_normal(y.shape), rng.standard_normal((4,) + y.shape[1:])
    want = f0t + test.ntk @ np.linalg.solve(train.ntk, y - f0)
    lr = 1.0 * y.size / np.linalg.eigvalsh(train.ntk).max()
    for method in kernels.METHODS:
        pred = kernels.gd_predictions(train.ntk, test.ntk, y, np.inf, lr, method=method,
                                      fx_train_0=f0, fx_test_0=f0t)  # fmt: skip
        np.testing.assert_allclose(pred.test, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
        np.testing.assert_allclose(pred.train, y, rtol=0, atol=1e-10 * np.abs(y).max())


def test_gradient_flow_equals_the_matrix_exponential():
    # f_train(t) = y + expm(-lr Theta t / N)(f(0) - y) and
    # f_test(t) = f_test(0) - K Theta^-1 (I - expm(-lr Theta t / N))(f(0) - y) (Lee et al. 2019).
    _, _, y, train, test, _ = _problem(1)
    theta, f0 = np.asarray(train.ntk), np.full(8, 0.3)
    times, lr = np.array([0.0, 0.5, 3.0, 40.0]), 0.7
    pred = kernels.gd_predictions(theta, test.ntk, y, times, lr, fx_train_0=f0, fx_test_0=-0.2)
    for i, t in enumerate(times):
        decay = np.asarray(jax.scipy.linalg.expm(-lr * t / 8 * theta))
        np.testing.assert_allclose(pred.train[i], y + decay @ (f0 - y), rtol=0, atol=1e-12)
        test_t = -0.2 - test.ntk @ np.linalg.solve(theta, (np.eye(8) - decay) @ (f0 - y))
        np.testing.assert_allclose(pred.test[i], test_t, rtol=0, atol=1e-11)


def test_gradient_descent_equals_the_explicit_iteration_for_a_grid_of_learning_rates():
    # f <- f - (lr/N) Theta (f - y) on train, f_test <- f_test - (lr/N) K (f - y), iterated in
    # float64; the closed form at integer steps for three learning rates (0.1, 0.5 and 0.95 of
    # the stability limit 2N / lam_max, the last one oscillating) in one vmapped call.
    _, _, y, train, test, _ = _problem(2)
    theta, k = np.asarray(train.ntk), np.asarray(test.ntk)
    limit = 2 * 8 / np.linalg.eigvalsh(theta).max()
    steps, rates = np.array([0, 1, 7, 60]), np.array([0.1, 0.5, 0.95]) * limit
    pred = kernels.gd_predictions(theta, k, y, steps, rates, method="gd")
    assert pred.train.shape == (3, 4, 8) and pred.test.shape == (3, 4, 4)
    for r, lr in enumerate(rates):
        f, ft = np.zeros(8), np.zeros(4)
        for s in range(steps.max() + 1):
            if s in steps:
                i = list(steps).index(s)
                np.testing.assert_allclose(pred.train[r, i], f, rtol=0, atol=1e-12)
                np.testing.assert_allclose(pred.test[r, i], ft, rtol=0, atol=1e-12)
            residual = f - y
            f, ft = f - lr / 8 * theta @ residual, ft - lr / 8 * k @ residual


def test_vmap_over_learning_rates_equals_separate_calls():
    _, _, y, train, test, _ = _problem(3)
    rates = jnp.array([0.05, 0.2, 0.4])
    fn = jax.vmap(lambda lr: kernels.gd_predictions(train.ntk, test.ntk, y, 5.0, lr).test)
    separate = np.stack(
        [kernels.gd_predictions(train.ntk, test.ntk, y, 5.0, lr).test for lr in rates]
    )
    np.testing.assert_allclose(fn(rates), separate, rtol=1e-13)
    np.testing.assert_allclose(
        kernels.gd_predictions(train.ntk, test.ntk, y, 5.0, rates).test, separate, rtol=1e-13
    )


def test_unstable_gradient_descent_is_reported_as_nonfinite_outputs():
    # lr lam_max / N > 2: (1 - lr lam / N)^t diverges; at t = inf the outputs are inf/NaN,
    # returned as data (no exception).
    _, _, y, train, test, _ = _problem(4)
    lr = 3.0 * 8 / np.linalg.eigvalsh(train.ntk).max()
    pred = kernels.gd_predictions(train.ntk, test.ntk, y, [10.0, np.inf], lr, method="gd")
    assert np.all(np.isfinite(pred.test[0]))
    assert not np.all(np.isfinite(pred.test[1]))


def test_nngp_posterior_equals_gaussian_conditioning():
    # mean = K*X (K + s I)^-1 y, cov = K** - K*X (K + s I)^-1 KX*; the diagonal-only call gives
    # the same variances; with s = 0 the posterior interpolates (mean = y, variance 0 on the
    # training inputs). Float64: 1e-10.
    _, _, y, train, test, test_test = _problem(5)
    k, kt, ktt = (np.asarray(a.nngp) for a in (train, test, test_test))
    post = kernels.nngp_posterior(k, kt, y, ktt, noise=0.1)
    reg = k + 0.1 * np.eye(8)
    np.testing.assert_allclose(post.mean, kt @ np.linalg.solve(reg, y), rtol=1e-10)
    cov = ktt - kt @ np.linalg.solve(reg, kt.T)
    np.testing.assert_allclose(post.covariance, cov, rtol=0, atol=1e-10 * np.abs(ktt).max())
    assert np.linalg.eigvalsh(np.asarray(post.covariance)).min() > -1e-10
    diag = kernels.nngp_posterior(k, kt, y, np.diag(ktt), noise=0.1).covariance
    np.testing.assert_allclose(diag, np.diag(cov), rtol=0, atol=1e-10 * np.abs(ktt).max())
    at_train = kernels.nngp_posterior(k, k, y, k)
    np.testing.assert_allclose(at_train.mean, y, rtol=0, atol=1e-9)
    np.testing.assert_allclose(at_train.covariance, 0, atol=1e-9 * np.abs(k).max())


@pytest.mark.parametrize("depth", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_wide_network_trained_by_gradient_descent_follows_the_prediction(depth):
    # Width 2048, 8 training and 4 test points, lr at half the stability limit, 300 steps
    # (the slowest NTK mode decays by e^-3). The analytic prediction starts from the network's
    # own outputs at initialisation; the gap is the finite-width NTK fluctuation and its drift,
    # O(width^-1/2) ~ 2e-2. Relative to the initial residual (train) and to the distance the
    # test outputs travel plus that residual (test), measured <= 0.020 (train) and <= 0.025
    # (test) over seeds 0-3 (depth 1) and 0-1 (depth 2) (`python docs/ntk_numbers.py`);
    # bound 0.1 at t = 10, 100, 300.
    train, test = gd_gaps(depth, seed=0)  # width 2048, 300 steps, at t = 10, 100, 300
    assert np.all(train <= 0.1), train
    assert np.all(test <= 0.1), test


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(kernel_train_train=np.ones((3, 4))), "must be square"),
        (dict(kernel_test_train=np.ones((2, 5))), "kernel_test_train must have shape"),
        (dict(y_train=np.ones(5)), "y_train must have shape"),
        (dict(t=-1.0), "t must be >= 0"),
        (dict(learning_rate=0.0), "learning_rate must be finite and > 0"),
        (dict(method="adam"), "method must be one of \\['flow', 'gd'\\]"),
        (dict(diag_reg=-1.0), "diag_reg must be a finite scalar >= 0"),
    ],
)
def test_bad_input_raises_value_error_naming_what_is_allowed(kwargs, message):
    args = dict(kernel_train_train=np.eye(4), kernel_test_train=np.ones((2, 4)),
                y_train=np.ones(4), t=1.0, learning_rate=0.1)  # fmt: skip
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        kernels.gd_predictions(**args)
    if "t" not in kwargs and "learning_rate" not in kwargs and "method" not in kwargs:
        if "diag_reg" not in kwargs:
            with pytest.raises(ValueError, match=message):
                kernels.nngp_posterior(args["kernel_train_train"], args["kernel_test_train"],
                                       args["y_train"])  # fmt: skip
