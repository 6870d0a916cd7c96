"""Properties of the chi-data generator."""

import jax
import numpy as np
import pytest
import scipy.special
import scipy.stats

from theorytk.perceptron import chi_data

KEY = jax.random.key(0)
N = 20_000
D = 4

# One compile for every chi: chi is traced.
_draw = jax.jit(lambda key, chi: chi_data(key, d=D, n=N, chi=chi))


@pytest.mark.parametrize("chi", [-0.5, 0.0, 1.0, 3.0])
def test_boundary_coordinate_has_density_proportional_to_abs_x1_pow_chi_times_gaussian(chi):
    # |x_1| = sqrt(2 G), G ~ Gamma((chi+1)/2): P(|x_1| <= t) = P((chi+1)/2, t^2/2) (regularised
    # lower incomplete gamma). Kolmogorov-Smirnov on 20_000 draws at level 1e-4 (fixed key).
    x, y = _draw(KEY, chi)
    x1 = np.asarray(x[:, 0])
    cdf = lambda t: scipy.special.gammainc((chi + 1) / 2, t**2 / 2)  # noqa: E731
    assert scipy.stats.kstest(np.abs(x1), cdf).pvalue > 1e-4
    # the sign is a fair coin (binomial test at level 1e-4) and the label is sign(x_1)
    assert scipy.stats.binomtest(int(np.sum(x1 > 0)), N).pvalue > 1e-4
    assert np.array_equal(np.asarray(y), np.sign(x1))


def test_other_coordinates_are_iid_standard_gaussians_independent_of_x1():
    x, _ = _draw(KEY, 1.0)
    rest = np.asarray(x[:, 1:])
    assert scipy.stats.kstest(rest.ravel(), "norm").pvalue > 1e-4
    # correlation of |x_1| with x_j^2: sd 1/sqrt(N) ~ 0.007 under independence; 5 sd
    for j in range(D - 1):
        assert abs(np.corrcoef(np.abs(x[:, 0]), rest[:, j] ** 2)[0, 1]) < 5 / np.sqrt(N)


def test_data_sets_drawn_from_one_key_are_nested():
    draw = jax.jit(chi_data, static_argnames=("d", "n"))
    small_x, small_y = draw(KEY, d=3, n=5, chi=0.5)
    big_x, big_y = draw(KEY, d=3, n=12, chi=0.5)
    np.testing.assert_array_equal(big_x[:5], small_x)
    np.testing.assert_array_equal(big_y[:5], small_y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d": 3, "n": 5, "chi": -1.0}, "chi"),
        ({"d": 3, "n": 5, "chi": -2.5}, "chi"),
        ({"d": 3, "n": 5, "chi": float("nan")}, "chi"),
        ({"d": 0, "n": 5, "chi": 0.0}, "d must"),
        ({"d": 3, "n": 0, "chi": 0.0}, "n must"),
        ({"d": 2.5, "n": 5, "chi": 0.0}, "d must"),
    ],
)
def test_bad_data_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        chi_data(KEY, **kwargs)
