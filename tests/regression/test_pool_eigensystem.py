"""The eigensystem of a kernel under the uniform distribution on a data pool."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.kernels import RBFKernel
from theorytk.regression import DataPool, krr_risk, pool_eigensystem


def _pool(seed, m, d):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, d))
    return x, np.sin(x[:, 0]) + x[:, 1] ** 2


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), m=st.sampled_from([2, 9, 60]), bandwidth=st.floats(0.3, 3.0))
def test_pool_eigensystem_reconstructs_gram_and_target_power(seed, m, bandwidth):
    # With phi_i(x_a) = sqrt(M) U_ai the kernel is sum_i lambda_i phi_i phi_i and Parseval gives
    # sum_i v_i^2 + noise = (1/M) sum_a y_a^2; both are identities up to rounding (1e-10 for an
    # O(1) Gram of size <= 60; the dropped numerically-null modes carry ~eps of the power).
    x, y = _pool(seed, m, 3)
    gram = np.asarray(RBFKernel(bandwidth)(jnp.asarray(x), jnp.asarray(x)))
    eig = pool_eigensystem(gram, y)
    lam = np.asarray(eig.eigenvalues)
    assert np.all(lam > 0) and np.all(np.diff(lam) <= 0)
    np.testing.assert_allclose(float(np.sum(eig.target_coeffs_sq) + eig.noise), np.mean(y**2))
    np.testing.assert_allclose(float(np.sum(lam)), np.trace(gram) / m, rtol=1e-10)
    np.testing.assert_allclose(float(np.sum(lam**2)), np.sum(gram**2) / m**2, rtol=1e-9)


def test_null_modes_of_a_low_rank_kernel_become_noise():
    # The linear kernel x.x' on M = 80 points in d = 5 has rank 5: exactly 5 modes are kept and
    # the target power outside span(x) is the least-squares residual (exact up to rounding).
    x, y = _pool(0, 80, 5)
    eig = pool_eigensystem(x @ x.T, y)
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    assert eig.eigenvalues.shape == (5,)
    np.testing.assert_allclose(float(eig.noise), np.mean(residual**2), rtol=1e-9)


def test_krr_risk_of_a_pool_learns_the_whole_pool_with_many_samples():
    # n -> inf at a small ridge: every kept mode is learned, so krr_risk -> noise (the
    # unlearnable power), here 0 for a full-rank RBF Gram (to 1e-3 at n = 1e7, delta = 1e-6).
    x, y = _pool(1, 40, 2)
    eig = pool_eigensystem(np.asarray(RBFKernel(1.0)(jnp.asarray(x), jnp.asarray(x))), y)
    risk = jax.jit(krr_risk)(
        eig.eigenvalues, eig.target_coeffs_sq, n=1e7, ridge=1e-6, noise=eig.noise
    )
    assert float(risk["test_mse"]) < 1e-3 * np.mean(y**2)


@pytest.mark.parametrize(
    ("gram", "targets", "match"),
    [
        (np.ones((3, 4)), np.ones(3), "square"),
        (np.eye(3), np.ones(4), "shape"),
        (np.eye(3) * np.nan, np.ones(3), "finite"),
        (np.eye(3), np.array([1.0, np.nan, 0.0]), "finite"),
        (np.triu(np.ones((3, 3))), np.ones(3), "symmetric"),
        (np.zeros((3, 3)), np.ones(3), "zero"),
    ],
)
def test_pool_eigensystem_rejects_bad_input(gram, targets, match):
    with pytest.raises(ValueError, match=match):
        pool_eigensystem(gram, targets)


def test_pool_eigensystem_rejects_traced_input():
    with pytest.raises(ValueError, match="concrete"):
        jax.jit(lambda g: pool_eigensystem(g, jnp.ones(2)).noise)(jnp.eye(2))


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.ones((5,)), np.ones(5), "shape"),
        (np.ones((5, 2)), np.ones(4), "shape"),
        (np.full((5, 2), np.nan), np.ones(5), "finite"),
    ],
)
def test_data_pool_rejects_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        DataPool(x, y)


def test_data_pools_are_equal_and_hash_equal_by_content():
    x, y = _pool(2, 10, 2)
    assert DataPool(x, y) == DataPool(x.copy(), y.copy())
    assert hash(DataPool(x, y)) == hash(DataPool(x.copy(), y.copy()))
    assert DataPool(x, y) != DataPool(x, y + 1)


def test_a_gram_that_is_not_psd_beyond_rounding_is_refused():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    gram = np.exp(-np.abs(x[:, None, 0] - x[None, :, 0]))  # a PSD (Laplace) Gram
    pool_eigensystem(gram, x[:, 1])
    with pytest.raises(ValueError, match="gram must be positive semidefinite"):
        pool_eigensystem(gram - 0.5 * np.eye(30), x[:, 1])
    # rounding-size negative eigenvalues of a rank-deficient PSD Gram are dropped, not refused
    low_rank = x @ x.T
    eig = pool_eigensystem(low_rank, x[:, 1])
    assert eig.eigenvalues.shape == (3,)
