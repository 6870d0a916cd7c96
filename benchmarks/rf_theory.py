"""rf_risk on an (N, delta) grid: one vmapped call versus a loop of a jitted single point.

    python benchmarks/rf_theory.py [--grid 256] [--modes 10000] [--loop-points 256]

Eigenvalues lambda_i = i^-1.5, v_i^2 = i^-1.2 (P = --modes), n = 1000, N geometric in
[10, 1e5], delta geometric in [1e-6, 1e2], noise 0.1. The vmapped call covers the whole
grid x grid; the loop runs the same jitted single-point function on the first --loop-points
points (timing per point, extrapolated to the grid), and `jax.lax.map` runs the grid in
vmapped chunks of --chunk points (cache-sized batches). All are timed after a warm-up call and
must give the same numbers. Prints time per point, the ratios (target >= 20x), and the
time of a loop over a jitted function that does no work (a lower bound on the Python + dispatch
cost a loop pays per point, ~0.15-0.3 ms here): loop/batched ~ (work + dispatch) / work.

Each point solves the fixed point with 32 safeguarded Newton steps (`_roots.log_root`), each
a value and a slope over all P modes, so at P = 1e4 a point costs ~1.3 ms of arithmetic and the
20x target would need the dispatch to be 19x the work: it is not reachable at this size by
batching alone (it is at P ~ 100, see below). One vmap over the whole grid streams
grid x P arrays through memory at every step; `lax.map` in chunks of 8 keeps them in cache.
Measured on 2 shared cores, grid 64 x 64, P = 1e4 (the issue's problem: the per-point cost does
not depend on the grid size, and the full 256 x 256 grid as one vmap needs ~5 GB per
intermediate), back to back on a quiet machine (load < 1.5):
before (80 bisection steps, two sigmoids per mode): vmapped 2.96 ms/point, chunked 2.39,
loop 3.92 (ratios 1.32x, 1.64x);
after (32 Newton steps, one exponential per mode): vmapped 2.47 ms/point, chunked 1.34,
loop 1.89 (ratios 0.76x, 1.41x); a trivial jitted call costs 0.15 ms in a loop.
Grid 64, P = 100, after: vmapped 0.037 ms/point, chunked 0.020, loop 0.41 (10.9x, 20.3x);
before (load ~2): vmapped 0.025, chunked 0.050, loop 0.53 (21x, 10.6x). Under load (2-7) the
same runs vary by up to 2x.
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
    dispatch = dispatch_seconds(feats[:m], ridges[:m])
    np.testing.assert_allclose(chunk_out, grid_out, rtol=1e-10)
    np.testing.assert_allclose(loop_out, grid_out[:m], rtol=1e-10)
    size = feats.size
    print(f"grid {args.grid} x {args.grid}, P = {args.modes} modes")
    print(f"vmapped: {t_vmap:9.2f} s, {t_vmap / size * 1e3:8.4f} ms/point")
    print(f"chunked: {t_chunk:9.2f} s, {t_chunk / size * 1e3:8.4f} ms/point ({args.chunk}/chunk)")
    print(f"loop:    {t_loop:9.2f} s, {t_loop / size * 1e3:8.4f} ms/point ({m} points timed)")
    print(f"ratio loop/vmapped {t_loop / t_vmap:6.2f}x, loop/chunked {t_loop / t_chunk:6.2f}x")
    print(f"(target >= {TARGET:.0f}x)")
    per_point = min(t_vmap, t_chunk) / size
    print(
        f"a trivial jitted call in a loop: {dispatch * 1e3:.4f} ms/point (a lower bound on the "
        f"loop's overhead): ratio ~ {(per_point + dispatch) / per_point:.2f}x or more"
    )


def dispatch_seconds(feats: jax.Array, ridges: jax.Array) -> float:
    """Seconds per call of a loop over a jitted function that does no work (Python + dispatch)."""
    trivial = jax.jit(lambda f, r: f * r)
    trivial(feats[0], ridges[0]).block_until_ready()
    start = time.perf_counter()
    for k in range(feats.size):
        float(trivial(feats[k], ridges[k]))
    return (time.perf_counter() - start) / feats.size


def timed(fn, *args) -> tuple[float, np.ndarray]:
    """Seconds for fn(*args) after a warm-up call, and its result."""
    fn(*args).block_until_ready()
    start = time.perf_counter()
    out = np.asarray(fn(*args))
    return time.perf_counter() - start, out


if __name__ == "__main__":
    main()
