"""The vanishing_variance experiment at --quick: plain averaging keeps 1/n of the variance and
delays training at n = 32; the correction restores the variance and removes the delay."""

from __future__ import annotations

import numpy as np
import pytest
from quick_runs import run_quick

from experiments import vanishing_variance as experiment

pytestmark = pytest.mark.slow  # ~45 s CPU: three node counts, 4 seeds, 30 rounds


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_quick("vanishing_variance", tmp_path_factory.mktemp("vv"))  # 4 seeds


def test_plain_averaging_keeps_one_over_n_of_the_variance(result):
    # after one round (2 local SGD steps of lr 0.2 move the weights little) the averaged
    # independent Xavier layers keep Var/n: within 10% of 1/n at n = 2, 8, 32
    first = result["weight_variance"].isel(round=0).mean("seed")
    plain = first.sel(corrected=0.0)
    assert float(np.abs(plain * plain.n - 1).max()) < 0.1
    # the correction (authors' eps = 1e-4) restores most of it: (s + eps)/(s + n eps) > 0.7
    assert float(first.sel(corrected=1.0).min()) > 0.7


def test_plain_averaging_delays_training_at_n_32_and_the_correction_removes_it(result):
    extra, half = experiment.delay(result)
    by_n = dict(zip(result.n.values.tolist(), zip(extra, half, strict=True), strict=True))
    mean, width = by_n[32]
    # the delay at n = 32 is positive beyond its paired 95% interval, and larger than at n = 2
    assert mean - width > 0
    assert mean > by_n[2][0]
    # with the correction the rounds to target do not grow with n (within 3 rounds)
    corrected = result["rounds_to_target"].sel(corrected=1.0).mean("seed")
    assert float(corrected.sel(n=32) - corrected.sel(n=2)) < 3
