"""The dadao experiment at --quick: DADAO's gradient count is flat in sqrt(chi_1 chi_2) while
its communication count grows with it; gradient tracking's gradient count grows instead."""

from __future__ import annotations

import pytest
from quick_runs import run_quick

from experiments._experiment import power_law

pytestmark = pytest.mark.slow  # ~30 s CPU: 4 DADAO compilations and 2 refilled-lane sweeps


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return run_quick("dadao", tmp_path_factory.mktemp("dadao")).sel(n=16)  # 3 seeds


def test_dadao_gradient_count_does_not_depend_on_the_graph(table):
    # theory: n sqrt(L/mu) log(1/eps), the same on every graph. Over a 3.7x range of
    # sqrt(chi_1 chi_2) the fitted log-log slope must be within 0.25 of 0 (a count growing
    # like the communications would give ~1), and ring and complete within 30%.
    slope, low, high, _ = power_law(table["chi"].values, table["dadao_grads_to_tol"], None)
    assert abs(slope) < 0.25
    ring, complete = table.sel(graph="ring"), table.sel(graph="complete")
    assert 0.7 < float(ring.dadao_grads_to_tol / complete.dadao_grads_to_tol) < 1.3


def test_dadao_communications_grow_like_sqrt_chi1_chi2(table):
    # theory: slope 1 in sqrt(chi_1 chi_2) (the communication rate is sqrt(2 chi_1 chi_2) and
    # the time to eps does not depend on the graph); the 95% interval must overlap [0.8, 1.2]
    slope, low, high, _ = power_law(table["chi"].values, table["dadao_comms_to_tol"], None)
    assert low < 1.2 and high > 0.8 and 0.7 < slope < 1.3


def test_gradient_tracking_couples_gradients_to_the_graph(table):
    # GT at its best step needs rounds ~ 1/gap, each costing n gradients: the ring takes more
    # than 3x the complete graph's gradients, unlike DADAO
    ring, complete = table.sel(graph="ring"), table.sel(graph="complete")
    assert float(ring.gt_gradients / complete.gt_gradients) > 3
