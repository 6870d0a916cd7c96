"""The `scaling` and `lr_batch` experiments at --quick: what their outputs show."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from experiments import phase_diagram


def run_quick(name, monkeypatch, tmp_path) -> xr.Dataset:
    # Until the lead registers them, add the experiments to the CLI's table for this test only.
    monkeypatch.setitem(phase_diagram.EXPERIMENTS, name, f"experiments.{name}")
    assert phase_diagram.main([name, "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{name}.png").stat().st_size > 0
    return xr.load_dataset(tmp_path / f"{name}.nc")


@pytest.mark.slow
def test_scaling_experiment_finds_loss_falling_with_both_parameters_and_data(monkeypatch, tmp_path):
    ds = run_quick("scaling", monkeypatch, tmp_path)
    # Both exponents' 95% bootstrap intervals exclude 0: held-out loss falls as a power of the
    # parameter count and of the number of training examples.
    assert ds.attrs["alpha_ci95"][0] > 0 and ds.attrs["beta_ci95"][0] > 0
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
def test_lr_batch_experiment_finds_optimal_lr_growing_sublinearly_with_batch(monkeypatch, tmp_path):
    ds = run_quick("lr_batch", monkeypatch, tmp_path)
    low, high = ds.attrs["gamma_ci95"]
    # lr_opt grows with B (interval above 0) and at most linearly: the linear scaling rule
    # (constant T = lr/B, gamma = 1) is the noise-dominated limit, and larger batches leave it
    # for gamma < 1 (McCandlish et al. 2018), so the interval must reach below 1.
    assert low > 0 and low < 1
