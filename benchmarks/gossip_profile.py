"""Where the time of a D-SGD run goes, alone and vmapped: XLA's per-operation profile.

The setup of `gossip_sweep.py` (32 nodes, 200 steps of stochastic ATC D-SGD on the digits
logistic regression, float32, W a constant of the program): 64 points as one vmapped call
against a Python loop of 64 calls of the jitted single run. Each is run once under
`jax.profiler`; the time of every compiled operation (XLA thunk) is summed over the points
and the CPU threads, and the largest are printed as shares of all operations' time, then
the ratio of each operation's time, batch against loop. Operation names are XLA's (`dot`:
the per-node minibatch products; `gather`: the minibatch rows; `copy`/`transpose`: layout
changes). The last line is the loop's operation time over the batch's.

    python benchmarks/gossip_profile.py [--topology complete] [--nodes 32] [--points 64]
"""

from __future__ import annotations

import argparse
import collections
import glob
import tempfile

import jax
import jax.numpy as jnp
from gossip_sweep import TOPOLOGIES, final_accuracy, setup


def operation_ns(call) -> collections.Counter:
    """Nanoseconds per XLA operation name (summed over threads) of one profiled call."""
    jax.block_until_ready(call())
    with tempfile.TemporaryDirectory() as directory:
        jax.profiler.start_trace(directory)
        jax.block_until_ready(call())
        jax.profiler.stop_trace()
        (path,) = glob.glob(f"{directory}/**/*.xplane.pb", recursive=True)
        profile = jax.profiler.ProfileData.from_file(path)
    totals: collections.Counter = collections.Counter()
    for plane in profile.planes:
        for line in plane.lines:
            if "XLAEigen" in line.name:  # the threads that run compiled operations
                for event in line.events:
                    if not event.name.startswith("ThunkExecutor"):
                        totals[event.name.split(".")[0]] += event.duration_ns
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topology", default="complete", choices=TOPOLOGIES)
    parser.add_argument("--nodes", type=int, default=32)
    parser.add_argument("--points", type=int, default=64)
    args = parser.parse_args()
    problem, stack = setup(args.nodes)
    w = jnp.asarray(stack[TOPOLOGIES.index(args.topology)])[None]
    key = jax.random.key(0)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(args.points))
    lrs = jnp.full(args.points, 0.1, jnp.float32)

    def point(lr, k):
        return final_accuracy(problem, w, lr, k)

    one, batch = jax.jit(point), jax.jit(jax.vmap(point))
    loop = operation_ns(lambda: [one(lrs[i], keys[i]) for i in range(args.points)])
    vmapped = operation_ns(lambda: batch(lrs, keys))
    total = {"loop": sum(loop.values()), "batch": sum(vmapped.values())}
    print(
        f"D-SGD, {args.nodes} nodes, {args.topology}, {args.points} points: time of the "
        f"compiled operations, summed over points and threads (wall time of each operation: "
        f"compare shares and ratios on a loaded machine)"
    )
    print(f"  {'operation':28s} {'loop':>16s} {'vmapped batch':>16s}  batch / loop")
    for name, _ in (loop + vmapped).most_common(10):
        shares = [
            f"{c[name] / 1e6:7.0f} ms {100 * c[name] / total[k]:4.0f}%"
            for k, c in (("loop", loop), ("batch", vmapped))
        ]
        ratio = vmapped[name] / loop[name] if loop[name] else float("inf")
        print(f"  {name:28s} {shares[0]:>16s} {shares[1]:>16s}  {ratio:8.2f}")
    print(f"  {'all operations':28s} {total['loop'] / 1e6:7.0f} ms {total['batch'] / 1e6:13.0f} ms")
    print(f"loop / vmapped batch, operation time: {total['loop'] / total['batch']:.2f}x")


if __name__ == "__main__":
    main()
