"""Tests for the scaling-law figures in theorytk.plot._scaling_law."""

import jax
import numpy as np
import pytest

from theorytk import fit
from theorytk.plot import bootstrap_histograms, iso_loss_contours, loss_vs_compute

STARTS = fit.grid_starts(a=[5.0], b=[5.0], e=[0.0], alpha=[0.5], beta=[0.5])


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 40))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e11), 40))
    loss = (1.69 + 406.4 / N**0.34 + 410.7 / D**0.28) * np.exp(0.02 * rng.normal(size=40))
    result = fit.fit_joint_law(N, D, loss, starts=STARTS, n_bootstrap=40, key=jax.random.key(0))
    return result, N, D, loss


def test_scaling_law_figures_draw_frontier_band_and_one_histogram_per_parameter(fitted, tmp_path):
    result, N, D, loss = fitted
    fig = iso_loss_contours(result, N, D, loss=loss, path=tmp_path / "iso.png")
    ax = fig.axes[0]
    frontier = [line for line in ax.lines if line.get_label() == "compute-optimal"][0]
    n_opt, d_opt = frontier.get_data()
    # The frontier lies on C = 6 N D at the budgets it was drawn for: D_opt / N_opt follows
    # the fitted tokens-per-parameter law exactly.
    c = 6 * n_opt * d_opt
    expected = result.compute_optimal(c)["tokens_per_parameter"]["value"]
    np.testing.assert_allclose(d_opt / n_opt, expected, rtol=1e-10)
    fig = loss_vs_compute(result, N, D, loss, path=tmp_path / "c.png")
    assert any("bootstrap band" in str(t.get_text()) for t in fig.axes[0].get_legend().texts)
    fig = bootstrap_histograms(result, path=tmp_path / "h.png")
    assert sum(ax.get_visible() for ax in fig.axes) == 6
    assert all((tmp_path / name).stat().st_size > 0 for name in ("iso.png", "c.png", "h.png"))


def test_bootstrap_histograms_need_a_bootstrapped_fit_and_known_names(fitted):
    result = fitted[0]
    with pytest.raises(ValueError, match="unknown parameters"):
        bootstrap_histograms(result, names=("gamma",))
