"""D-SGD grid on digits logistic regression: one sweep.run vs a loop of jitted runs vs NumPy.

64 points = 4 topologies x 4 steps x 4 seeds, 32 nodes, 10-class logistic regression on the
digits split by Dirichlet(0.5), minibatch 16, STEPS iterations of ATC D-SGD. The NumPy version
is what a paper script does: a Python loop over steps, per-node gradients vectorised over
nodes, W @ X gossip. Then the time of one jitted run as the node count grows 32 -> 1024.

    python benchmarks/gossip_sweep.py
"""

from __future__ import annotations

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


def make_simulate(problem, stack):
    def simulate(params, key):
        w = jnp.asarray(stack)[params["topology"].astype(int)][None]
        method = gossip.dsgd(problem, w, optax.sgd(params["lr"]), stochastic=True)
        x0 = problem.init_nodes(key)
        state, _ = gossip.run(method, x0, key, steps=STEPS, metrics=lambda s: {})
        xbar = jax.tree.map(lambda a: a.mean(0), state.x)
        return {"accuracy": problem.accuracy(xbar)}

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
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - start


def main() -> None:
    n = 32
    problem, stack = setup(n)
    simulate = make_simulate(problem, stack)
    grid = sweep.Grid(topology=np.arange(len(stack), dtype=float), lr=LRS, seed=range(SEEDS))
    points = len(stack) * len(LRS) * SEEDS
    run = lambda: sweep.run(simulate, grid, key=jax.random.key(0), progress=False)  # noqa: E731
    run()  # compile
    t_sweep = min(timed(run) for _ in range(2))

    one = jax.jit(simulate)
    params = [
        {"topology": jnp.asarray(float(t)), "lr": jnp.asarray(lr)}
        for t in range(len(stack))
        for lr in LRS
        for _ in range(SEEDS)
    ]
    keys = [jax.random.fold_in(jax.random.key(0), i) for i in range(points)]
    one(params[0], keys[0])
    t_loop = timed(lambda: [one(p, k) for p, k in zip(params, keys, strict=True)])

    rng = np.random.default_rng(0)
    sample = 4  # NumPy runs timed; the grid's time is extrapolated linearly
    t_np = timed(
        lambda: [numpy_run(problem.data, stack[i % len(stack)], 0.1, rng) for i in range(sample)]
    )
    t_np *= points / sample

    print(f"D-SGD, {n} nodes, {STEPS} steps, {points} points (digits logistic regression)")
    print(f"  sweep.run (one vmapped call)      {t_sweep:8.2f} s")
    print(f"  Python loop of jitted runs        {t_loop:8.2f} s")
    print(f"  NumPy loop over steps (from {sample} runs) {t_np:8.2f} s")
    for m in (32, 128, 512, 1024):
        prob_m, stack_m = setup(m)
        sim_m = jax.jit(make_simulate(prob_m, stack_m[:1]))
        p = {"topology": jnp.asarray(0.0), "lr": jnp.asarray(0.1)}
        sim_m(p, keys[0])
        print(f"  one ring run at n = {m:5d} nodes:  {timed(lambda: sim_m(p, keys[0])):8.3f} s")  # noqa: B023
    print(f"sweep.run vs loop of jitted runs: {t_loop / t_sweep:.1f}x")
    print(f"sweep.run vs NumPy per-step loop: {t_np / t_sweep:.1f}x")


if __name__ == "__main__":
    main()
