"""Compiled perceptron runs shared by the test modules (one compile per config per session).

Every call evaluates a batch of exactly N_POINTS points (inputs are broadcast and padded to
it), so the vmapped simulation is compiled once per config; alpha, T, P and chi are traced.
Point seeds map to keys fold_in(key(0), seed): the same seed gives the same data (nested
across P) and the same batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk.perceptron import PerceptronConfig, simulate

N_POINTS = 16

# SGD with B = 16 on up to 512 training points (P is a traced, padded parameter).
SGD_CONFIG = PerceptronConfig(d=16, P=512, B=16, budget=200_000, segment=256, P_test=4096)
# Full-batch gradient descent on up to 2048 training points.
GD_CONFIG = PerceptronConfig(d=16, P=2048, B=None, budget=2_000_000, segment=256, P_test=256)


class Runner:
    """`runner(alpha=, T=, P=, chi=, seed=)` -> dict of numpy metrics, one entry per point."""

    def __init__(self, config: PerceptronConfig):
        self.config = config

        def one(alpha, T, P, chi, seed):
            key = jax.random.fold_in(jax.random.key(0), seed)
            return simulate({"alpha": alpha, "T": T, "P": P, "chi": chi}, key, config=config)

        self._batch = jax.jit(jax.vmap(one))

    def __call__(self, *, alpha=1.0, T, P, chi=0.0, seed=0) -> dict[str, np.ndarray]:
        columns = np.broadcast_arrays(*(np.asarray(v) for v in (alpha, T, P, chi, seed)))
        n = columns[0].size
        assert n <= N_POINTS, f"at most {N_POINTS} points per call, got {n}"
        padded = [np.resize(c.ravel(), N_POINTS) for c in columns]  # pad by repetition
        floats = [jnp.asarray(c, jnp.float64) for c in padded[:4]]
        out = self._batch(*floats, jnp.asarray(padded[4], jnp.uint32))
        return {name: np.asarray(value)[:n] for name, value in out.items()}


@pytest.fixture(scope="session")
def sgd_run() -> Runner:
    return Runner(SGD_CONFIG)


@pytest.fixture(scope="session")
def gd_run() -> Runner:
    return Runner(GD_CONFIG)
