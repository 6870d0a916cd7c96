"""Prints the theory-against-simulation numbers that docs/ridge.md quotes for
tests/regression/test_ridge.py.

    python docs/ridge_numbers.py

Runs the test's own comparison (`_comparison`: d = 200, 100 seeds, n/d in {0.2, 0.5, 1, 2,
5}, lam in {1e-4, 1e-2, 0.1, 10}, the power-law and the isotropic task, the same keys) and
prints, over the points the test keeps (gap >= 10), the largest |seed mean - theory| in
standard errors and as a fraction of the test's tolerance, per task and metric.
"""

import sys
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "regression"))

import test_ridge as t  # noqa: E402

for name in ("power_law", "isotropic"):
    sim, th, gap = t._comparison(name)
    kept = gap >= t.MIN_GAP
    for metric, allowance in t.ALLOWANCE.items():
        if metric == "weight_norm_sq":
            samples, predicted = sim["weight_norm"] ** 2, th["weight_norm"] ** 2
        else:
            samples, predicted = sim[metric], th[metric]
        sem = samples.std(axis=0, ddof=1) / np.sqrt(t.SEEDS)
        error = np.abs(samples.mean(axis=0) - predicted)
        tolerance = 4 * sem + allowance * np.abs(predicted) / gap
        print(
            f"{name}, {metric}: largest |mean - theory| {np.max((error / sem)[kept]):.2f} "
            f"standard errors, {np.max((error / tolerance)[kept]):.2f} of the tolerance "
            f"({int(kept.sum())} points)"
        )
