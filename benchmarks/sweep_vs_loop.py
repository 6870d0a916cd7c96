"""The point of vmapping: the ridge simulation on a 4096-point (lam x seed) grid, two ways.

    python benchmarks/sweep_vs_loop.py [--sizes 10x20 50x100]

For each problem size d x n:
1. `theorytk.sweep.run`: one compiled, vmapped call per chunk of points;
2. a Python loop calling a jitted single-point `simulate_ridge` once per point (same keys).

Both are timed (best of 3) after a warm-up compile, in the same process, and must give the same
numbers. Prints points/s and the speed-up (target >= 20x). The speed-up is the Python
dispatch cost saved per point, so it is largest when the per-point work is small (d = 10:
a few microseconds of compute against ~0.2 ms of dispatch) and shrinks as the per-point
work grows (d = 50, n = 100: ~0.1 ms of random draws per point on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import jax
import numpy as np

from theorytk import regression, sweep

TARGET = 20.0


def timed(fn: Callable[[], np.ndarray], repeats: int = 3) -> tuple[float, float, np.ndarray]:
    """Best of `repeats` wall times and of CPU times of the process after a warm-up (compile)
    call, as timeit does. On a machine shared with other jobs the wall time of a
    multithreaded vmapped call waits for its slowest thread, so read the CPU ratio too."""
    result = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def compare(d: int, n: int, chunk_size: int) -> float:
    config = regression.RidgeConfig(d=d, n_max=n, noise=0.25)
    grid = sweep.Grid(n=[float(n)], lam=np.geomspace(1e-3, 10.0, 64), seed=range(64))
    key = jax.random.key(0)

    def swept() -> np.ndarray:
        ds = sweep.run(
            regression.simulate_ridge,
            grid,
            key=key,
            config=config,
            chunk_size=chunk_size,
            progress=False,
        )
        return ds["test_mse"].values.ravel()

    @jax.jit
    def point(lam: jax.Array, index: jax.Array) -> jax.Array:
        params = {"n": np.float32(n), "lam": lam}
        point_key = jax.random.fold_in(key, index)
        return regression.simulate_ridge(params, point_key, config=config)["test_mse"]

    lams = np.repeat(grid.axes[1].values, 64).astype(np.float32)

    def looped() -> np.ndarray:
        return np.array([float(point(lams[i], np.uint32(i))) for i in range(grid.size)])

    t_sweep, cpu_sweep, r_sweep = timed(swept)
    t_loop, cpu_loop, r_loop = timed(looped)
    np.testing.assert_allclose(r_sweep, r_loop, rtol=1e-4)
    ratio = t_loop / t_sweep
    print(
        f"d={d:3d} n={n:4d}: sweep {t_sweep:7.3f} s ({grid.size / t_sweep:9,.0f} points/s, "
        f"{cpu_sweep:.3f} s CPU), loop {t_loop:7.3f} s ({grid.size / t_loop:7,.0f} points/s, "
        f"{cpu_loop:.3f} s CPU), CPU-time ratio {cpu_loop / cpu_sweep:5.1f}x, speed-up "
        f"{ratio:5.1f}x ({'meets' if ratio >= TARGET else 'MISSES'} the target >= {TARGET:g}x)"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["10x20", "50x100"], metavar="DxN")
    parser.add_argument("--chunk-size", type=int, default=1024)
    args = parser.parse_args()
    for size in args.sizes:
        d, n = (int(v) for v in size.split("x"))
        compare(d, n, args.chunk_size)


if __name__ == "__main__":
    main()
