"""The `halpern` experiment at --quick: variance reduction wins where the theory says it should."""

from __future__ import annotations

import numpy as np
import pytest

from theorytk import sweep


@pytest.mark.slow
def test_halpern_quick_vr_wins_at_large_n_and_small_heterogeneity_only(tmp_path):
    from experiments import phase_diagram

    assert phase_diagram.main(["halpern", "--quick", "--out", str(tmp_path)]) == 0
    ds = sweep.load(tmp_path / "halpern.nc")
    ratio = ds["log10_ratio"]
    # Theory: gain ~ n / (2 sqrt n + 4 n / (sqrt n + 5)) / beta_avg, > 1.9 at n = 256 for
    # beta_avg ~ 1 (smallest h), < 1 at n = 16 and at the largest h (beta_avg >> 1).
    assert float(ratio.isel(n=-1, heterogeneity=0)) > 0  # VR-Halpern needs fewer epochs
    assert float(ratio.isel(n=0, heterogeneity=0)) < float(ratio.isel(n=-1, heterogeneity=0))
    largest_h = ratio.isel(heterogeneity=-1)
    assert np.all((largest_h < 0) | np.isnan(largest_h))  # loses or runs out of budget
    assert (tmp_path / "halpern_convergence.png").exists()
