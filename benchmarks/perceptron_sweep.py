"""Perceptron SGD runs on a 24 x 24 (alpha, T) grid x 4 seeds: one sweep vs a Python loop.

    python benchmarks/perceptron_sweep.py [--P 128] [--lanes 48] [--budget 50000] [--float32]

1. `theorytk.sweep.run` of `perceptron.simulate` (a `sweep.Loop`): the whole grid as one
   chunk, `--lanes` points stepping at a time, a lane refilled with the next point as soon
   as its point has fitted its data;
2. the same sweep without refilling (an unmarked wrapper of `simulate`): vmapped chunks of
   `--chunk-size` points, each running until its slowest point has fitted its data;
3. a Python loop calling the jitted single-point `simulate` once per point (same keys).

All are timed after a warm-up compile, in the same process, `--repeats` times each,
interleaved (the median is shown with the range). In float64 (the default) all three must
give the same step counts exactly and the same weights to 1e-12. With `--float32` XLA fuses
the single-point dots of the loop differently from the batched dots of the sweeps, and a
few chaotic runs amplify that last-bit rounding until their stopping step moves (about 10 of
2,304 points, by up to a few percent): the two sweeps are then checked against each other
(same batched arithmetic), and the loop only for its median step count. Runs end at zero
training loss, so their lengths differ by orders of magnitude across the grid. The
comparison is repeated with every point running exactly `--equal-steps` steps (T scaled by
1e-9, so no point fits its data), which isolates the gain of vectorising one SGD step.
Prints points per second and the speed-ups against the target >= 10x.
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
    config: perceptron.PerceptronConfig,
    grid: sweep.Grid,
    lanes: int,
    chunk_size: int,
    repeats: int,
) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Seconds (`repeats` timings, interleaved) and results of the two sweeps and of the loop
    over the same points and keys."""
    key = jax.random.key(0)

    def unmarked(params: dict, key: jax.Array, *, config: perceptron.PerceptronConfig) -> dict:
        return perceptron.simulate(params, key, config=config)

    def swept(fn: Callable, **options: int) -> Callable[[], dict[str, np.ndarray]]:
        def sweep_all() -> dict[str, np.ndarray]:
            ds = sweep.run(fn, grid, key=key, config=config, progress=False, **options)
            return {name: ds[name].values.ravel() for name in METRICS}

        return sweep_all

    @jax.jit
    def point(alpha: jax.Array, temperature: jax.Array, index: jax.Array) -> dict:
        params = {"alpha": alpha, "T": temperature}
        out = perceptron.simulate(params, jax.random.fold_in(key, index), config=config)
        return {name: out[name] for name in METRICS}

    columns = np.meshgrid(*(a.values for a in grid.axes), indexing="ij")
    dtype = np.float64 if jax.config.jax_enable_x64 else np.float32
    values = {a.name: c.ravel().astype(dtype) for a, c in zip(grid.axes, columns, strict=True)}

    def looped() -> dict[str, np.ndarray]:
        outs = [point(values["alpha"][i], values["T"][i], np.uint32(i)) for i in range(grid.size)]
        return {name: np.array([float(o[name]) for o in outs]) for name in METRICS}

    runs = {
        f"lanes ({lanes})": swept(perceptron.simulate, chunk_size=grid.size, lanes=lanes),
        f"chunks ({chunk_size})": swept(unmarked, chunk_size=chunk_size),
        "loop": looped,
    }
    results = {name: fn() for name, fn in runs.items()}  # compile
    seconds = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    return {name: (np.array(seconds[name]), results[name]) for name in runs}


def check(timings: dict) -> str:
    """Assert the results agree as far as the precision promises; describe the agreement."""
    (_, lanes), (_, chunks), (_, loop) = timings.values()
    differ = int(np.sum(lanes["steps"] != loop["steps"]))
    if jax.config.jax_enable_x64:
        for result in (chunks, loop):
            np.testing.assert_array_equal(lanes["steps"], result["steps"])
            np.testing.assert_allclose(lanes["dw1"], result["dw1"], rtol=1e-12)
        return "float64: lanes, chunks and loop give the same step counts (dw1 to 1e-12)"
    np.testing.assert_array_equal(lanes["steps"], chunks["steps"])
    np.testing.assert_allclose(lanes["dw1"], chunks["dw1"], rtol=1e-4)
    median = np.median(loop["steps"]) / np.median(lanes["steps"])
    np.testing.assert_allclose(median, 1.0, rtol=0.01)
    return (
        f"float32: lanes and chunks give the same step counts; {differ} of {loop['steps'].size} "
        f"differ from the loop (rounding of differently fused dots), median ratio {median:.4f}"
    )


def report(title: str, timings: dict, n_points: int) -> None:
    reference = timings["loop"]
    agreement = check(timings)
    print(title)
    print(f"  {agreement}")
    loop = np.median(reference[0])
    for name, (seconds, _) in timings.items():
        median, low, high = np.median(seconds), seconds.min(), seconds.max()
        print(
            f"  {name:12s} {median:7.2f} s [{low:.2f}, {high:.2f}]  "
            f"{n_points / median:7.1f} points/s  {loop / median:5.1f}x"
        )
    ratio = loop / np.median(next(iter(timings.values()))[0])
    verdict = "meets" if ratio >= 10 else "MISSES"
    print(f"  speed-up of the sweep in lanes over the loop: {ratio:.1f}x ({verdict} target >= 10x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--P", type=int, default=128, help="training points")
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--B", type=int, default=16, help="batch size")
    parser.add_argument("--budget", type=int, default=50_000, help="step budget")
    parser.add_argument("--equal-steps", type=int, default=2_000)
    parser.add_argument("--lanes", type=int, default=sweep.DEFAULT_LANES)
    parser.add_argument("--chunk-size", type=int, default=24, help="of the sweep without lanes")
    parser.add_argument("--repeats", type=int, default=3, help="timings of each, median shown")
    parser.add_argument("--float32", action="store_true", help="results compared loosely")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", not args.float32)
    alphas, temperatures = np.geomspace(0.1, 10.0, 24), np.geomspace(0.1, 100.0, 24)

    config = perceptron.PerceptronConfig(
        d=args.d, P=args.P, B=args.B, chi=0.0, budget=args.budget, P_test=512
    )
    grid = sweep.Grid(T=temperatures, alpha=alphas, seed=range(4))
    timings = compare(config, grid, args.lanes, args.chunk_size, args.repeats)
    steps = timings["loop"][1]["steps"]
    chunks = np.array_split(steps, -(-steps.size // args.chunk_size))
    overhead = sum(len(c) * c.max() for c in chunks) / steps.sum()
    report(
        f"{grid.size} points (24 alpha in [0.1, 10] x 24 T in [0.1, 100] x 4 seeds), chi = 0, "
        f"d = {args.d}, P = {args.P}, B = {args.B}, until zero training loss: steps from "
        f"{steps.min():.0f} to {steps.max():.0f} (median {np.median(steps):.0f}, "
        f"{int(np.sum(steps >= args.budget))} points at the budget {args.budget}); chunks of "
        f"{args.chunk_size} without lanes evaluate {overhead:.1f}x the point-steps of the loop",
        timings,
        grid.size,
    )

    equal = perceptron.PerceptronConfig(
        d=args.d, P=args.P, B=args.B, chi=0.0, budget=args.equal_steps, P_test=512
    )
    grid = sweep.Grid(T=temperatures * 1e-9, alpha=alphas, seed=range(4))
    report(
        f"the same points with T scaled by 1e-9: every point runs {args.equal_steps} steps",
        compare(equal, grid, args.lanes, args.chunk_size, args.repeats),
        grid.size,
    )


if __name__ == "__main__":
    main()
