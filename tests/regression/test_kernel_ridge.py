"""Kernel ridge regression on data pools against `krr_risk` with the pool eigensystem."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pool_setups import POOL, Comparison, compare, held_out_krr, noisy_krr, target

from theorytk import datasets, kernels
from theorytk.kernels import LaplaceKernel, RBFKernel
from theorytk.regression import DataPool, KRRConfig, gaussian_pool, krr_theory, simulate_krr


def _compare(comparison):
    """`compare`, with every seed of every point run to status OK."""
    mean, pred = compare(comparison)
    assert int(mean["n_ok"].min()) == comparison.seeds
    return mean, pred


def _assert_close(mean, pred, metrics, rel_tol):
    for metric in metrics:
        diff = np.abs(mean[metric] - pred[metric])
        bound = 3 * mean[f"{metric}_sem"] + rel_tol * pred[metric]
        assert bool((diff <= bound).all()), (metric, diff.values, bound.values)


def test_krr_on_a_synthetic_pool_matches_krr_risk_of_the_pool_eigensystem():
    # Pool: M = 1000 Gaussian points in d = 20, a nonlinear target (its part outside the
    # learned modes acts as noise), RBF kernel; n training points without replacement, error
    # on the M - n held-out points (the held-out form of `krr_theory`). Tolerance: 3 standard
    # errors of the 64-seed mean plus 5% of the theory: the deterministic equivalent has
    # O(1/n) corrections, and a pool of M points deviates from it when n/M is not small
    # (measured at n/M = 0.1: up to 8% on train_mse, 1% on test_mse; at n/M = 0.2, 5% on
    # test_mse; i.i.d. draws with replacement are worse, 12% at n/M = 0.2, because repeated
    # points are wasted samples).
    mean, pred = _compare(held_out_krr())
    _assert_close(mean, pred, ("test_mse", "train_mse"), 0.05)


def test_label_noise_adds_to_the_krr_test_error():
    # noise = 0.3 at n = 25 (n/M = 0.025) with i.i.d. draws and the error over the whole pool:
    # the test error on noisy labels is predicted within 3 SE + 5% as above. (The train error
    # is not checked here: a point drawn twice with two noisy labels cannot be interpolated,
    # which adds ~noise n / (2M) to train_mse, beyond the continuous theory.)
    mean, pred = _compare(noisy_krr())
    _assert_close(mean, pred, ("test_mse",), 0.05)
    assert bool((pred["test_mse"] > 0.3).all())


def _digits_pool():
    x, y = datasets.digits("parity")
    return DataPool(x, y)


def _ntk(x1, x2):
    # A plain function (as users write it): any callable kernel works.
    return kernels.mlp_kernels(x1, x2, depth=1, activation="relu", sigma_w=2**0.5, sigma_b=0.0).ntk


@pytest.mark.slow  # ~60 s on 2 cores: two 1797 x 1797 Grams and their eigendecompositions
@pytest.mark.parametrize("kernel", [RBFKernel(1.0), _ntk], ids=["rbf", "ntk"])
def test_digits_learning_curve_is_predicted_within_ten_percent_while_n_is_small_against_m(kernel):
    # KRR on the M = 1797 digits (parity labels), training sets of n
    # without replacement, error on the M - n held-out points, 48 seeds; theory from the
    # eigensystem of the full-pool Gram (held-out form of `krr_theory`). The paper's claim is
    # agreement within ~10%: we allow 10% plus 2 standard errors of the seed mean (SE ~ 2-3%).
    # Validity range (docs/kernel_ridge.md): n / M <= 0.14 (n <= 256). Beyond it the
    # eigenframework, which treats the n training points as independent draws from the pool
    # distribution, is optimistic: at n = 1024 (n / M = 0.57) the simulation is 29-45% above
    # it (measured), so there we require it to be more than 10% + 2 SE above; a fix of the
    # finite-pool effect would make this part fail and the docs' range grow.
    config = KRRConfig(pool=_digits_pool(), kernel=kernel, n_max=1024, holdout=True)
    axes = {"n": np.array([64.0, 256.0, 1024.0]), "ridge": np.array([1e-3])}
    mean, pred = _compare(Comparison(simulate_krr, krr_theory, axes, config, 48, jax.random.key(3)))
    rel = mean["test_mse"] / pred["test_mse"] - 1
    bound = 0.10 + 2 * mean["test_mse_sem"] / mean["test_mse"]
    inside = rel.sel(n=[64.0, 256.0])
    assert bool((np.abs(inside) <= bound.sel(n=[64.0, 256.0])).all()), (rel.values, bound.values)
    assert bool(rel.sel(n=1024.0) > bound.sel(n=1024.0)), (rel.values, bound.values)


def test_laplace_and_rbf_kernels_are_one_on_the_diagonal_and_decrease_with_distance():
    x = jnp.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    for kernel in (RBFKernel(0.7), LaplaceKernel(0.7)):
        gram = np.asarray(kernel(x, x))
        np.testing.assert_allclose(np.diag(gram), 1.0)
        assert gram[0, 1] > gram[0, 2] > 0
    # RBF: exp(-|x - x'|^2 / (2 b^2 d)) with |x - x'|^2 = 1, d = 2, b = 0.7.
    np.testing.assert_allclose(float(RBFKernel(0.7)(x, x)[0, 1]), np.exp(-1 / (4 * 0.49)))


def test_holdout_training_sets_have_no_repeats_and_are_tested_elsewhere():
    # With holdout, the M - n held-out points are the test set: for n = M - 1 exactly one
    # point is left, so the test error is that point's squared error (checked by refitting).
    x = np.linspace(-1, 1, 12)[:, None] * np.ones((1, 2))
    pool = DataPool(x, np.cos(3 * x[:, 0]))
    config = KRRConfig(pool=pool, kernel=RBFKernel(0.5), n_max=11, holdout=True)
    key = jax.random.key(5)
    out = jax.jit(simulate_krr, static_argnames="config")(
        {"n": 11, "ridge": 1e-3}, key, config=config
    )
    idx = np.asarray(jax.random.permutation(jax.random.split(key)[0], 12)[:11])
    left = np.setdiff1d(np.arange(12), idx)
    assert len(np.unique(idx)) == 11 and left.size == 1
    gram = np.asarray(RBFKernel(0.5)(jnp.asarray(x), jnp.asarray(x)))
    alpha = np.linalg.solve(gram[np.ix_(idx, idx)] + 1e-3 * np.eye(11), pool.y[idx])
    expected = (gram[left][:, idx] @ alpha - pool.y[left]) ** 2
    np.testing.assert_allclose(float(out["test_mse"]), float(expected[0]), rtol=1e-8)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n": 10, "ridge": -1.0}, "ridge"),
        ({"n": 10, "ridge": float("nan")}, "ridge"),
        ({"n": 0, "ridge": 1.0}, "n"),
        ({"n": 201, "ridge": 1.0}, "n"),
        ({"n": 2.5, "ridge": 1.0}, "n"),
        ({"ridge": 1.0}, "'n'"),
    ],
)
def test_simulate_krr_rejects_bad_params(params, match):
    config = KRRConfig(pool=POOL, kernel=RBFKernel(1.0), n_max=200)
    with pytest.raises(ValueError, match=match):
        simulate_krr(params, jax.random.key(0), config=config)


def test_krr_theory_rejects_bad_params():
    config = KRRConfig(pool=POOL, kernel=RBFKernel(1.0), n_max=10, holdout=True)
    for params, match in (
        ({"n": 1000.0, "ridge": 1.0}, "holdout"),
        ({"n": 10.0, "ridge": -1.0}, "ridge"),
        ({"ridge": 1.0}, "'n'"),
    ):
        with pytest.raises(ValueError, match=match):
            krr_theory(params, config=config)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_max": 0}, "n_max"),
        ({"n_max": 1000, "holdout": True}, "holdout"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"kernel": 3.0}, "kernel"),
        ({"pool": "digits"}, "DataPool"),
    ],
)
def test_krr_config_rejects_bad_input(kwargs, match):
    base = {"pool": POOL, "kernel": RBFKernel(1.0), "n_max": 10}
    with pytest.raises(ValueError, match=match):
        KRRConfig(**{**base, **kwargs})


def test_gaussian_pool_rejects_bad_sizes():
    with pytest.raises(ValueError, match="size"):
        gaussian_pool(jax.random.key(0), size=0, d=3, target=target)


@pytest.mark.parametrize("holdout", [False, True])
def test_n_max_beyond_the_pool_is_refused(holdout):
    pool = gaussian_pool(jax.random.key(0), size=20, d=3, target=lambda x: x[:, 0])
    KRRConfig(pool=pool, kernel=RBFKernel(1.0), n_max=19, holdout=holdout)
    with pytest.raises(ValueError, match="n_max must be <= M = 20"):
        KRRConfig(pool=pool, kernel=RBFKernel(1.0), n_max=21, holdout=holdout)
