"""Kernel ridge and random-feature regression on a synthetic data pool: the comparisons of
simulation and theory that the tests check and docs/kernel_ridge_numbers.py prints.

The tests import this module from their own folder (pytest puts it on the path); the script
puts tests/regression on the path first. Both run in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from theorytk import sweep
from theorytk.kernels import RBFKernel
from theorytk.regression import (
    KRRConfig,
    NonlinearRFConfig,
    gaussian_pool,
    krr_theory,
    nonlinear_rf_theory,
    simulate_krr,
    simulate_nonlinear_rf,
)


def target(x: jax.Array) -> jax.Array:
    """tanh(x_1 + x_2 / 2) + 0.3 x_3 x_4: its part outside the learned modes acts as noise."""
    return jnp.tanh(x[:, 0] + 0.5 * x[:, 1]) + 0.3 * x[:, 2] * x[:, 3]


# M = 1000 Gaussian points in d = 20 with the target's labels
POOL = gaussian_pool(jax.random.key(1), size=1000, d=20, target=target)


class Comparison(NamedTuple):
    """A model's simulation (`seeds` seeds, point keys from `key`) and theory on one grid."""

    simulate: Callable[..., dict]
    theory: Callable[..., dict]
    axes: dict[str, Any]
    config: Any
    seeds: int
    key: jax.Array


def compare(comparison: Comparison) -> tuple[xr.Dataset, xr.Dataset]:
    """Seed means and standard errors of the simulation (`sweep.seed_mean`), and the theory
    on the same grid."""
    simulate, theory, axes, config, seeds, key = comparison
    grid = sweep.Grid(**axes, seed=range(seeds))
    mean = sweep.seed_mean(sweep.run(simulate, grid, key=key, config=config, progress=False))
    pred = sweep.run(theory, sweep.Grid(**axes), config=config, progress=False)
    return mean, pred


def held_out_krr() -> Comparison:
    """RBF KRR (bandwidth 1) on n in {25, 100} training points drawn without replacement,
    error on the M - n held-out points, ridge in {0.01, 1}, 64 seeds, key 0."""
    return Comparison(
        simulate_krr,
        krr_theory,
        {"n": np.array([25.0, 100.0]), "ridge": np.array([1e-2, 1.0])},
        KRRConfig(pool=POOL, kernel=RBFKernel(1.0), n_max=100, holdout=True),
        64,
        jax.random.key(0),
    )


def noisy_krr() -> Comparison:
    """RBF KRR with label noise 0.3, n = 25 i.i.d. draws, error over the whole pool, ridge in
    {0.1, 3}, 64 seeds, key 2."""
    return Comparison(
        simulate_krr,
        krr_theory,
        {"n": np.array([25.0]), "ridge": np.array([0.1, 3.0])},
        KRRConfig(pool=POOL, kernel=RBFKernel(1.0), n_max=25, noise=0.3),
        64,
        jax.random.key(2),
    )


def nonlinear_rf(activation: str) -> Comparison:
    """Random features of `activation` on n = 100 i.i.d. draws, N in {50, 400}, ridge in
    {0.1, 1}, label noise 0.1, error over the pool, 48 seeds, key 0."""
    return Comparison(
        simulate_nonlinear_rf,
        nonlinear_rf_theory,
        {"n": [100.0], "n_features": [50.0, 400.0], "ridge": [0.1, 1.0]},
        NonlinearRFConfig(
            pool=POOL, activation=activation, n_max=100, n_features_max=400, noise=0.1
        ),
        48,
        jax.random.key(0),
    )
