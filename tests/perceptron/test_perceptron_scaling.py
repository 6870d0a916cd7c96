"""The gradient-descent regime: the T -> 0 limit and the growth of dw_1 with P.

Full-batch gradient descent (conftest's GD runner, d = 16, up to 2048 points) at the small
step of `gradient_flow_temperature` stands for gradient flow; training sets of growing P
drawn with one seed are nested (common random numbers across P).
"""

import numpy as np
import pytest
from conftest import N_POINTS, Runner

from theorytk import fit
from theorytk.perceptron import (
    PerceptronConfig,
    gradient_flow_temperature,
    predicted_exponents,
)
from theorytk.sweep import Status

SEEDS = np.arange(16)
SIZES = [256, 512, 1024, 2048]


def gradient_descent(run, chi: float, sizes, seeds=SEEDS, fraction: float = 0.15):
    """Metrics of full-batch GD at alpha = 1, each of shape (len(sizes), len(seeds))."""
    rows = []
    for size in sizes:
        temperature = float(gradient_flow_temperature(size, d=16, chi=chi, fraction=fraction))
        parts = []
        for start in range(0, len(seeds), N_POINTS):
            out = run(T=temperature, P=size, chi=chi, seed=seeds[start : start + N_POINTS])
            assert np.all(out["status"] == Status.OK)
            parts.append(out)
        rows.append({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    return {k: np.array([row[k] for row in rows]) for k in rows[0]}


@pytest.fixture(scope="module")
def growth(gd_run):
    """Gradient descent at P = SIZES, 16 seeds, per chi (computed once per module)."""
    cache = {}

    def get(chi: float):
        if chi not in cache:
            cache[chi] = gradient_descent(gd_run, chi, SIZES)
        return cache[chi]

    return get


def growth_exponent(sizes, dw1) -> tuple[float, float, float]:
    """Exponent of dw_1 ~ P^b fitted on the seed means (weights 1/SEM^2), and its 95% CI."""
    sem = dw1.std(axis=1, ddof=1) / np.sqrt(dw1.shape[1])
    result = fit.fit_power_law(
        np.asarray(sizes, float), dw1.mean(axis=1), sigma=sem, with_constant=False
    )
    assert bool(result.converged)
    lower, upper = result.ci(0.95)
    return -float(result.b), -float(upper[1]), -float(lower[1])


def test_sgd_converges_to_gradient_descent_as_t_goes_to_zero(sgd_run, gd_run):
    # P = 128, chi = 1, 4 seeds (shared data): SGD (B = 16) at alpha T = 0.3 ... 0.01 against
    # full-batch GD at a small step. Measured mean relative deviations of alpha dw_1: 9.5%,
    # 2.9%, 0.6%, 0.06%. Asserted: they decrease with T and are < 1.5% at alpha T = 0.01; and
    # GD at the default step (fraction 0.15) is within 1.5% of GD at a 3x smaller step
    # (measured 0.6-0.9%).
    seeds = np.arange(4)
    temperatures = np.array([0.3, 0.1, 0.03, 0.01])
    sgd = sgd_run(T=np.repeat(temperatures, 4), P=128, chi=1.0, seed=np.tile(seeds, 4))
    assert np.all(sgd["status"] == Status.OK)
    gd = gradient_descent(gd_run, 1.0, [128], seeds)["dw1"][0]
    finer = gradient_descent(gd_run, 1.0, [128], seeds, fraction=0.05)["dw1"][0]
    assert np.all(np.abs(gd / finer - 1) < 0.015), gd / finer
    deviation = np.abs(sgd["dw1"].reshape(4, 4) / finer - 1).mean(axis=1)
    assert np.all(np.diff(deviation) < 0), deviation
    assert deviation[-1] < 0.015, deviation


@pytest.mark.parametrize(("chi", "tolerance"), [(3.0, 0.06), (1.0, 0.1)])
def test_gradient_descent_dw1_grows_as_p_pow_one_over_one_plus_chi(growth, chi, tolerance):
    # P = 256 ... 2048, 16 seeds. Measured: 0.252 [95% CI 0.218, 0.287] for chi = 3 and
    # 0.498 [0.436, 0.559] for chi = 1 (prediction 0.25, 0.5; at P = 2^8..2^12, 16 seeds:
    # 0.250 [0.233, 0.267] and 0.500 [0.471, 0.530]). The tolerance is ~2 standard errors
    # of the fitted exponent; the prediction must also lie in the 95% interval.
    exponent, low, high = growth_exponent(SIZES, growth(chi)["dw1"])
    predicted = predicted_exponents(chi)["gd_dw1_vs_P"]
    assert abs(exponent - predicted) < tolerance, (exponent, low, high)
    assert low < predicted < high, (exponent, low, high)


WIDE = [256, 512, 1024, 2048, 4096]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chi", "sizes", "n_seeds", "tolerance"),
    [(0.0, [128, 256, 512, 1024], 64, 0.05), (1.0, WIDE, 16, 0.03), (3.0, WIDE, 16, 0.03)],
)
def test_gradient_descent_dw1_exponent_is_one_over_one_plus_chi_to_the_stated_precision(
    chi, sizes, n_seeds, tolerance
):
    # The claim alpha dw_1^GD ~ P^(1/(1+chi)) to 0.03 (chi = 1, 3) and 0.05 (chi = 0).
    # Statistical tolerance: the fitted exponent's standard error is ~0.015 for chi = 1 and
    # ~0.009 for chi = 3 at P = 2^8..2^12 with 16 seeds (95% intervals [0.471, 0.530] and
    # [0.233, 0.267]), and ~0.045 for chi = 0 at P = 2^7..2^10 with 16 seeds, hence 64 seeds
    # there (~0.02; chi = 0 gradient flow needs ~P^2 steps, so P stays <= 2^10): each
    # tolerance is >= 2 standard errors. Measured: chi = 0, 64 seeds: 1.041 [95% CI 1.004,
    # 1.078], 2 standard errors above 1 (a finite-P bias at P >= 128 of this size is
    # allowed by the 0.05 precision the claim is made to, so the interval is not required
    # to contain 1).
    run = Runner(PerceptronConfig(d=16, P=max(sizes), B=None, budget=2_000_000, P_test=256))
    dw1 = gradient_descent(run, chi, sizes, seeds=np.arange(n_seeds))["dw1"]
    exponent, low, high = growth_exponent(sizes, dw1)
    predicted = predicted_exponents(chi)["gd_dw1_vs_P"]
    assert abs(exponent - predicted) < tolerance, (exponent, low, high)


def test_gradient_descent_test_error_decreases_with_p(growth):
    # chi = 1, P = 256 ... 2048, 16 seeds: the seed-mean test error of gradient descent
    # decreases with P, about as 1/P. Exponent of the seed means weighted by 1/SEM^2: measured
    # 0.937 [95% CI 0.594, 1.280]. Seed spread: fitted seed by seed the exponent has sd 0.236,
    # so the sd of the 16-seed estimate is ~0.059 and |b - 1| < 0.2 is a ~3.4 sd band, which
    # fails a test error falling as 1/sqrt(P) (b = 0.5) or as 1/P^1.5.
    te = growth(1.0)["test_error_theory"]
    mean, sem = te.mean(axis=1), te.std(axis=1, ddof=1) / np.sqrt(te.shape[1])
    assert np.all(np.diff(mean) < 0), mean
    result = fit.fit_power_law(np.array(SIZES, float), mean, sigma=sem, with_constant=False)
    assert abs(float(result.b) - 1.0) < 0.2, float(result.b)
