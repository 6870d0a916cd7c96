"""The Chinchilla approach-3 fit, 4,500 starts: one vmapped optimistix solve vs a scipy loop.

    python benchmarks/scaling_fit.py [--points 250] [--subset 150]

Data: `--points` runs from L = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28 (Hoffmann et al. 2022),
N log-uniform in [7e7, 1.6e10], D in [5e9, 5e11], lognormal noise of 2%. Objective: the mean
Huber loss (delta 1e-3) of the log-sum-exp log-loss residuals, parameters (a, b, e, alpha,
beta) in log space, from the published 4,500-point grid of starts.

1. theorytk: `fit.fit_joint_law` (BFGS, all starts in one `jax.vmap`ped optimistix solve);
   timed after a warm-up call that compiles it (compile time printed separately).
2. what researchers run today: a Python loop of `scipy.optimize.minimize(method="L-BFGS-B")`
   with a jitted JAX `value_and_grad` of the same objective, one start at a time.

A full scipy loop over 4,500 starts takes tens of minutes on a shared 2-core machine, so
unless `--subset 4500` is given it runs on a fixed random subset of the starts (seed 0) and
the full-grid time is EXTRAPOLATED as subset time x 4500 / subset; the output says so.
Prints both times, the agreement of the best parameters, and the speed-up last.
"""

from __future__ import annotations

import argparse
import os
import time

# One OpenBLAS thread: scipy's L-BFGS-B calls BLAS on 5-vectors, and on a shared machine
# OpenBLAS's thread pool costs ~9 ms per call instead of ~30 us (measured), so this is the
# fast setting for the loop. It does not touch JAX, which uses its own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # agreement to 1e-6 needs float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402

from theorytk import fit  # noqa: E402

NAMES = ("a", "b", "e", "alpha", "beta")
TRUTH = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def chinchilla_like(m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m synthetic runs (N, D, loss) from the Chinchilla law with 2% lognormal noise."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), m))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), m))
    clean = TRUTH["E"] + TRUTH["A"] / N ** TRUTH["alpha"] + TRUTH["B"] / D ** TRUTH["beta"]
    return N, D, clean * np.exp(0.02 * rng.normal(size=m))


def vmapped(N: np.ndarray, D: np.ndarray, loss: np.ndarray) -> tuple[float, float, dict]:
    """(compile + first run time, run time, fit) of the 4,500-start vmapped fit."""
    start = time.perf_counter()
    jax.block_until_ready(fit.fit_joint_law(N, D, loss).alpha)
    first = time.perf_counter() - start
    start = time.perf_counter()
    result = fit.fit_joint_law(N, D, loss)
    jax.block_until_ready(result.alpha)
    return first, time.perf_counter() - start, result


def scipy_loop(
    N: np.ndarray, D: np.ndarray, loss: np.ndarray, starts: np.ndarray
) -> tuple[float, np.ndarray, float, float]:
    """(time, best parameters, best objective, mean evaluations) of L-BFGS-B from each start."""
    x = jnp.asarray(np.stack([np.log(N), np.log(D)], axis=1))
    log_y = jnp.asarray(np.log(loss))

    def objective(v: jax.Array) -> jax.Array:
        theta = dict(zip(NAMES, v, strict=True))
        r = fit.joint_log_law(theta, x) - log_y
        a = jnp.abs(r)
        delta = fit.HUBER_DELTA
        return jnp.mean(jnp.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))) / delta

    value_and_grad = jax.jit(jax.value_and_grad(objective))

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(v)
        return float(value), np.asarray(grad)

    fun(starts[0])  # compile
    options = dict(maxiter=500, ftol=1e-12, gtol=1e-8)  # about theorytk's 1e-8 tolerance
    start = time.perf_counter()
    runs = [
        scipy.optimize.minimize(fun, s, jac=True, method="L-BFGS-B", options=options)
        for s in starts
    ]
    elapsed = time.perf_counter() - start
    best = min(runs, key=lambda r: r.fun)
    evals = float(np.mean([r.nfev for r in runs]))
    return elapsed, best.x, float(best.fun), evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=250)
    parser.add_argument("--subset", type=int, default=150, help="scipy starts timed (<= 4500)")
    args = parser.parse_args()
    N, D, loss = chinchilla_like(args.points)
    grid = np.stack([fit.CHINCHILLA_STARTS[k] for k in NAMES], axis=1)
    n_starts = grid.shape[0]
    subset = min(args.subset, n_starts)
    chosen = np.sort(np.random.default_rng(0).choice(n_starts, subset, replace=False))

    first, t_vmap, result = vmapped(N, D, loss)
    ours = np.array([float(result.law.params[k]) for k in NAMES])
    print(f"{args.points} points, {n_starts} starts (Huber delta {fit.HUBER_DELTA}, LSE form)")
    print(f"theorytk vmapped BFGS    : {t_vmap:8.2f} s  (first call incl. compile {first:.2f} s)")
    print(
        f"  converged starts {float(result.converged_fraction):.1%}, best objective "
        f"{float(result.law.value):.12g}"
    )

    t_sub, ref, ref_value, iters = scipy_loop(N, D, loss, grid[chosen])
    t_scipy = t_sub * n_starts / subset
    label = "measured" if subset == n_starts else f"EXTRAPOLATED from {subset} random starts"
    print(
        f"scipy L-BFGS-B loop      : {t_sub:8.2f} s for {subset} starts "
        f"({1e3 * t_sub / subset:.1f} ms/start, {iters:.0f} evaluations/start on average)"
    )
    print(f"  full {n_starts}-start loop: {t_scipy:8.1f} s ({label})")
    print(f"  best objective {ref_value:.12g}")
    rel = np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-12))
    print(f"agreement of best (a, b, e, alpha, beta): max relative difference {rel:.2e}")
    print(f"fitted alpha = {float(result.alpha):.4f}, beta = {float(result.beta):.4f}")
    note = "" if subset == n_starts else " (scipy time extrapolated)"
    print(f"speed-up vmapped vs scipy loop{note}: {t_scipy / t_vmap:.1f}x")


if __name__ == "__main__":
    main()
