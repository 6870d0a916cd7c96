"""The Chinchilla approach-3 fit, 4,500 starts: vmapped optimistix solves vs a scipy loop.

    python benchmarks/scaling_fit.py [--points 250] [--subset 4500] [--pools 128 256 512]
    python benchmarks/scaling_fit.py --profile

Data: `--points` runs from L = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28 (Hoffmann et al. 2022),
N log-uniform in [7e7, 1.6e10], D in [5e9, 5e11], lognormal noise of 2%. Objective: the mean
Huber loss (delta 1e-3) of the log-sum-exp log-loss residuals, parameters (a, b, e, alpha,
beta) in log space, from the published 4,500-point grid of starts.

1. theorytk, three ways of running the 4,500 BFGS starts, side by side (each timed after a
   warm-up call that compiles it; median wall and CPU time of the process over 3 calls):
   a. one vmapped `optx.minimise` of all starts (`fit_joint_law(..., pool_size=None)`): every
      lane steps until the slowest start stops;
   b. `jax.lax.map(..., batch_size=500)` over that vmapped solve: each batch stops at its own
      slowest start;
   c. the refilled pool of `fit_joint_law(..., pool_size=p)` for each p in `--pools`: a lane
      whose start stopped takes the next start. The default `pool_size` is the headline.
2. what researchers run today: a Python loop of `scipy.optimize.minimize(method="L-BFGS-B")`
   with a jitted JAX `value_and_grad` of the same objective, one start at a time.

The scipy loop runs all 4,500 starts by default (about 100 s on a quiet 2-core machine).
`--subset k` runs it on a fixed random subset of k starts (seed 0) instead, and the
full-grid time is then EXTRAPOLATED as subset time x 4500 / k; the output says so.
Prints the times, the agreement of the best parameters, and the speed-up last.

`--profile` instead prints where the default pool's CPU time goes: the pool's CPU time per
start-step, next to the same pool with the parameters as a pytree of 5 scalars (not raveled
into a vector) and with `jax.scipy.special.logsumexp` (three exponentials a point instead of
two), least of three interleaved runs each; the objective's `value_and_grad` alone over a
pool of lanes, with those three exponentials, with exp and log replaced by affine maps (what
is left without them), and with the runs padded to a multiple of 8 (zero weights); and
XLA's float64 exp and log against NumPy's on the same numbers.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

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
from theorytk.fit._multistart import (  # noqa: E402
    POOL_SIZE,
    Problem,
    Solves,
    _pooled_minimise,
    best,
    solve_one,
    solve_starts,
)

NAMES = ("a", "b", "e", "alpha", "beta")
REPEATS = 3  # timed calls of each theorytk variant after its compiling call; medians shown
TRUTH = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def chinchilla_like(m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m synthetic runs (N, D, loss) from the Chinchilla law with 2% lognormal noise."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), m))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), m))
    clean = TRUTH["E"] + TRUTH["A"] / N ** TRUTH["alpha"] + TRUTH["B"] / D ** TRUTH["beta"]
    return N, D, clean * np.exp(0.02 * rng.normal(size=m))


def timed(run: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, float, float, Any]:
    """(first call incl. compile, median wall and CPU seconds of `repeats` more calls, output)."""
    start = time.perf_counter()
    jax.block_until_ready(run())
    first = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(run())
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return first, float(np.median(walls)), float(np.median(cpus)), out


def fitted(N: np.ndarray, D: np.ndarray, loss: np.ndarray, pool_size: int | None) -> Callable:
    """The theorytk fit with `pool_size` lanes (None: one vmapped solve of all starts)."""
    return lambda: fit.fit_joint_law(N, D, loss, pool_size=pool_size)


def batched(N: np.ndarray, D: np.ndarray, loss: np.ndarray, batch: int) -> Callable:
    """`lax.map` over batches of `batch` starts, each batch one vmapped solve: best of all."""
    problem = Problem(law=fit.joint_log_law, law_is_log=True, objective="huber_log")
    x = jnp.asarray(np.stack([np.log(N), np.log(D)], axis=1))
    args = ((x, jnp.asarray(loss)), jnp.ones(loss.shape))
    starts = {k: jnp.asarray(v) for k, v in fit.CHINCHILLA_STARTS.items()}

    @jax.jit
    def run() -> tuple:
        def one(theta0: dict) -> tuple:
            return solve_one(problem, "bfgs", theta0, args, 300)

        theta, value, result, steps = jax.lax.map(one, starts, batch_size=batch)
        theta, value, _, fraction = best(Solves(theta, value, result, steps))
        return theta, value, fraction

    return run


def scipy_loop(
    N: np.ndarray, D: np.ndarray, loss: np.ndarray, starts: np.ndarray
) -> tuple[float, float, np.ndarray, float, float]:
    """(wall, CPU, best parameters, best objective, mean evaluations) of L-BFGS-B per start."""
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
    start, cpu = time.perf_counter(), time.process_time()
    runs = [
        scipy.optimize.minimize(fun, s, jac=True, method="L-BFGS-B", options=options)
        for s in starts
    ]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    winner = min(runs, key=lambda r: r.fun)
    evals = float(np.mean([r.nfev for r in runs]))
    return elapsed, cpu, winner.x, float(winner.fun), evals


def per_call(fn: Callable, *inputs: Any, repeats: int = 200) -> float:
    """CPU seconds per call of a compiled `fn` (after a warm-up call)."""
    jax.block_until_ready(fn(*inputs))
    cpu = time.process_time()
    for _ in range(repeats):
        out = fn(*inputs)
    jax.block_until_ready(out)
    return (time.process_time() - cpu) / repeats


def affine_log_law(theta: dict, x: jax.Array) -> jax.Array:
    """`fit.joint_log_law` with exp and log replaced by affine maps: the same array work."""
    t1 = theta["a"] - theta["alpha"] * x[:, 0]
    t2 = theta["b"] - theta["beta"] * x[:, 1]
    t3 = jnp.broadcast_to(theta["e"], t1.shape)
    first = (t1 >= t2) & (t1 >= t3)
    third = ~first & (t3 > t2)
    top = jnp.where(first, t1, jnp.where(third, t3, t2))
    u, v = jnp.where(first, t2, t1), jnp.where(third, t2, t3)
    return top + 0.3 * (1.0 + (1.0 + 0.5 * (u - top)) + (1.0 + 0.5 * (v - top)))


def three_exp_log_law(theta: dict, x: jax.Array) -> jax.Array:
    """`fit.joint_log_law` through `jax.scipy.special.logsumexp`: three exponentials a point."""
    terms = jnp.stack(
        [
            theta["a"] - theta["alpha"] * x[:, 0],
            theta["b"] - theta["beta"] * x[:, 1],
            jnp.broadcast_to(theta["e"], x[:, 0].shape),
        ]
    )
    return jax.scipy.special.logsumexp(terms, axis=0)


def profile(N: np.ndarray, D: np.ndarray, loss: np.ndarray) -> None:
    """Where the default pool's CPU time goes (--profile)."""
    x = jnp.asarray(np.stack([np.log(N), np.log(D)], axis=1))
    args = ((x, jnp.asarray(loss)), jnp.ones(loss.shape))
    starts = {k: jnp.asarray(v) for k, v in fit.CHINCHILLA_STARTS.items()}
    problem = Problem(law=fit.joint_log_law, law_is_log=True, objective="huber_log")
    three_exp = Problem(law=three_exp_log_law, law_is_log=True, objective="huber_log")
    pools = {
        "default pool": lambda s: solve_starts(problem, "bfgs", s, args, 300, POOL_SIZE).steps,
        "  parameters as a pytree of 5 scalars": lambda s: _pooled_minimise(
            problem, "bfgs", s, args, 300, POOL_SIZE
        )[2],
        "  jax.scipy.special.logsumexp (3 exp, XLA log)": lambda s: (
            solve_starts(three_exp, "bfgs", s, args, 300, POOL_SIZE).steps
        ),
    }
    compiled = {label: jax.jit(pool) for label, pool in pools.items()}
    for label, pool in compiled.items():
        start, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(pool(starts))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"{label}: compile + first call {wall:.1f} s wall, {cpu:.1f} s CPU")
    cpu: dict[str, list[float]] = {label: [] for label in compiled}
    steps: dict[str, int] = {}
    for _ in range(3):  # interleaved repeats; the least CPU time of each is kept
        for label, pool in compiled.items():
            start = time.process_time()
            steps[label] = int(np.sum(jax.block_until_ready(pool(starts))))
            cpu[label].append(time.process_time() - start)
    for label in compiled:
        least = min(cpu[label])
        print(
            f"{label}: {least:.2f} s CPU for {steps[label]:,} steps: "
            f"{1e6 * least / steps[label]:.2f} us/step"
        )
    out_of_steps(problem, args, solve_starts(problem, "bfgs", starts, args, 300, POOL_SIZE))
    lanes = {k: v[:POOL_SIZE] for k, v in starts.items()}
    padded = -(-len(loss) // 8) * 8  # repeat the last run with weight 0
    index = np.minimum(np.arange(padded), len(loss) - 1)
    weights = jnp.asarray((np.arange(padded) < len(loss)).astype(float))
    padded_args = ((x[index], jnp.asarray(loss)[index]), weights)
    for label, law, data in (
        ("", fit.joint_log_law, args),
        (", jax.scipy.special.logsumexp (3 exp, XLA log)", three_exp_log_law, args),
        (", exp and log made affine", affine_log_law, args),
        (f", {padded} points ({padded - len(loss)} of weight 0)", fit.joint_log_law, padded_args),
    ):
        objective = Problem(law=law, law_is_log=True, objective="huber_log").value
        both = jax.jit(jax.vmap(jax.value_and_grad(objective), in_axes=(0, None)))
        seconds = per_call(both, lanes, data) / POOL_SIZE
        print(f"objective value_and_grad per lane{label}: {1e6 * seconds:.2f} us")
    numbers = np.random.default_rng(0).uniform(-50.0, 50.0, (POOL_SIZE, len(loss)))
    numpy = per_call(np.exp, numbers) / numbers.size
    flat = per_call(jax.jit(jnp.exp), jnp.asarray(numbers.ravel())) / numbers.size
    xla = per_call(jax.jit(jnp.exp), jnp.asarray(numbers)) / numbers.size
    print(
        f"float64 exp per number: NumPy {1e9 * numpy:.2f} ns; XLA {1e9 * flat:.2f} ns on a "
        f"flat array, {1e9 * xla:.2f} ns on the pool's (lanes, points) = {numbers.shape}"
    )
    positive = np.abs(numbers) + 1.0
    numpy_log = per_call(np.log, positive) / numbers.size
    xla_log = per_call(jax.jit(jnp.log), jnp.asarray(positive)) / numbers.size
    print(f"float64 log per number: NumPy {1e9 * numpy_log:.2f} ns; XLA {1e9 * xla_log:.2f} ns")
    print(f"XLA's float64 exp in the pool's layout over NumPy's: {xla / numpy:.1f}x")


def out_of_steps(problem: Problem, args: Any, solves: Solves) -> None:
    """How many starts used the whole budget, their share of the steps, and their gradients."""
    steps = np.asarray(solves.steps)
    spent = steps == steps.max()
    gradient = jax.vmap(jax.grad(problem.value), in_axes=(0, None))(solves.theta, args)
    largest = np.max(np.abs(np.stack([np.asarray(gradient[k]) for k in NAMES])), axis=0)[spent]
    print(
        f"starts that used all {steps.max()} steps: {spent.sum():,} of {steps.size:,} "
        f"({spent.mean():.1%}), {steps[spent].sum() / steps.sum():.0%} of all steps; at their "
        f"end max |gradient| <= 1e-10 for {np.mean(largest <= 1e-10):.0%} of them"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=250)
    parser.add_argument("--subset", type=int, default=4500, help="scipy starts timed (<= 4500)")
    parser.add_argument("--pools", type=int, nargs="*", default=[128, 256, 512])
    parser.add_argument("--profile", action="store_true", help="where the pool's time goes")
    args = parser.parse_args()
    N, D, loss = chinchilla_like(args.points)
    if args.profile:
        profile(N, D, loss)
        return
    grid = np.stack([fit.CHINCHILLA_STARTS[k] for k in NAMES], axis=1)
    n_starts = grid.shape[0]
    print(f"{args.points} points, {n_starts} starts (Huber delta {fit.HUBER_DELTA}, LSE form)")
    print(f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    rows = {"one vmapped solve": timed(fitted(N, D, loss, None))}
    first, wall, cpu, (theta, value, fraction) = timed(batched(N, D, loss, 500))
    rows["lax.map, batches of 500"] = (first, wall, cpu, (theta, value, fraction))
    for pool in sorted(set(args.pools) | {POOL_SIZE}):
        label = f"refilled pool of {pool}" + (" (default)" if pool == POOL_SIZE else "")
        rows[label] = timed(fitted(N, D, loss, pool))
    reference = params_of(rows["one vmapped solve"][3])
    print(
        f"{'theorytk variant':<32}{'wall s':>8}{'CPU s':>8}{'compile+1st s':>14}"
        f"{'converged':>10}{'best objective':>20}{'best vs one':>12}"
    )
    for label, (first, wall, cpu, out) in rows.items():
        theta, value, fraction = summary_of(out)
        rel = np.max(np.abs(theta - reference) / np.abs(reference))
        print(
            f"{label:<32}{wall:8.2f}{cpu:8.2f}{first:14.2f}{fraction:10.1%}"
            f"{value:20.14g}{rel:12.1e}"
        )
    default = f"refilled pool of {POOL_SIZE} (default)"
    t_ours, cpu_ours, ours = rows[default][1], rows[default][2], params_of(rows[default][3])
    print(f"fitted alpha = {ours[3]:.4f}, beta = {ours[4]:.4f}")

    subset = min(args.subset, n_starts)
    chosen = np.sort(np.random.default_rng(0).choice(n_starts, subset, replace=False))
    t_sub, cpu_sub, ref, ref_value, iters = scipy_loop(N, D, loss, grid[chosen])
    t_scipy, cpu_scipy = t_sub * n_starts / subset, cpu_sub * n_starts / subset
    label = "measured" if subset == n_starts else f"EXTRAPOLATED from {subset} random starts"
    print(
        f"scipy L-BFGS-B loop: {t_sub:.2f} s wall, {cpu_sub:.2f} s CPU for {subset} starts "
        f"({1e3 * t_sub / subset:.1f} ms/start, {iters:.0f} evaluations/start on average)"
    )
    print(f"  full {n_starts}-start loop: {t_scipy:.1f} s wall, {cpu_scipy:.1f} s CPU ({label})")
    print(f"  best objective {ref_value:.14g}")
    rel = np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-12))
    print(f"agreement of best (a, b, e, alpha, beta) with scipy: max relative difference {rel:.2e}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    note = "" if subset == n_starts else ", scipy time extrapolated"
    print(f"CPU-time speed-up, default pool vs scipy loop{note}: {cpu_scipy / cpu_ours:.1f}x")
    print(f"speed-up (wall), default pool vs scipy loop{note}: {t_scipy / t_ours:.1f}x")


def summary_of(out: Any) -> tuple[np.ndarray, float, float]:
    """(best (a, b, e, alpha, beta), best objective, converged fraction) of a variant."""
    if isinstance(out, tuple):
        theta, value, fraction = out
    else:
        theta, value, fraction = out.law.params, out.law.value, out.converged_fraction
    return np.array([float(theta[k]) for k in NAMES]), float(value), float(fraction)


def params_of(out: Any) -> np.ndarray:
    """The best (a, b, e, alpha, beta) of a variant."""
    return summary_of(out)[0]


if __name__ == "__main__":
    main()
