"""Prints the perceptron numbers quoted in docs/sgd_noise.md that no experiment prints.

    python docs/perceptron_numbers.py

Float64, d = 16, B = 16, alpha = 1 (only alpha T matters), 8 seeds with keys
fold_in(key(0), seed) as in tests/perceptron (so the tests' measured values are these):
c = ||dw_perp|| / (T sqrt(d)) at alpha T = 300 for P = 128 and 512, and the cost of the
noise, the closed-form test error at alpha T = 100 over that at alpha T = 0.03, at P = 128.
"""

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from theorytk.perceptron import PerceptronConfig, simulate  # noqa: E402

CONFIG = PerceptronConfig(d=16, P=512, B=16, budget=200_000, segment=256, P_test=4096)
SEEDS = np.arange(8)


@jax.jit
@jax.vmap
def run(T, P, chi, seed):
    key = jax.random.fold_in(jax.random.key(0), seed)
    return simulate({"alpha": 1.0, "T": T, "P": P, "chi": chi}, key, config=CONFIG)


def metric(name, T, P, chi):
    n = SEEDS.size
    out = run(np.full(n, T), np.full(n, float(P)), np.full(n, chi), SEEDS)
    assert np.all(np.asarray(out["status"]) == 0), out["status"]
    return np.asarray(out[name])


def mean_se(values):
    return f"{values.mean():.3f} +- {values.std(ddof=1) / np.sqrt(values.size):.3f}"


for chi in (0.0, 1.0, 3.0):
    c = {P: metric("dw_perp", 300.0, P, chi) / (300.0 * np.sqrt(16)) for P in (128, 512)}
    slope = np.log(c[512].mean() / c[128].mean()) / np.log(4)
    noisy = metric("test_error_theory", 100.0, 128, chi).mean()
    quiet = metric("test_error_theory", 0.03, 128, chi).mean()
    print(
        f"chi = {chi:g}: c(P = 128) = {mean_se(c[128])}, c(P = 512) = {mean_se(c[512])} "
        f"(c ~ P^{slope:.2f}); test error at alpha T = 100 over alpha T = 0.03, P = 128: "
        f"{noisy / quiet:.2f}"
    )
