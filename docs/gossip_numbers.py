"""Prints the DADAO and token-SGD numbers quoted in docs/gossip.md that no experiment prints.

    python docs/gossip_numbers.py

Float64, with the setups of tests/gossip/gossip_setups.py that tests/gossip/test_dadao.py
and tests/gossip/test_srrw.py run. DADAO (8 nodes, d = 3, curvatures in [1, 4], the same
keys): the graph rates chi_1, chi_2 and lambda = sqrt(2 chi_1 chi_2) of the ring and the
complete graph; the mean squared distance to x* from x = 0 at T = 0, 100, 200, 300 and the
fitted log-linear rate on t in [100, 200]; the drift of alpha~ sum z + alpha sum z~ over 2000
events; the gradient and communication event rates over 400 runs on [0, 10]. Then the
reweighted token SGD (10 quadratics in d = 2 on the lollipop, degree target, alpha = 2,
20,000 steps, 16 walks): the mean distance of the final model to x* of (1/N) sum_i f_i, and
how far the optimum of sum_i mu_i f_i lies from it.
"""

import sys
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "gossip"))

from gossip_setups import (  # noqa: E402
    EVENT_HORIZON,
    EVENT_RUNS,
    TOKEN_WALKS,
    converge_from_zero,
    dadao_setup,
    event_counts,
    invariant_run,
    reweighted_token_sgd,
)

from theorytk import gossip  # noqa: E402

for graph in ("ring", "complete"):
    rates = gossip.graph_rates(dadao_setup(graph)[2])
    print(
        f"{graph}: chi_1 = {float(rates.chi_1):.2f}, chi_2 = {float(rates.chi_2):.2f}, "
        f"lambda = {float(rates.comm_rate):.2f}"
    )

for graph in ("ring", "complete"):
    # 300 (N + lambda) expected events at most 5,500 on these graphs: 8,000 is > 6 sd above.
    initial, _, traces, status = converge_from_zero(graph, horizon=300.0, events=8000)
    assert int(status) == 0, status
    t, err = np.asarray(traces["t"]), np.asarray(traces["error"])
    at = [initial] + [float(err[t <= horizon][-1]) for horizon in (100.0, 200.0, 300.0)]
    late = (t > 100) & (t <= 200)
    slope = np.polyfit(t[late], np.log(err[late]), 1)[0]
    print(
        f"{graph}: mean squared distance to x* at T = 0, 100, 200, 300 (last event before T): "
        + ", ".join(f"{v:.2g}" for v in at)
        + f"; least-squares slope of log error on t in [100, 200]: {slope:.3f}"
    )

start, c, traces, _ = invariant_run()
drift = np.abs(np.asarray(traces["invariant"]) - np.asarray(gossip.invariant(start, c))).max()
print(f"ring: largest drift of alpha~ sum z + alpha sum z~ over 2000 events: {drift:.1e}")

for scale in (1.0, 3.0):
    out, theory = event_counts(scale)
    for name in ("grad_rate", "comm_rate"):
        counts = np.asarray(out[name]) * EVENT_HORIZON
        rate = counts.mean() / EVENT_HORIZON
        se = counts.std(ddof=1) / np.sqrt(EVENT_RUNS) / EVENT_HORIZON
        print(
            f"ring, comm_scale {scale:g}: {name} {rate:.2f} +- {se:.2f} (expected "
            f"{float(theory[name]):.2f}), variance / mean of the counts "
            f"{counts.var(ddof=1) / counts.mean():.2f}"
        )

problem, mu, final = reweighted_token_sgd()
dist = np.linalg.norm(final - np.asarray(problem.optimum), axis=1)
a, c = (np.asarray(problem.data[k]) for k in ("a", "c"))
weights = np.asarray(mu)[:, None] * a
biased = (weights * c).sum(0) / weights.sum(0)  # argmin of sum_i mu_i f_i
print(
    f"lollipop, degree target: reweighted token SGD ends {dist.mean():.4f} from x* on average "
    f"({TOKEN_WALKS} walks); the optimum of sum_i mu_i f_i is "
    f"{np.linalg.norm(biased - np.asarray(problem.optimum)):.3f} away"
)
