"""rf_risk on an (N, delta) grid: one vmapped call versus a loop of a jitted single point.

    python benchmarks/rf_theory.py [--grid 256] [--modes 10000] [--loop-points 256]

Eigenvalues lambda_i = i^-1.5, v_i^2 = i^-1.2 (P = --modes), n = 1000, N geometric in
[10, 1e5], delta geometric in [1e-6, 1e2], noise 0.1. The vmapped call covers the whole
grid x grid; the loop runs the same jitted single-point function on the first --loop-points
points (timing per point, extrapolated to the grid), and `jax.lax.map` runs the grid in
vmapped chunks of --chunk points (cache-sized batches). All are timed after a warm-up call and
must give the same numbers. Prints time per point and the ratios (target >= 20x). Each point
costs 80 bisection steps over P modes, so with P = 1e4 the compute per point (milliseconds)
dwarfs the Python dispatch a loop pays (~0.1 ms), and one vmap over the whole grid streams
grid x P arrays through memory at every step. Measured (load ~7, 2 cores): grid 32, P = 1e4:
vmapped 12.1 ms/point, chunked 8.3, loop 9.6 (ratios 0.79x, 1.16x); grid 64, P = 100: vmapped
0.086 ms/point, loop 0.83 (9.7x). The default full grid at P = 1e4 runs for ~30 minutes.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from theorytk.regression import rf_risk

TARGET = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=256)
    parser.add_argument("--modes", type=int, default=10_000)
    parser.add_argument("--loop-points", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=8)
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    i = jnp.arange(1, args.modes + 1, dtype=float)
    lam, v2 = i**-1.5, i**-1.2
    feats, ridges = jnp.meshgrid(
        jnp.geomspace(10.0, 1e5, args.grid), jnp.geomspace(1e-6, 1e2, args.grid)
    )
    feats, ridges = feats.ravel(), ridges.ravel()

    def point(n_feat, ridge):
        return rf_risk(lam, v2, n=1000.0, n_features=n_feat, ridge=ridge, noise=0.1)["test_mse"]

    def chunks(f, r):
        return jax.lax.map(lambda a: point(*a), (f, r), batch_size=args.chunk)

    t_vmap, grid_out = timed(jax.jit(jax.vmap(point)), feats, ridges)
    t_chunk, chunk_out = timed(jax.jit(chunks), feats, ridges)
    single = jax.jit(point)
    single(feats[0], ridges[0]).block_until_ready()  # compile
    m = min(args.loop_points, feats.size)
    start = time.perf_counter()
    loop_out = np.array([float(single(feats[k], ridges[k])) for k in range(m)])
    t_loop = (time.perf_counter() - start) / m * feats.size
    np.testing.assert_allclose(chunk_out, grid_out, rtol=1e-10)
    np.testing.assert_allclose(loop_out, grid_out[:m], rtol=1e-10)
    size = feats.size
    print(f"grid {args.grid} x {args.grid}, P = {args.modes} modes")
    print(f"vmapped: {t_vmap:9.2f} s, {t_vmap / size * 1e3:8.4f} ms/point")
    print(f"chunked: {t_chunk:9.2f} s, {t_chunk / size * 1e3:8.4f} ms/point ({args.chunk}/chunk)")
    print(f"loop:    {t_loop:9.2f} s, {t_loop / size * 1e3:8.4f} ms/point ({m} points timed)")
    print(f"ratio loop/vmapped {t_loop / t_vmap:6.2f}x, loop/chunked {t_loop / t_chunk:6.2f}x")
    print(f"(target >= {TARGET:.0f}x)")


def timed(fn, *args) -> tuple[float, np.ndarray]:
    """Seconds for fn(*args) after a warm-up call, and its result."""
    fn(*args).block_until_ready()
    start = time.perf_counter()
    out = np.asarray(fn(*args))
    return time.perf_counter() - start, out


if __name__ == "__main__":
    main()
