"""What one D-SGD step's products cost per point, vmapped over 64 points against one point.

The products of a step of `gossip_sweep.py` (32 nodes, 10-class logistic regression on
64 features, minibatch 16, float32), each written the ways that were tried:

- forward scores: every node's minibatch times its own weights, a dot with the nodes as a
  batch dimension (`nbd,ndk->nbk`), or a broadcast multiply-and-sum over d;
- backward weight gradient: `nbd,nbk->ndk` (what `jax.grad` of `inputs @ w` emits),
  the same with the output in (k, d) order (weights stored transposed), or a broadcast
  multiply-and-sum over the minibatch in either order; the (k, d) forms also flattened to
  one row of 640 per node, as the update that feeds a dense W @ X flattens them (there XLA
  fuses the multiply-and-sum into that update);
- mixing W @ X (X: 32 nodes x 650 parameters): one W per point (a traced topology), one W
  shared by the chunk (vmap moves the node axis in front of the point axis), or that W
  broadcast to every point.

Each is run 50 times inside one compiled `fori_loop` (no dispatch), at 1 point and vmapped
over 64 points; the CPU time per point and per product is printed, then 64 points over 1
point. XLA's CPU backend runs a dot with batch dimensions as one small Eigen product per
batch entry, so the per-node products cost about as much per point in a batch of 64 as
alone, and the batch's working set (64 x 83 KB of node models, 64 x 131 KB of minibatch
rows) leaves the 1 MB L2 cache, so even the mixing product runs at about half the rate of
a single point's. The last line is the cheapest batched forward + backward + mixing per
point against the single point's.

    python benchmarks/gossip_products.py

XLA's CPU library fusions are switched on by its flags, e.g.
`XLA_FLAGS=--xla_cpu_experimental_xnn_fusion_type=dot python benchmarks/gossip_products.py`
(also `--xla_cpu_experimental_ynn_fusion_type=dot`, `--xla_cpu_use_onednn=true`,
`--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY`).
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

POINTS, NODES, BATCH, FEATURES, CLASSES = 64, 32, 16, 64, 10
PARAMETERS = FEATURES * CLASSES + CLASSES
REPEATS = 50

PRODUCTS = {
    "forward, batched dot": ("forward", lambda x, w: jnp.einsum("nbd,ndk->nbk", x, w)),
    "forward, multiply-and-sum": (
        "forward",
        lambda x, w: jnp.sum(x[..., :, :, None] * w[..., None, :, :], axis=-2),
    ),
    "backward (d, k), batched dot": ("backward", lambda x, e: jnp.einsum("nbd,nbk->ndk", x, e)),
    "backward (k, d), batched dot": ("backward", lambda x, e: jnp.einsum("nbk,nbd->nkd", e, x)),
    "backward (d, k), multiply-and-sum": (
        "backward",
        lambda x, e: jnp.sum(x[..., :, :, None] * e[..., :, None, :], axis=-3),
    ),
    "backward (k, d), multiply-and-sum": ("backward", lambda x, e: _backward_kd(x, e)),
    "backward (k, d), batched dot, flattened": (
        "backward",
        lambda x, e: _flat(jnp.einsum("nbk,nbd->nkd", e, x)),
    ),
    "backward (k, d), multiply-and-sum, flattened": (
        "backward",
        lambda x, e: _flat(_backward_kd(x, e)),
    ),
}


def _backward_kd(x, e):
    """The weight gradient in (k, d) order as a broadcast multiply-and-sum over the minibatch."""
    return jnp.sum(x[..., :, None, :] * e[..., :, :, None], axis=-3)


def _flat(g):
    """A node's gradient flattened to one row, as the update before a dense W @ X sees it."""
    return g.reshape(*g.shape[:-2], g.shape[-2] * g.shape[-1])


def mix(x, w):
    """One gossip step W @ X of one point."""
    return w @ x


def operands(points: int) -> dict[str, jax.Array]:
    """Random float32 operands with a leading point axis."""
    rng = np.random.default_rng(0)
    shapes = {
        "x": (points, NODES, BATCH, FEATURES),
        "w": (points, NODES, FEATURES, CLASSES),
        "e": (points, NODES, BATCH, CLASSES),
        "models": (points, NODES, PARAMETERS),
        "mixing": (points, NODES, NODES),
    }
    return {k: jnp.asarray(rng.standard_normal(s), jnp.float32) for k, s in shapes.items()}


def cpu_seconds(product, *args) -> float:
    """CPU seconds of one product, the best of 3 runs of REPEATS chained calls in one program."""

    @jax.jit
    def chained(first, *rest):
        def body(_, acc):  # feed the result back so that no call is hoisted out of the loop
            return acc + product(first + acc.ravel()[0] * 1e-30, *rest) * 1e-3

        return jax.lax.fori_loop(0, REPEATS, body, jnp.zeros_like(product(first, *rest)))

    jax.block_until_ready(chained(*args))
    best = np.inf
    for _ in range(3):
        start = time.process_time()
        jax.block_until_ready(chained(*args))
        best = min(best, time.process_time() - start)
    return best / REPEATS


def per_point_us(points: int) -> dict[str, float]:
    """Microseconds of CPU per point of each product, vmapped over `points` (1: unbatched)."""
    ops = operands(points)

    def batched(f, shared=()):
        if points == 1:
            return lambda *a: f(*(b if i in shared else b[0] for i, b in enumerate(a)))
        return jax.vmap(f, in_axes=tuple(None if i in shared else 0 for i in range(2)))

    seconds = {}
    for name, (kind, f) in PRODUCTS.items():
        second = ops["w"] if kind == "forward" else ops["e"]
        seconds[name] = cpu_seconds(batched(f), ops["x"], second)
    seconds["mixing, one W per point"] = cpu_seconds(batched(mix), ops["models"], ops["mixing"])
    seconds["mixing, one W shared"] = cpu_seconds(
        batched(mix, shared=(1,)), ops["models"], ops["mixing"][0]
    )

    def broadcast(x, w):
        return jnp.einsum("pij,pjd->pid", jnp.broadcast_to(w, (points, *w.shape)), x)

    seconds["mixing, shared W broadcast"] = cpu_seconds(broadcast, ops["models"], ops["mixing"][0])
    return {name: 1e6 * s / points for name, s in seconds.items()}


def main() -> None:
    one, many = per_point_us(1), per_point_us(POINTS)
    print(
        f"One D-SGD step's products, {NODES} nodes, minibatch {BATCH}, {FEATURES} -> {CLASSES} "
        f"(float32): CPU microseconds per point, best of 3 x {REPEATS} calls; "
        f"load {os.getloadavg()[0]:.1f} on 2 cores"
    )
    print(f"  {'product':44s} {'1 point':>9s} {f'{POINTS} points':>10s}  1 / {POINTS} per point")
    for name in one:
        print(f"  {name:44s} {one[name]:9.1f} {many[name]:10.1f}  {one[name] / many[name]:6.2f}x")

    def cheapest(table, kind):
        return min(v for k, v in table.items() if k.startswith(kind))

    kinds = ("forward", "backward", "mixing")
    best_one = sum(cheapest(one, k) for k in kinds)
    best_many = sum(cheapest(many, k) for k in kinds)
    print(
        f"cheapest forward + backward + mixing: {best_one:.1f} us alone, {best_many:.1f} us per "
        f"point in a batch of {POINTS}"
    )
    print(f"products per point, one point over the batch of {POINTS}: {best_one / best_many:.1f}x")


if __name__ == "__main__":
    main()
