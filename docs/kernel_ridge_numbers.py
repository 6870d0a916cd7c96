"""Prints the agreement numbers of docs/kernel_ridge.md's synthetic-pool table.

    python docs/kernel_ridge_numbers.py

Float64, the settings and keys of tests/regression/test_kernel_ridge.py and
test_nonlinear_rf.py: M = 1000 Gaussian points in d = 20, target
tanh(x_1 + x_2/2) + 0.3 x_3 x_4. For each row, the largest |simulation / theory - 1| of the
seed-mean test and train MSE over the row's grid, beside the largest standard error
relative to the theory.
"""

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from theorytk import sweep  # noqa: E402
from theorytk.kernels import RBFKernel  # noqa: E402
from theorytk.regression import (  # noqa: E402
    KRRConfig,
    NonlinearRFConfig,
    gaussian_pool,
    krr_theory,
    nonlinear_rf_theory,
    simulate_krr,
    simulate_nonlinear_rf,
)


def target(x):
    return jnp.tanh(x[:, 0] + 0.5 * x[:, 1]) + 0.3 * x[:, 2] * x[:, 3]


POOL = gaussian_pool(jax.random.key(1), size=1000, d=20, target=target)


def row(name, simulate, theory, axes, config, seeds, key, metrics):
    runs = sweep.run(
        simulate, sweep.Grid(**axes, seed=range(seeds)), key=key, config=config, progress=False
    )
    mean = sweep.seed_mean(runs)
    pred = sweep.run(theory, sweep.Grid(**axes), config=config, progress=False)
    parts = []
    for metric in metrics:
        rel = float(np.abs(mean[metric] / pred[metric] - 1).max())
        se = float((mean[f"{metric}_sem"] / pred[metric]).max())
        parts.append(f"{metric} within {100 * rel:.1f}% (SE up to {100 * se:.1f}%)")
    print(f"{name} ({seeds} seeds): " + ", ".join(parts))


row(
    "KRR (RBF), held-out, n in {25, 100}, delta in {0.01, 1}",
    simulate_krr,
    krr_theory,
    {"n": np.array([25.0, 100.0]), "ridge": np.array([1e-2, 1.0])},
    KRRConfig(pool=POOL, kernel=RBFKernel(1.0), n_max=100, holdout=True),
    64,
    jax.random.key(0),
    ("test_mse", "train_mse"),
)
row(
    "KRR with label noise 0.3, n = 25, delta in {0.1, 3}",
    simulate_krr,
    krr_theory,
    {"n": np.array([25.0]), "ridge": np.array([0.1, 3.0])},
    KRRConfig(pool=POOL, kernel=RBFKernel(1.0), n_max=25, noise=0.3),
    64,
    jax.random.key(2),
    ("test_mse",),
)
for activation in ("relu", "erf"):
    row(
        f"{activation} RF, n = 100, N in {{50, 400}}, delta in {{0.1, 1}}, noise 0.1",
        simulate_nonlinear_rf,
        nonlinear_rf_theory,
        {"n": [100.0], "n_features": [50.0, 400.0], "ridge": [0.1, 1.0]},
        NonlinearRFConfig(
            pool=POOL, activation=activation, n_max=100, n_features_max=400, noise=0.1
        ),
        48,
        jax.random.key(0),
        ("test_mse", "train_mse"),
    )
