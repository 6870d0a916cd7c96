"""`perceptron.level_temperatures` and `collapse_exponent` on synthetic data of known exponent.

The data follow the paper's scaling form ||w - w0|| / ||w0|| = c T^delta P^gamma (plus a
noiseless baseline where stated), so T_c at a fixed level is (level / c)^(1/delta)
P^(-gamma/delta) exactly and the curves collapse against T P^a with a = gamma / delta.
"""

from __future__ import annotations

import numpy as np
import pytest

from theorytk import fit, perceptron

P = 2.0 ** np.arange(7, 15)  # the two decades of the documented T_c(P) run
T = np.geomspace(1e-5, 3e-2, 24)
DELTA, GAMMA, C = 1.2, 0.66, 1.0  # a = gamma / delta = 0.55


def scaling_form(T, P):
    return C * T[None, :] ** DELTA * P[:, None] ** GAMMA


def test_level_temperatures_are_exact_on_a_power_law_in_t():
    # log(values) is linear in log T, and the crossing is interpolated linearly in log-log,
    # so it is exact to rounding wherever the level lies inside the T range.
    values = scaling_form(T, P)
    level = 0.02
    tc = perceptron.level_temperatures(values, T, level)
    np.testing.assert_allclose(tc, (level / C) ** (1 / DELTA) * P ** (-GAMMA / DELTA), rtol=1e-10)
    law = fit.fit_power_law(P, tc, with_constant=False, space="log")
    np.testing.assert_allclose(float(law.b), GAMMA / DELTA, rtol=1e-10)
    # A curve that starts above the level, or never reaches it, has no T_c.
    assert np.all(np.isnan(perceptron.level_temperatures(values, T, 1e-30)))
    assert np.all(np.isnan(perceptron.level_temperatures(values, T, 1e30)))
    with pytest.raises(ValueError, match="level must be > 0"):
        perceptron.level_temperatures(values, T, 0.0)


def test_collapse_exponent_recovers_gamma_over_delta_from_noisy_seeds():
    # 4 seeds with 5% multiplicative noise, a floor that keeps the noise-dominated part. The
    # grid search resolves a to its fine step 0.002; the seed noise moves the best a by
    # ~0.01 (the bootstrap interval measures it), so |a - 0.55| < 0.03 is a > 2 sd margin and
    # the interval must contain the truth.
    rng = np.random.default_rng(0)
    values = scaling_form(T, P)[None] * np.exp(0.05 * rng.normal(size=(4, P.size, T.size)))
    a, low, high = perceptron.collapse_exponent(values, T, P, floor=0.01, n_boot=50)
    assert abs(a - GAMMA / DELTA) < 0.03, (a, low, high)
    assert low <= GAMMA / DELTA <= high, (a, low, high)
    assert high - low < 0.1, (a, low, high)


def test_a_noiseless_baseline_bends_fixed_level_t_c_and_its_subtraction_restores_it():
    # With a baseline b0 P^0.3 that reaches the level at large P, the fixed-level T_c of the
    # total falls faster than P^-a there; T_c of total - baseline is the scaling form again.
    values = scaling_form(T, P)
    baseline = 0.001 * (P / P[0]) ** 0.3  # 0.001 -> 0.0046 over the two decades
    total = values + baseline[:, None]
    level = 0.01
    tc_total = perceptron.level_temperatures(total, T, level)
    tc_noise = perceptron.level_temperatures(total - baseline[:, None], T, level)
    exact = (level / C) ** (1 / DELTA) * P ** (-GAMMA / DELTA)
    np.testing.assert_allclose(tc_noise, exact, rtol=1e-10)
    windows = fit.local_exponents(P, tc_total)
    first, last = (float(w.fit.b) for w in (windows[0], windows[-1]))
    assert first < last, (first, last)  # steeper at large P
    assert last > GAMMA / DELTA + 0.05
