"""The `scaling` and `lr_batch` experiments: what their outputs show, at --quick and default."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from quick_runs import run_default, run_quick

# docs/scaling.md, `python -m experiments.phase_diagram scaling` (8 seeds, 56 cells):
# alpha = 0.558 [95% bootstrap 0.462, 0.790], beta = 0.629 [0.467, 0.748], E fixed at 0.
DOCS_ALPHA = (0.558, 0.462, 0.790)
DOCS_BETA = (0.629, 0.467, 0.748)


def median_relative_residual(ds: xr.Dataset) -> float:
    """Median over cells of |law / seed mean - 1| for the saved fit."""
    mean = ds["test_loss"].mean("seed")
    N, n = xr.broadcast(ds["N"], ds["n"])
    a = ds.attrs
    law = a["E"] + a["A"] / N ** a["alpha"] + a["B"] / n ** a["beta"]
    return float(np.abs(law / mean - 1).median())


@pytest.mark.slow
def test_scaling_quick_finds_loss_falling_with_parameters_and_data_and_flags_it(tmp_path):
    ds = run_quick("scaling", tmp_path)
    assert ds.attrs["E"] == 0.0 and list(ds.attrs["E_ci95"]) == [0.0, 0.0]  # the stated prior
    # Measured at --quick (20 cells, 3 seeds): alpha = 1.14 [0.28, 1.58], beta = 0.33
    # [0.28, 0.84]. Loss falls with both N and D: each 95% interval lies above 0.1 (both
    # lower ends measured at 0.28). The quick intervals must also contain the default run's
    # estimates (docs), or the two runs disagree about the same law.
    for name, docs in (("alpha", DOCS_ALPHA), ("beta", DOCS_BETA)):
        low, high = ds.attrs[f"{name}_ci95"]
        assert low > 0.1 and low <= docs[0] <= high, (name, low, high)
    # At this size neither exponent is identified to a factor 2, and the run must say so.
    for name in ("alpha", "beta"):
        low, high = ds.attrs[f"{name}_ci95"]
        if high >= 2 * low:
            assert ds.attrs["identified"] == 0 and name in ds.attrs["not_identified"]
    # The fitted law describes the seed means: measured median relative residual 3.9%,
    # against a median seed standard error of 3.6% (3 seeds); 10% is ~3 standard errors.
    assert median_relative_residual(ds) < 0.1


@pytest.mark.slow
def test_scaling_default_identifies_both_exponents_to_a_factor_two(tmp_path):
    ds = run_default("scaling", tmp_path)
    assert ds.sizes["seed"] == 8 and ds.sizes["width"] == 7 and ds.sizes["n"] == 8
    # The claim on docs/scaling.md: each exponent's 95% bootstrap interval spans less than a
    # factor 2 (measured 1.71 for alpha, 1.60 for beta), and the run says it is identified.
    assert ds.attrs["identified"] == 1, ds.attrs["not_identified"]
    for name, docs in (("alpha", DOCS_ALPHA), ("beta", DOCS_BETA)):
        low, high = ds.attrs[f"{name}_ci95"]
        assert 0 < low and high < 2 * low, (name, low, high)
        # Same command, same keys: the estimate lies in the documented interval and the
        # documented estimate in this run's interval (a platform's rounding may move the
        # estimate, not by a bootstrap interval).
        assert docs[1] <= ds.attrs[name] <= docs[2] and low <= docs[0] <= high, (name, low, high)
    # Measured median relative residual 7.1% against a median seed standard error of 3.1%:
    # the separable law misfits systematically (docs), but by less than 10% at the median.
    assert median_relative_residual(ds) < 0.1


@pytest.mark.slow
def test_lr_batch_experiment_finds_optimal_lr_growing_sublinearly_with_batch(tmp_path):
    ds = run_quick("lr_batch", tmp_path)
    low, high = ds.attrs["gamma_ci95"]
    # lr_opt grows with B and sublinearly: the linear scaling rule (constant T = lr/B,
    # gamma = 1) is the noise-dominated limit, and larger batches leave it for gamma < 1
    # (McCandlish et al. 2018). Measured (log-space fit of the seed-mean optima): 0.716
    # [95% CI 0.439, 0.992], standard error 0.087 from the scatter of the 5 optima about the
    # line; (0.4, 1.0) is a band of -3.6 / +3.3 standard errors, which fails gamma = 0 (no
    # dependence on B), the linear rule gamma = 1 as a point estimate, and anything steeper.
    gamma = ds.attrs["gamma"]
    assert ds.attrs["gamma_estimator"] == "log-space LS"
    assert 0.4 < gamma < 1.0 and low > 0.1, (gamma, low, high)


@pytest.mark.slow
def test_lr_batch_default_bends_from_the_linear_rule_to_flat(tmp_path):
    ds = run_default("lr_batch", tmp_path)
    # docs/scaling.md, the default run (7 batch sizes 4 ... 256): log lr_opt quadratic in
    # log B (least squares, 95% Student-t intervals, 4 degrees of freedom) gives the local
    # gamma 1.31 [0.93, 1.70] at B = 4, 0.06 [-0.32, 0.45] at B = 256, curvature -0.30
    # [-0.48, -0.12] from the command line (float32); under the tests' float64 the optima
    # move by up to 20% and the same fit gives 1.39 [1.19, 1.60], -0.05 [-0.26, 0.15] and
    # -0.35 [-0.44, -0.26]. The claims both runs support: the curve bends (curvature
    # interval below 0); at the smallest batch lr_opt grows at least as fast as the linear
    # scaling rule (the interval reaches 1), at the largest it grows slower (below 1); the
    # two local exponents' intervals do not overlap.
    small = ds.attrs["gamma_at_smallest_B"]
    large = ds.attrs["gamma_at_largest_B"]
    curvature = ds.attrs["gamma_curvature"]
    assert curvature[2] < 0, curvature
    assert small[2] >= 1.0 > large[2], (small, large)
    assert small[1] > large[2], (small, large)
