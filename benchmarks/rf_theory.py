"""rf_risk against a NumPy port of the authors' solver, per point and over an (N, delta) grid.

    python benchmarks/rf_theory.py [--grid 256] [--modes 10000] [--port-points 16] [--sweep]

Problem: lambda_i = i^-1.5, v_i^2 = i^-1.2 (P = --modes), n = 1000, N geometric in [10, 1e5],
delta geometric in [1e-6, 1e2], noise 0.1, float64. Measured in one run, on the same points:

- the NumPy port of `rf_krr_risk_theory` from github.com/dkarkada/more-is-better
  (`benchmarks/_more_is_better_numpy.py`: nested bisection, gamma inside log10 kappa, tolerance
  1e-5, at most 200 steps each) on --port-points points spread over the grid;
- `jax.jit(rf_risk)` called point by point on the same points (wall time per call, Python
  dispatch included), and on the whole grid x grid as one `jax.vmap` (rf_risk evaluates a
  batch in blocks of 16 points, so memory does not grow with the batch);
- with --sweep, `sweep.run(regression.linear_rf_theory, ...)` on the grid with the default
  chunk size, in a fresh process: wall time and peak resident memory.

Prints the largest relative difference of test_mse between the port and rf_risk (the port stops
at |residual| <= 1e-5, so ~1e-6 is its accuracy), and LAST the per-point ratio port / rf_risk in
process CPU time (target >= 10x; the wall-time ratio is printed before it). JAX timings are the
best of 3 repeats after a warm-up call; the port runs once per point (it takes 0.1-3 s). The
machine is shared: check `uptime`; under load the wall time of a single jitted call is dominated
by waiting for a core (XLA hands the call to a worker thread), so the process CPU time is
printed as well.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _more_is_better_numpy import rf_krr_risk_theory  # noqa: E402

N_SAMPLES = 1000.0
NOISE = 0.1
TARGET = 10.0


def problem(modes: int, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(eigenvalues, v^2, N, delta) with N and delta flattened over the grid x grid points."""
    i = np.arange(1, modes + 1, dtype=float)
    feats, ridges = np.meshgrid(np.geomspace(10.0, 1e5, grid), np.geomspace(1e-6, 1e2, grid))
    return i**-1.5, i**-1.2, feats.ravel(), ridges.ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=256)
    parser.add_argument("--modes", type=int, default=10_000)
    parser.add_argument("--port-points", type=int, default=16)
    parser.add_argument("--sweep", action="store_true", help="also time sweep.run on the grid")
    parser.add_argument("--sweep-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    if args.sweep_child:
        print(json.dumps(sweep_run(args.modes, args.grid)))
        return
    from theorytk.regression import rf_risk

    lam, v2, feats, ridges = problem(args.modes, args.grid)
    picks = np.linspace(0, feats.size - 1, args.port_points).round().astype(int)

    def point(n_feat, ridge):
        return rf_risk(lam, v2, n=N_SAMPLES, n_features=n_feat, ridge=ridge, noise=NOISE)

    single = jax.jit(lambda f, r: point(f, r)["test_mse"])
    single(feats[0], ridges[0]).block_until_ready()
    (t_single, cpu_single), single_out = best_of(
        3, lambda: [float(single(feats[k], ridges[k])) for k in picks]
    )
    t_single, cpu_single = t_single / picks.size, cpu_single / picks.size
    batched = jax.jit(jax.vmap(lambda f, r: point(f, r)["test_mse"]))
    batched(feats, ridges).block_until_ready()
    (t_grid, cpu_grid), grid_out = best_of(3, lambda: np.asarray(batched(feats, ridges)))
    t_grid, cpu_grid = t_grid / feats.size, cpu_grid / feats.size
    (t_port, cpu_port), port = best_of(
        1,
        lambda: [
            rf_krr_risk_theory(lam, np.sqrt(v2), N_SAMPLES, feats[k], ridges[k], NOISE)[0]
            for k in picks
        ],
    )
    t_port, cpu_port = t_port / picks.size, cpu_port / picks.size
    single_out = np.array(single_out)
    port_diff = np.max(np.abs(np.array(port) / single_out - 1))
    batch_diff = np.max(np.abs(grid_out[picks] / single_out - 1))

    print(f"P = {args.modes} modes, n = {N_SAMPLES:.0f}, grid {args.grid} x {args.grid}")
    print("ms per point, wall | process CPU (all threads):")
    print(f"NumPy port of the authors' solver: {t_port * 1e3:9.3f} | {cpu_port * 1e3:9.3f}")
    print(f"rf_risk, jitted, point by point:   {t_single * 1e3:9.3f} | {cpu_single * 1e3:9.3f}")
    print(
        f"rf_risk, one vmap over the grid:   {t_grid * 1e3:9.3f} | {cpu_grid * 1e3:9.3f} "
        f"({t_grid * feats.size:.2f} s wall for {feats.size} points)"
    )
    print(f"(port and point by point: the same {picks.size} points spread over the grid)")
    print(f"max relative difference of test_mse, port vs rf_risk: {port_diff:.2e}")
    print(f"max relative difference, vmapped vs point by point:   {batch_diff:.2e}")
    if args.sweep:
        out = subprocess.run(
            [sys.executable, __file__, "--sweep-child", "--grid", str(args.grid)]
            + ["--modes", str(args.modes)],
            check=True,
            capture_output=True,
            text=True,
        )
        s = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"sweep.run(linear_rf_theory), default chunks: {s['seconds']:.1f} s "
            f"({s['seconds'] / s['points'] * 1e3:.3f} ms/point incl. compile), "
            f"peak RSS {s['peak_rss_mib']:.0f} MiB, {s['ok']} of {s['points']} points ok"
        )
    print(f"per point, wall time, NumPy port / rf_risk jitted: {t_port / t_single:.1f}x")
    print(f"per point, CPU time, NumPy port / rf_risk jitted: {cpu_port / cpu_single:.1f}x")


def sweep_run(modes: int, grid: int) -> dict:
    """sweep.run of the linear-RF theory over the (N, delta) grid: seconds and peak RSS."""
    from theorytk import regression, sweep

    config = regression.LinearRFConfig(
        d=modes, n=int(N_SAMPLES), n_features_max=100_000, target_decay=1.2, noise=NOISE
    )
    axes = sweep.Grid(n_features=np.geomspace(10.0, 1e5, grid), ridge=np.geomspace(1e-6, 1e2, grid))
    start = time.perf_counter()
    ds = sweep.run(regression.linear_rf_theory, axes, config=config, progress=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "points": int(ds["test_mse"].size),
        "ok": int((ds["status"].values == 0).sum()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def best_of(repeats: int, fn) -> tuple[tuple[float, float], object]:
    """Smallest (wall, process CPU) seconds of fn() over `repeats` calls, and its result."""
    wall = cpu = np.inf
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return (wall, cpu), out


if __name__ == "__main__":
    main()
