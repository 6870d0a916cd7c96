"""D-SGD grids on digits logistic regression: one sweep.run vs a loop of jitted runs vs NumPy,
and the growth of one run with the node count (dense W @ X against neighbour lists).

64 points = 4 topologies (ring, lazy ring, exponential, complete) x 4 steps x 4 seeds, 32
nodes, 10-class logistic regression on the digits split by Dirichlet(0.5), minibatch 16,
STEPS iterations of ATC D-SGD, float32.

1. `sweep.run` with the topology a static axis: one compiled program per topology whose W is
   a constant of the program, so a chunk's 16 points share it (mixed by neighbour lists on
   the rings, by one matrix product over the whole chunk on the others);
2. the same grid with the topology a traced axis (each point picks its W from a stack: a
   batched product of 64 different matrices, every W dense);
3. a Python loop calling the jitted single run once per point (one compiled program per
   topology, W a constant, as in 1), same keys;
4. NumPy, what a paper script does: a Python loop over steps, per-node gradients vectorised
   over nodes, W @ X gossip; `--numpy-runs` of the 64 runs timed (default 16) and scaled.

The sweeps and the loop are timed `--repeats` times each, interleaved, after a warm-up
compile; the median is printed. Then one 200-step ring run as the node count grows, mixing
by neighbour lists (the default for a sparse W) and by the dense W @ X, and a 64-point ring
sweep (4 steps x 16 seeds) at 256 nodes in chunks of 8 and of 64 points against its loop,
in wall and CPU time.
The last line is the ratio of the loop of jitted runs to sweep.run with the topology traced
(target >= 2x, not met on XLA's CPU backend: 1.36x wall, 1.41x CPU on a quiet machine); both
sweeps are printed beside the loop, in wall and CPU time. What limits the ratio is the
per-node minibatch products, which cost as much per point batched as alone
(`gossip_products.py`, `gossip_profile.py`, the speed section of docs/gossip.md).

    python benchmarks/gossip_sweep.py [--quick] [--unrolled-threefry]

`--unrolled-threefry` compiles every program, the loop's single run as well as the sweeps,
with `sweep.unrolled_threefry()`: the same random bits from a loop-free threefry lowering.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from theorytk import gossip, sweep

STEPS = 200
TOPOLOGIES = ("ring", "lazy_ring", "exponential", "complete")
LRS = (0.05, 0.1, 0.2, 0.4)
SEEDS = 4
BATCH = 16


def setup(n: int):
    problem = gossip.digits_classification(n, 0.5, 0, model="logistic", batch=BATCH)
    stack = np.stack([gossip.named_mixing(t, n) for t in TOPOLOGIES])
    return problem, stack


def final_accuracy(problem, mixing, lr, key):
    """Test accuracy of the node average after STEPS steps of stochastic ATC D-SGD."""
    method = gossip.dsgd(problem, mixing, optax.sgd(lr), stochastic=True)
    state, _ = gossip.run(method, problem.init_nodes(key), key, steps=STEPS, metrics=lambda s: {})
    return problem.accuracy(jax.tree.map(lambda a: a.mean(0), state.x))


def make_simulate(problem, stack, *, traced: bool):
    """simulate(params, key) with params["topology"] static (a Python index) or traced."""

    def simulate(params, key):
        if traced:
            w = jnp.asarray(stack)[params["topology"].astype(int)][None]
        else:
            w = jnp.asarray(stack[int(params["topology"])])[None]
        return {"accuracy": final_accuracy(problem, w, params["lr"], key)}

    return simulate


def numpy_run(data, w, lr, rng):
    """The same D-SGD in NumPy: Python loop over steps, gradients vectorised over nodes."""
    x, y, count = (np.asarray(data[k]) for k in ("x", "y", "count"))
    n, _, d = x.shape
    wt, b = np.zeros((n, d, 10)), np.zeros((n, 10))
    l2 = 1e-4
    for _ in range(STEPS):
        idx = np.minimum((rng.random((n, BATCH)) * count[:, None]).astype(int), x.shape[1] - 1)
        xb = np.take_along_axis(x, idx[..., None], 1)
        yb = np.take_along_axis(y, idx, 1)
        s = np.einsum("nbd,ndk->nbk", xb, wt) + b[:, None]
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        p[np.arange(n)[:, None], np.arange(BATCH), yb] -= 1
        p *= (count > 0)[:, None, None] / BATCH
        gw = np.einsum("nbd,nbk->ndk", xb, p) + l2 * wt
        gb = p.sum(1) + l2 * b
        wt = np.einsum("ij,jdk->idk", w, wt - lr * gw)
        b = w @ (b - lr * gb)
    return wt, b


def timed(fn):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def ring_run_seconds(problem, *, sparse: bool, repeats: int = 1, stochastic: bool = True) -> float:
    """Seconds of one jitted STEPS-step ring D-SGD run (best of `repeats`, after its compile)."""
    w = gossip.named_mixing("ring", problem.n_nodes)[None]
    dense = jnp.asarray(w, jnp.float32)
    mixing = w if sparse else (lambda tree, t: gossip.gossip(dense, tree, t))

    def final(key):
        method = gossip.dsgd(problem, mixing, optax.sgd(0.1), stochastic=stochastic)
        state, _ = gossip.run(
            method, problem.init_nodes(key), key, steps=STEPS, metrics=lambda s: {}
        )
        return state.x

    run = jax.jit(final)
    key = jax.random.key(0)
    run(key)
    return min(timed(lambda: run(key)) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--numpy-runs", type=int, default=16, help="of the 64, timed")
    parser.add_argument("--quick", action="store_true", help="1 repeat, n <= 256")
    parser.add_argument(
        "--unrolled-threefry",
        action="store_true",
        help="compile every program (sweeps and loop) inside sweep.unrolled_threefry()",
    )
    args = parser.parse_args()
    with sweep.unrolled_threefry() if args.unrolled_threefry else contextlib.nullcontext():
        benchmark(args)


def benchmark(args: argparse.Namespace) -> None:
    """Time the 32-node grid, the growth with the node count and the 256-node ring sweep."""
    repeats = 1 if args.quick else args.repeats
    numpy_runs = args.numpy_runs

    n = 32
    problem, stack = setup(n)
    key = jax.random.key(0)
    topologies = np.arange(len(stack))
    grids = {
        "static": sweep.Grid(topology=sweep.static(topologies), lr=LRS, seed=range(SEEDS)),
        "traced": sweep.Grid(topology=topologies.astype(float), lr=LRS, seed=range(SEEDS)),
    }
    points = grids["static"].size

    def swept(traced: bool):
        simulate = make_simulate(problem, stack, traced=traced)
        grid = grids["traced" if traced else "static"]
        return lambda: sweep.run(simulate, grid, key=key, progress=False)["accuracy"].values

    one = {
        t: jax.jit(lambda lr, k, t=t: final_accuracy(problem, jnp.asarray(stack[t])[None], lr, k))
        for t in topologies
    }
    cells = [(t, lr) for t in topologies for lr in LRS for _ in range(SEEDS)]
    keys = [jax.random.fold_in(key, i) for i in range(points)]

    def looped():
        outs = [one[t](jnp.float32(lr), k) for (t, lr), k in zip(cells, keys, strict=True)]
        return np.array(outs).reshape(len(stack), len(LRS), SEEDS)

    runs = {
        "sweep.run, topology static": swept(False),
        "sweep.run, topology traced": swept(True),
        "loop of jitted runs": looped,
    }
    results = {name: np.asarray(fn()) for name, fn in runs.items()}  # compile
    for name in results:  # same keys and arithmetic up to float32 rounding
        np.testing.assert_allclose(results[name], results["loop of jitted runs"], atol=0.02)
    seconds = {name: [] for name in runs}
    cpu_seconds = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            cpu = time.process_time()
            seconds[name].append(timed(fn))
            cpu_seconds[name].append(time.process_time() - cpu)
    median = {name: float(np.median(s)) for name, s in seconds.items()}
    cpu_median = {name: float(np.median(s)) for name, s in cpu_seconds.items()}

    rng = np.random.default_rng(0)
    t_np = timed(
        lambda: [
            numpy_run(problem.data, stack[i % len(stack)], 0.1, rng) for i in range(numpy_runs)
        ]
    )
    t_np *= points / numpy_runs

    headline = "sweep.run, topology traced"  # one compiled program, the plain way to write it
    best = median[headline]
    print(
        f"D-SGD, {n} nodes, {STEPS} steps, {points} points (digits logistic regression, float32); "
        f"median of {repeats}, shared 2-core machine (other jobs running: compare ratios)"
    )
    loop_cpu = cpu_median["loop of jitted runs"]
    for name, t in median.items():
        print(
            f"  {name:40s} {t:8.2f} s   loop / this {median['loop of jitted runs'] / t:5.2f}x   "
            f"CPU {cpu_median[name]:6.2f} s, loop / this {loop_cpu / cpu_median[name]:5.2f}x"
        )
    print(f"  {f'NumPy loop over steps ({numpy_runs} of {points} runs)':40s} {t_np:8.2f} s")

    print(f"One {STEPS}-step ring run against the node count (best of {repeats}):")
    sizes = (32, 128, 256) if args.quick else (32, 128, 512, 1024)
    for m in sizes:
        problem_m, _ = setup(m)
        sparse = ring_run_seconds(problem_m, sparse=True, repeats=repeats)
        dense = ring_run_seconds(problem_m, sparse=False, repeats=1 if m >= 512 else repeats)
        print(
            f"  digits, n = {m:5d}: neighbour lists {sparse:7.3f} s, dense W @ X {dense:7.3f} s "
            f"(neighbour lists {dense / sparse:5.1f}x faster)"
        )
    # digits has 1,347 training images, so the growth to 4,096 nodes runs on quadratics of
    # the logistic model's size (650 parameters a node), exact gradients
    growth = (32, 512, 4096) if args.quick else (32, 128, 512, 1024, 2048, 4096)
    seconds = {
        m: ring_run_seconds(
            gossip.random_quadratic(0, m, 650), sparse=True, repeats=repeats, stochastic=False
        )
        for m in growth
    }
    print(
        "  quadratics (650 parameters a node), neighbour lists: "
        + ", ".join(f"n = {m}: {t:.3f} s" for m, t in seconds.items())
    )
    print(
        f"  {growth[0]} -> {growth[-1]} nodes ({growth[-1] // growth[0]}x): time x "
        f"{seconds[growth[-1]] / seconds[growth[0]]:.1f}"
    )

    m = 256
    prob_m, _ = setup(m)
    ring = gossip.named_mixing("ring", m)[None]
    grid = sweep.Grid(lr=LRS, seed=range(16))
    ring_sweep = lambda chunk: sweep.run(  # noqa: E731
        lambda p, k: {"accuracy": final_accuracy(prob_m, ring, p["lr"], k)},
        grid,
        key=key,
        chunk_size=chunk,
        progress=False,
    )
    one_m = jax.jit(lambda lr, k: final_accuracy(prob_m, ring, lr, k))
    ring_loop = lambda: [  # noqa: E731
        one_m(jnp.float32(lr), jax.random.fold_in(key, i))
        for i, lr in enumerate(np.repeat(LRS, 16))
    ]
    ring_loop()
    cpu = time.process_time()
    t_ring_loop = timed(ring_loop)
    cpu_ring_loop = time.process_time() - cpu
    for chunk in (8, 64):
        ring_sweep(chunk)
        cpu = time.process_time()
        t = timed(lambda: ring_sweep(chunk))  # noqa: B023
        cpu = time.process_time() - cpu
        print(
            f"  64-point ring sweep at {m} nodes, chunks of {chunk:2d}: "
            f"{t:6.2f} s, CPU {cpu:6.2f} s "
            f"(loop of jitted runs {t_ring_loop:.2f} s, CPU {cpu_ring_loop:.2f} s: "
            f"{t_ring_loop / t:.2f}x, CPU {cpu_ring_loop / cpu:.2f}x)"
        )

    print(f"sweep.run vs NumPy per-step loop: {t_np / best:.1f}x")
    print(f"sweep.run vs loop of jitted runs, CPU time: {loop_cpu / cpu_median[headline]:.2f}x")
    print(f"sweep.run vs loop of jitted runs: {median['loop of jitted runs'] / best:.1f}x")


if __name__ == "__main__":
    main()
