"""The `scaling` and `lr_batch` experiments at --quick: what their outputs show."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from quick_runs import run_quick


@pytest.mark.slow
def test_scaling_experiment_finds_loss_falling_with_both_parameters_and_data(tmp_path):
    ds = run_quick("scaling", tmp_path)
    # Data exponent: measured beta = 0.279 [95% bootstrap 0.211, 0.514]; the bootstrap sd over
    # resampled cells is ~0.077 (interval width / 3.92), so (0.1, 0.55) is ~2.3 sd below and
    # 3.5 sd above the estimate (the interval is skewed up): loss falls with data, more slowly
    # than 1/D.
    assert 0.1 < ds.attrs["beta"] < 0.55, ds.attrs["beta"]
    assert ds.attrs["beta_ci95"][0] > 0.1, ds.attrs["beta_ci95"]
    # Parameter exponent: at --quick (four widths) alpha is not identified (E is driven to
    # its bound 0 and alpha trades off against A: 95% interval [0.29, 26]). The experiment
    # must say so rather than report it: either alpha's interval spans less than a factor 2,
    # or the run is flagged as not identified, naming the reason.
    low, high = ds.attrs["alpha_ci95"]
    if not (low > 0 and high < 2 * low):
        assert ds.attrs["identified"] == 0 and "alpha" in ds.attrs["not_identified"]
    # The fitted law describes the seed means: median relative residual below 10% (the seed
    # means of 3 seeds scatter by ~5-10% at small n, so a worse fit would be a wrong law).
    mean = ds["test_loss"].mean("seed")
    N, n = xr.broadcast(ds["N"], ds["n"])
    law = (
        ds.attrs["E"]
        + ds.attrs["A"] / N ** ds.attrs["alpha"]
        + ds.attrs["B"] / n ** ds.attrs["beta"]
    )
    assert float(np.abs(law / mean - 1).median()) < 0.1


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
