"""The srrw experiment at --quick: the variance ratio follows the theory curve, falls ~ 1/alpha."""

from __future__ import annotations

import numpy as np
import pytest
from quick_runs import run_quick

from experiments import srrw as experiment

pytestmark = pytest.mark.slow  # ~1 min: 200 walks x 4 alphas x 2 graphs x (walk, token SGD)


@pytest.fixture(scope="module")
def ratios(tmp_path_factory):
    return experiment.relative(run_quick("srrw", tmp_path_factory.mktemp("srrw")))  # 200 walks


def test_simulated_variance_ratio_matches_the_theory_curve(ratios):
    # 200 walks per alpha: the ratio's 95% delta-method half-width is ~25%; the lollipop at
    # n = 20000 sits within 2% of its limit (docs/gossip.md), so
    # each ratio must lie within 1.5 half-widths of the theory value.
    sim, half, theory = ratios["scaled_error"], ratios["scaled_error_ci"], ratios["theory"]
    assert float((np.abs(sim - theory) / half).max()) < 1.5


def test_variance_falls_like_one_over_alpha(ratios):
    # theory: sigma^2(alpha) ~ C / alpha for large alpha, so alpha * ratio stays O(1) from 5 to 20
    # while the ratio itself falls by more than 10x; the simulated ratios must show both.
    sim = ratios["scaled_error"]
    assert float(sim.sel(alpha=20.0).max()) < 0.1
    scaled = sim.sel(alpha=[5.0, 20.0]) * sim.alpha.sel(alpha=[5.0, 20.0])
    assert float((scaled.isel(alpha=1) / scaled.isel(alpha=0)).max()) < 2.5


def test_token_sgd_error_falls_with_alpha(ratios):
    token, half = ratios["token_error"], ratios["token_error_ci"]
    # alpha = 20 against alpha = 0 on both graphs: below 1/5, beyond its 95% interval
    assert float((token.sel(alpha=20.0) + half.sel(alpha=20.0)).max()) < 0.2
    assert bool((token.diff("alpha") < 0).all())
