"""Properties of the batch sampler and the margin hinge loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.perceptron import batch_indices, margin_hinge_loss

KEY = jax.random.key(0)
THRESHOLD = 3.0


@pytest.mark.parametrize(("n", "size"), [(1, 1), (7, 3), (20, 5), (20, 19), (300, 16)])
def test_batch_indices_are_distinct_and_in_range(n, size):
    draws = np.asarray(jax.vmap(lambda k: batch_indices(k, n, size))(jax.random.split(KEY, 500)))
    assert draws.min() >= 0 and draws.max() < n
    assert all(len(set(row)) == size for row in draws.tolist())


def test_batch_indices_are_uniform_over_the_population():
    # Each index is in a uniform size-k subset with probability k/n; over m draws its count is
    # Binomial(m, k/n). Pearson's chi-square over the n counts (n - 1 dof); the test is at
    # level 1e-4 with a fixed key, so it fails only for a biased sampler.
    n, size, m = 20, 5, 20_000
    draws = jax.vmap(lambda k: batch_indices(k, n, size))(jax.random.split(KEY, m))
    counts = np.bincount(np.asarray(draws).ravel(), minlength=n)
    assert scipy.stats.chisquare(counts).pvalue > 1e-4
    # pairs too: every pair is in the subset with the same probability k(k-1)/(n(n-1))
    pairs = np.zeros((n, n))
    for row in np.asarray(draws):
        pairs[np.ix_(row, row)] += 1
    off = pairs[~np.eye(n, dtype=bool)]
    assert scipy.stats.chisquare(off).pvalue > 1e-4


def test_batch_indices_with_traced_population_size():
    # pad and mask: the population size is traced, the batch size static
    draws = jax.jit(lambda k, n: batch_indices(k, n, 4))(KEY, jnp.int32(6))
    assert len(set(np.asarray(draws).tolist())) == 4 and int(draws.max()) < 6


def test_full_batch_is_every_index():
    assert np.array_equal(batch_indices(KEY, 9, 9), np.arange(9))


def test_batch_larger_than_population_is_rejected():
    with pytest.raises(ValueError, match="batch size"):
        batch_indices(KEY, 4, 5)


@given(
    output=st.floats(-10, 10),
    label=st.sampled_from([-1.0, 1.0]),
    alpha=st.floats(1e-3, 1e3),
)
@settings(max_examples=50, deadline=None)
def test_margin_hinge_loss_vanishes_exactly_on_fitted_points(output, label, alpha):
    loss = float(margin_hinge_loss(output, label, alpha))
    fitted = alpha * label * output >= 1
    assert (loss == 0.0) == fitted
    assert loss == pytest.approx(max(0.0, 1 - alpha * label * output) / alpha, rel=1e-12)
    grad = float(jax.grad(margin_hinge_loss)(output, label, alpha))
    # d/dF = -y exactly in exact arithmetic; (alpha y) / alpha rounds to within 1 ulp
    assert grad == (0.0 if fitted else pytest.approx(-label, rel=1e-15))
