"""Perceptron SGD runs on a 24 x 24 (alpha, T) grid x 4 seeds: one sweep vs a Python loop.

    python benchmarks/perceptron_sweep.py [--P 128] [--chunk-size 24] [--budget 50000]

1. `theorytk.sweep.run` of `perceptron.simulate`: vmapped chunks, each running the segmented
   training driver until its last point has fitted its data;
2. a Python loop calling the jitted single-point `simulate` once per point (same keys).

Both are timed after a warm-up compile, in the same process (float32), and must give the
same steps and weights. Runs end at zero training loss, so their lengths differ by orders of
magnitude across the grid, and a vmapped chunk runs as long as its slowest point: the
script reports that overhead, and repeats the comparison with every point running exactly
`--equal-steps` steps (T scaled by 1e-9, so no point fits its data), which isolates the gain
of vectorisation. Prints points per second and the speed-ups against the target >= 10x.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import jax
import numpy as np

from theorytk import perceptron, sweep

METRICS = ("steps", "dw1")


def compare(
    config: perceptron.PerceptronConfig, grid: sweep.Grid, chunk_size: int
) -> dict[str, tuple[float, dict[str, np.ndarray]]]:
    """Seconds and results of the sweep and of the loop over the same points and keys."""
    key = jax.random.key(0)

    def swept() -> dict[str, np.ndarray]:
        ds = sweep.run(
            perceptron.simulate, grid, key=key, config=config, chunk_size=chunk_size, progress=False
        )
        return {name: ds[name].values.ravel() for name in METRICS}

    @jax.jit
    def point(alpha: jax.Array, temperature: jax.Array, index: jax.Array) -> dict:
        params = {"alpha": alpha, "T": temperature}
        out = perceptron.simulate(params, jax.random.fold_in(key, index), config=config)
        return {name: out[name] for name in METRICS}

    columns = np.meshgrid(*(a.values for a in grid.axes), indexing="ij")
    values = {a.name: c.ravel().astype(np.float32) for a, c in zip(grid.axes, columns, strict=True)}

    def looped() -> dict[str, np.ndarray]:
        outs = [point(values["alpha"][i], values["T"][i], np.uint32(i)) for i in range(grid.size)]
        return {name: np.array([float(o[name]) for o in outs]) for name in METRICS}

    return {name: timed(fn) for name, fn in (("sweep", swept), ("loop", looped))}


def timed(fn: Callable[[], dict]) -> tuple[float, dict]:
    fn()  # compile
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def report(title: str, timings: dict, n_points: int) -> float:
    (t_sweep, r_sweep), (t_loop, r_loop) = timings["sweep"], timings["loop"]
    np.testing.assert_array_equal(r_sweep["steps"], r_loop["steps"])
    np.testing.assert_allclose(r_sweep["dw1"], r_loop["dw1"], rtol=1e-4)
    print(title)
    for name, (seconds, _) in timings.items():
        print(f"  {name:6s} {seconds:8.2f} s  {n_points / seconds:8.1f} points/s")
    ratio = t_loop / t_sweep
    verdict = "meets" if ratio >= 10 else "MISSES"
    print(f"  speed-up of the sweep over the loop: {ratio:.1f}x ({verdict} the target >= 10x)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--P", type=int, default=128, help="training points")
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--B", type=int, default=16, help="batch size")
    parser.add_argument("--budget", type=int, default=50_000, help="step budget")
    parser.add_argument("--equal-steps", type=int, default=2_000)
    parser.add_argument("--chunk-size", type=int, default=24)
    args = parser.parse_args()
    alphas, temperatures = np.geomspace(0.1, 10.0, 24), np.geomspace(0.1, 100.0, 24)

    config = perceptron.PerceptronConfig(
        d=args.d, P=args.P, B=args.B, chi=0.0, budget=args.budget, P_test=512
    )
    grid = sweep.Grid(T=temperatures, alpha=alphas, seed=range(4))
    timings = compare(config, grid, args.chunk_size)
    steps = timings["sweep"][1]["steps"]
    chunks = np.array_split(steps, -(-steps.size // args.chunk_size))
    overhead = sum(len(c) * c.max() for c in chunks) / steps.sum()
    report(
        f"{grid.size} points (24 alpha in [0.1, 10] x 24 T in [0.1, 100] x 4 seeds), chi = 0, "
        f"d = {args.d}, P = {args.P}, B = {args.B}, until zero training loss: steps from "
        f"{steps.min():.0f} to {steps.max():.0f} (median {np.median(steps):.0f}, "
        f"{int(np.sum(steps >= args.budget))} points at the budget {args.budget}); chunks of "
        f"{args.chunk_size} evaluate {overhead:.1f}x the point-steps of the loop",
        timings,
        grid.size,
    )

    equal = perceptron.PerceptronConfig(
        d=args.d, P=args.P, B=args.B, chi=0.0, budget=args.equal_steps, P_test=512
    )
    grid = sweep.Grid(T=temperatures * 1e-9, alpha=alphas, seed=range(4))
    report(
        f"the same points with T scaled by 1e-9: every point runs {args.equal_steps} steps",
        compare(equal, grid, args.chunk_size),
        grid.size,
    )


if __name__ == "__main__":
    main()
