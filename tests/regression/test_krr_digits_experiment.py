"""The `krr_digits` experiment at --quick: the eigenframework tracks held-out KRR on digits."""

from __future__ import annotations

import numpy as np
import pytest
from quick_runs import run_quick

from theorytk import sweep


@pytest.mark.slow  # 1-3 min on 2 shared cores: two 1797 x 1797 eigensystems + compilations
def test_krr_digits_quick_theory_within_ten_percent_while_n_is_small(tmp_path):
    # docs/kernel_ridge.md: for n <= 256 (n/M <= 0.14 of the M = 1797 digits) the
    # pool-eigensystem theory tracks the held-out learning curve within ~10% (48-seed run:
    # +3..+12%, the simulation above the theory). Quick run: n = 16..256, 6 seeds, RBF and
    # ReLU NTK; the seed-mean relative SE is 4-6%, so the band is 10% + 3 SE (with 6 seeds
    # the SE itself scatters, t_5: |t_5| > 3 has probability 3% per point when the bias is
    # a full 10%, and the measured bias is 5-8%). Measured: rbf +16.1% +- 5.9% at n = 16
    # (the heavy-tailed small-n error), otherwise -1%..+10.5% with SE 3.9-5.3%.
    ds = run_quick("krr_digits", tmp_path)
    assert (ds["status"] == sweep.Status.OK).all()
    mean = sweep.seed_mean(ds)
    assert float(mean["n"].max()) == 256 and set(mean["kernel"].values) == {"rbf", "ntk"}
    theory = ds["theory_test_mse"]
    rel = (mean["test_mse"] / theory - 1).values
    se = (mean["test_mse_sem"] / theory).values
    assert np.all(np.abs(rel) <= 0.10 + 3 * se), (rel, se)
