"""Prints the perceptron numbers quoted in docs/sgd_noise.md that no experiment prints.

    python docs/perceptron_numbers.py

Float64, d = 16, B = 16, alpha = 1 (only alpha T matters), keys fold_in(key(0), seed) as in
tests/perceptron (so the tests' measured values are these):
- c = ||dw_perp|| / (T sqrt(d)) at alpha T = 300: seed means at P = 128, 256, 512 (16 seeds),
  and the exponent of c ~ P^b fitted seed by seed (log c on log P) with the standard error of
  the mean slope, over P = 128..512 and, for chi = 1, 3, over P = 1024..4096;
- the cost of the noise: the closed-form test error at alpha T = 100 over that at
  alpha T = 0.03, at P = 128, 8 seeds.
"""

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from theorytk.perceptron import PerceptronConfig, simulate  # noqa: E402

SMALL = PerceptronConfig(d=16, P=512, B=16, budget=200_000, segment=256, P_test=4096)
LARGE = PerceptronConfig(d=16, P=4096, B=16, budget=200_000, segment=256, P_test=256)


def runner(config):
    @jax.jit
    @jax.vmap
    def run(T, P, chi, seed):
        key = jax.random.fold_in(jax.random.key(0), seed)
        return simulate({"alpha": 1.0, "T": T, "P": P, "chi": chi}, key, config=config)

    return run


RUN = {SMALL: runner(SMALL), LARGE: runner(LARGE)}


def metric(name, T, P, chi, seeds, config=SMALL):
    n = seeds.size
    out = RUN[config](np.full(n, T), np.full(n, float(P)), np.full(n, chi), seeds)
    assert np.all(np.asarray(out["status"]) == 0), out["status"]
    return np.asarray(out[name])


def c_slope(sizes, chi, config):
    """Seed-mean c per P and the mean (se) of the per-seed slopes of log c on log P."""
    seeds = np.arange(16)
    c = np.array([metric("dw_perp", 300.0, P, chi, seeds, config) / (300.0 * 4) for P in sizes])
    slopes = np.polyfit(np.log(sizes), np.log(c), 1)[0]
    means = ", ".join(f"{v:.3f}" for v in c.mean(axis=1))
    return means, slopes.mean(), slopes.std(ddof=1) / np.sqrt(slopes.size)


for chi in (0.0, 1.0, 3.0):
    means, b, se = c_slope([128, 256, 512], chi, SMALL)
    line = f"chi = {chi:g}: c(P = 128, 256, 512) = {means}; c ~ P^{b:.3f} (se {se:.3f})"
    if chi > 0:
        means, b, se = c_slope([1024, 2048, 4096], chi, LARGE)
        line += f"; c(P = 1024, 2048, 4096) = {means}; c ~ P^{b:.3f} (se {se:.3f})"
    eight = np.arange(8)
    noisy = metric("test_error_theory", 100.0, 128, chi, eight).mean()
    quiet = metric("test_error_theory", 0.03, 128, chi, eight).mean()
    print(f"{line}; test error at alpha T = 100 over alpha T = 0.03, P = 128: {noisy / quiet:.2f}")
