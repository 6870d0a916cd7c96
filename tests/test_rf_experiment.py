"""The `rf` experiment: axis validation and the data of its "more is better" panel."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import phase_diagram, rf
from experiments._experiment import Options


@pytest.mark.parametrize("spec", ["ridge=0,1", "n_features_over_n=-1,2"])
def test_non_positive_axis_values_exit_2_naming_the_axis(spec, capsys, tmp_path):
    argv = ["rf", "--quick", "--out", str(tmp_path), "--grid", spec]
    assert phase_diagram.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert spec.split("=")[0] in err and "must be > 0" in err and "\n" not in err


def test_more_is_better_panel_is_monotone_and_simulations_match_theory_at_the_optimum():
    # The quick task (d = 100, n = 50, lambda_i = v_i^2 = i^-1.5, noise 0.1), 16 seeds per point.
    options = Options(Path("unused"), seeds=16, chunk_size=256, resume=False, quick=True)
    with jax.enable_x64(True):
        more = rf.more_is_better(rf.task(True, 1), options)
    best = more["best_test_mse"].values  # (n, N): optimal test MSE over delta
    # Simon et al. (2023), Theorem 1: non-increasing in N and in n. optimal_ridge pins delta*
    # to ~1e-16 in log delta at a stationary point, so the optimum is ~1e-12 exact: 1e-10.
    assert np.all(np.diff(best, axis=1) <= 1e-10 * best[:, 1:])
    assert np.all(np.diff(best, axis=0) <= 1e-10 * best[1:])
    # N = infinity (kernel ridge regression) is below every finite N.
    assert np.all(more["best_test_mse_krr"].values[:, None] <= best * (1 + 1e-10))
    # Simulated seed means at delta*(N) agree with the theory: 5 points, 16 seeds each; |t| with
    # 15 degrees of freedom exceeds 3.5 with probability ~0.3%, and the theory's finite-size bias
    # at n = 50 is below one standard error (measured |gap| <= 1.06 SE with this key).
    gap = (more["sim_best_test_mse"] - more["sim_best_theory"]) / more["sim_best_test_mse_sem"]
    assert np.all(np.abs(gap.values) < 3.5), gap.values
