"""The `ntk_depth` experiment at --quick: deep NTK classifiers reach their predicted limits."""

from __future__ import annotations

import numpy as np
import pytest
from quick_runs import run_quick

POINT = 1 / 400  # one of the quick run's 400 test points


@pytest.mark.slow  # 1-3 min on 2 shared cores (4 families, depths to 1024, 2 seeds)
def test_ntk_depth_quick_classifiers_reach_their_infinite_depth_limits(tmp_path):
    # docs/ntk.md: erf reaches its singular-kernel limit by L = 1024 (error equal to the
    # limit's), the alpha = 2 activation its singular-kernel limit by L = 256, the h2/h3
    # mixture 1-NN within a few layers, and relu drifts towards majority vote only
    # algebraically (its input dependence decays like 1/L). Quick run: 60 training and 400
    # test points, 2 draws of the data (seeds), the same data for every family; the errors
    # are deterministic given the fixed keys, the seeds only change the data.
    ds = run_quick("ntk_depth", tmp_path)
    error, limit = ds["error"], ds["limit_error"]
    # Measured per seed, |error - limit error| at the family's deepest depth, in test points:
    # erf 0, 0 (L = 1024); singular 0, 0 (L = 256); nearest 2, 0 (L = 8). Asserted: at most 1
    # test point for the two singular kernels (the docs: equal) and 4 (1%) for 1-NN.
    for family, points in (("erf", 1), ("singular", 1), ("nearest", 4)):
        at = error.sel(family=family).dropna("depth", how="all")
        gap = np.abs(at - limit.sel(family=family)).isel(depth=-1).values
        assert np.all(gap <= points * POINT + 1e-9), (family, gap)
    # Depth matters: erf at L = 1 is 0.32 from its limit in seed 0 (measured), asserted
    # > 0.2, so a recursion that does not move with depth fails. (Not checked for the two
    # polynomial activations: at L = 1-2 their kernel is a low-degree polynomial whose
    # 60 x 60 Gram is rank-deficient (measured rank at L = 1: 16 for the h2/h3 mixture, 10
    # for h1/h3; 52-53 at L = 2), so their shallow errors depend on rounding.)
    erf_1 = np.abs(error.sel(family="erf", depth=1) - limit.sel(family="erf"))
    assert float(erf_1.max()) > 0.2, erf_1.values
    # relu: the error moves from the shallow network's towards majority vote's. Measured gap
    # to the limit 0.30, 0.29 at L = 1 and 0.065, 0.005 at L = 1024 (78% and 98% of the way);
    # asserted: more than half way in every seed.
    relu = np.abs(error.sel(family="relu") - limit.sel(family="relu"))
    assert np.all(relu.isel(depth=-1) < 0.5 * relu.sel(depth=1)), relu.values
