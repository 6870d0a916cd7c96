"""Prints the agreement numbers of docs/kernel_ridge.md's synthetic-pool table.

    python docs/kernel_ridge_numbers.py

Float64, the comparisons of tests/regression/pool_setups.py that
tests/regression/test_kernel_ridge.py and test_nonlinear_rf.py check: M = 1000 Gaussian
points in d = 20, target tanh(x_1 + x_2/2) + 0.3 x_3 x_4. For each row, the largest
|simulation / theory - 1| of the seed-mean test and train MSE over the row's grid, beside the
largest standard error relative to the theory.
"""

import sys
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "regression"))

from pool_setups import compare, held_out_krr, noisy_krr, nonlinear_rf  # noqa: E402


def row(name, comparison, metrics):
    mean, pred = compare(comparison)
    parts = []
    for metric in metrics:
        rel = float(np.abs(mean[metric] / pred[metric] - 1).max())
        se = float((mean[f"{metric}_sem"] / pred[metric]).max())
        parts.append(f"{metric} within {100 * rel:.1f}% (SE up to {100 * se:.1f}%)")
    print(f"{name} ({comparison.seeds} seeds): " + ", ".join(parts))


row(
    "KRR (RBF), held-out, n in {25, 100}, delta in {0.01, 1}",
    held_out_krr(),
    ("test_mse", "train_mse"),
)
row("KRR with label noise 0.3, n = 25, delta in {0.1, 3}", noisy_krr(), ("test_mse",))
for activation in ("relu", "erf"):
    row(
        f"{activation} RF, n = 100, N in {{50, 400}}, delta in {{0.1, 1}}, noise 0.1",
        nonlinear_rf(activation),
        ("test_mse", "train_mse"),
    )
