"""Compile CPU time of a vmapped monotone run with JAX's rolled and unrolled threefry lowering.

Setup: the program is one VR-Halpern trace (200 updates) on a freshly drawn
`monotone.random_cocoercive_linear` problem (d = 10, n = 256, condition 10^4,
heterogeneity 0.05) per key, vmapped over 24 keys, in float64: the draws of the halpern
experiment (Gaussian problem matrices, a QR, minibatch permutations, refresh coins). Each
repeat lowers a new function object (so no lowering or compilation is reused; no persistent
cache) and compiles it once with JAX's CPU lowering (a rolled loop over the rounds) and once
inside `sweep.unrolled_threefry()`, interleaved; CPU time (process_time, all threads) of
`.compile()` only. Both programs must give the same residual curves to 1e-12 relative and
the same oracle counts, or the script stops. Printed: the median compile CPU time of each and,
last, rolled / unrolled.

    python benchmarks/threefry_compile.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from theorytk import monotone, sweep

jax.config.update("jax_enable_x64", True)


def lowered(keys: jax.Array) -> jax.stages.Lowered:
    """A new function object each call: problem, VR-Halpern trace, per key."""

    def run(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        problem = monotone.random_cocoercive_linear(
            jax.random.fold_in(key, 0), 10, n=256, condition=1e4, heterogeneity=0.05
        )
        trace = monotone.trace(problem, monotone.vr_halpern(), key, updates=200)
        return trace.residual, trace.epochs

    return jax.jit(jax.vmap(run)).lower(keys)


def compile_time(lowering: jax.stages.Lowered) -> tuple[float, jax.stages.Compiled]:
    start = time.process_time()
    compiled = lowering.compile()
    return time.process_time() - start, compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(24))
    times: dict[str, list[float]] = {"rolled": [], "unrolled": []}
    for _ in range(args.repeats):
        seconds, rolled = compile_time(lowered(keys))
        times["rolled"].append(seconds)
        with sweep.unrolled_threefry():
            seconds, unrolled = compile_time(lowered(keys))
        times["unrolled"].append(seconds)
        (r_res, r_ep), (u_res, u_ep) = rolled(keys), unrolled(keys)
        np.testing.assert_allclose(np.asarray(u_res), np.asarray(r_res), rtol=1e-12)
        np.testing.assert_array_equal(np.asarray(u_ep), np.asarray(r_ep))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    for name, t in times.items():
        runs = ", ".join(f"{s:.2f}" for s in t)
        print(f"{name:9s} compile CPU {medians[name]:.2f} s (median of {runs})")
    print(f"rolled / unrolled compile CPU time: {medians['rolled'] / medians['unrolled']:.1f}x")


if __name__ == "__main__":
    main()
