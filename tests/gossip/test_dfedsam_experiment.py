"""The dfedsam experiment at --quick: the final consensus error follows the rate term."""

from __future__ import annotations

import numpy as np
import pytest
from quick_runs import run_quick

from experiments import dfedsam as experiment

pytestmark = pytest.mark.slow  # ~30 s CPU: 24 MLP runs of 15 rounds in one compilation


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_quick("dfedsam", tmp_path_factory.mktemp("dfedsam"))  # 2 seeds


def test_consensus_error_is_ranked_by_the_rate_term(result):
    # the paper's bound orders the graphs and Q only through (lambda^Q + 1)/(1 - lambda^Q)^2:
    # over the 12 (gap, Q) cells the rank correlation must be strong (> 0.9; an unrelated
    # ordering gives |rho| ~ 0.3 on 12 cells) and significant
    rho, p = experiment.rank_correlation(result)
    assert rho > 0.9 and p < 1e-3


def test_consensus_error_falls_with_q_on_every_graph(result):
    mean = result["consensus"].mean("seed")
    assert bool((mean.diff("Q") < 0).all())
    # and the log-log slope in the term is positive: a 10x larger term, a larger error
    slope = np.polyfit(
        np.log(result["theory_term"].values.ravel()), np.log(mean.values.ravel()), 1
    )[0]
    assert slope > 0.5


def test_the_average_model_learns(result):
    # 10 classes: chance test loss is log 10 = 2.30; every cell must have learned something
    assert float(result["test_loss"].mean("seed").max()) < 2.0
    assert float(result["accuracy"].mean("seed").min()) > 0.3
