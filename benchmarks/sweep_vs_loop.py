"""The point of vmapping: the ridge simulation on a 4096-point (ridge x seed) grid, two ways.

    python benchmarks/sweep_vs_loop.py [--d 50] [--n 100]

1. `theorytk.sweep.run`: one compiled, vmapped call per chunk;
2. a Python loop calling the jitted single-point `simulate` once per point (same keys).

Both are timed after a warm-up compile, in the same process; prints the speed-up
(target >= 20x) and checks the two give the same numbers.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from theorytk import regression, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--chunk-size", type=int, default=1024)
    args = parser.parse_args()
    config = regression.RidgeConfig(d=args.d, n_max=args.n, noise=0.25)
    grid = sweep.Grid(n=[float(args.n)], ridge=np.geomspace(1e-3, 10.0, 64), seed=range(64))
    key = jax.random.key(0)

    def swept() -> np.ndarray:
        ds = sweep.run(regression.simulate, grid, key=key, config=config,
                       chunk_size=args.chunk_size, progress=False)
        return ds["test_mse"].values.ravel()

    @jax.jit
    def point(ridge: jax.Array, index: jax.Array) -> jax.Array:
        params = {"n": np.float32(args.n), "ridge": ridge}
        return regression.simulate(params, jax.random.fold_in(key, index), config=config)["test_mse"]

    ridges = np.repeat(grid.axes[1].values, 64).astype(np.float32)

    def looped() -> np.ndarray:
        return np.array([float(point(ridges[i], np.uint32(i))) for i in range(grid.size)])

    timings = {}
    for name, fn in (("sweep (vmapped chunks)", swept), ("python loop of jit", looped)):
        fn()  # compile
        start = time.perf_counter()
        result = fn()
        timings[name] = (time.perf_counter() - start, result)
    (t_sweep, r_sweep), (t_loop, r_loop) = timings.values()
    np.testing.assert_allclose(r_sweep, r_loop, rtol=1e-4)
    for name, (seconds, _) in timings.items():
        print(f"{name:24s} {seconds:8.3f} s  {grid.size / seconds:10,.0f} points/s")
    verdict = "meets" if t_loop / t_sweep >= 20 else "MISSES"
    print(f"speed-up of the sweep over the loop: {t_loop / t_sweep:.1f}x ({verdict} the target >= 20x)")


if __name__ == "__main__":
    main()
