"""Kernels as hashable callables (RBF, Laplace, MLP) and their old home in `regression`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk import kernels, regression
from theorytk.kernels import LaplaceKernel, MLPKernel, RBFKernel, mlp_kernels

# Two points at distance 1 in d = 2, and a third further away.
_X = jnp.array([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]])


def test_rbf_and_laplace_kernels_are_their_closed_forms_in_units_of_sqrt_d():
    # |x - x'|^2 / d = 1/2 for the first pair, 25/2 for the first and third (d = 2).
    sq = np.array([[0.0, 0.5, 12.5], [0.5, 0.0, 10.0], [12.5, 10.0, 0.0]])
    np.testing.assert_allclose(RBFKernel(0.7)(_X, _X), np.exp(-sq / (2 * 0.49)), rtol=1e-14)
    np.testing.assert_allclose(LaplaceKernel(0.7)(_X, _X), np.exp(-np.sqrt(sq) / 0.7), rtol=1e-14)


@pytest.mark.parametrize("kind", ["ntk", "nngp"])
def test_mlp_kernel_is_the_analytic_kernel_of_mlp_kernels(kind):
    kernel = MLPKernel(depth=2, activation="erf", sigma_w=1.3, sigma_b=0.2, kind=kind)
    expected = getattr(
        mlp_kernels(_X, _X, depth=2, activation="erf", sigma_w=1.3, sigma_b=0.2), kind
    )
    np.testing.assert_array_equal(kernel(_X, _X), expected)


def test_kernels_are_hashable_values_with_a_stable_repr():
    # A config holding a kernel is hashed and its repr fingerprints a resumable sweep.
    assert hash(RBFKernel(1.0)) == hash(RBFKernel(1.0)) and RBFKernel(1.0) != RBFKernel(2.0)
    assert repr(MLPKernel(1, "relu", 1.0)) == (
        "MLPKernel(depth=1, activation='relu', sigma_w=1.0, sigma_b=0.0, kind='ntk')"
    )


def test_mlp_kernel_rejects_an_unknown_kind_or_activation():
    with pytest.raises(ValueError, match="kind must be 'ntk' or 'nngp'"):
        MLPKernel(depth=1, activation="relu", sigma_w=1.0, kind="gp")
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPKernel(depth=1, activation="swish!", sigma_w=1.0)


@pytest.mark.parametrize("name", ["RBFKernel", "LaplaceKernel", "MLPKernel"])
def test_old_regression_names_warn_and_are_the_kernels_classes(name):
    with pytest.warns(DeprecationWarning, match=f"use theorytk.kernels.{name}"):
        old = getattr(regression, name)
    assert old is getattr(kernels, name)


@pytest.mark.parametrize("kernel", [RBFKernel, LaplaceKernel])
@pytest.mark.parametrize("bandwidth", [-1.0, 0.0, float("nan"), float("inf")])
def test_a_bandwidth_that_is_not_positive_and_finite_is_refused(kernel, bandwidth):
    with pytest.raises(ValueError, match="bandwidth must be a finite scalar > 0"):
        kernel(bandwidth)


@pytest.mark.parametrize("kernel", [RBFKernel, LaplaceKernel])
def test_a_traced_bandwidth_outside_the_domain_gives_nan(kernel):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)))
    gram = jax.jit(lambda b: kernel(b)(x, x))
    assert np.all(np.isnan(gram(-1.0))) and np.all(np.isnan(gram(0.0)))
    np.testing.assert_allclose(gram(2.0), kernel(2.0)(x, x), rtol=1e-12)
