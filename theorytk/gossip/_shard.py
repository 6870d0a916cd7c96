"""Nodes sharded over devices: a block of n/D consecutive nodes per device under `shard_map`.

Ring gossip needs only each block's two boundary rows from the neighbouring devices
(`lax.ppermute`, 2 rows per step per device whatever n); a general W is a sharded matmul,
each device multiplying its block of rows of W by the all-gathered models. On CPU, test
with XLA_FLAGS=--xla_force_host_platform_device_count=4; on a pod, the mesh spans hosts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jaxtyping import Array

from ._algorithms import Method, Mixer
from ._mixing import check_mixing
from ._problems import Problem


def ring_mixer(axis: str, self_weight: float = 1 / 3) -> Mixer:
    """Ring gossip x_i <- a x_i + (1 - a)/2 (x_{i-1} + x_{i+1}) on a node block inside shard_map.

    The block's first (last) row comes from the previous (next) device by `lax.ppermute`.
    a = 1/3 is the Metropolis-Hastings (and uniform-neighbour) weight of the ring.
    """
    side = (1 - self_weight) / 2

    def mix(tree: Any, t: Array) -> Any:
        devices = jax.lax.axis_size(axis)
        right = [(i, (i + 1) % devices) for i in range(devices)]
        left = [(i, (i - 1) % devices) for i in range(devices)]

        def one(a: Array) -> Array:
            from_left = jax.lax.ppermute(a[-1:], axis, right)
            from_right = jax.lax.ppermute(a[:1], axis, left)
            prev = jnp.concatenate([from_left, a[:-1]])
            nxt = jnp.concatenate([a[1:], from_right])
            return self_weight * a + side * (prev + nxt)

        return jax.tree.map(one, tree)

    return mix


def dense_mixer(rows: Array, axis: str) -> Mixer:
    """General gossip on a node block: this device's rows of W times the all-gathered models."""

    def mix(tree: Any, t: Array) -> Any:
        def one(a: Array) -> Array:
            full = jax.lax.all_gather(a, axis, tiled=True)
            return jnp.tensordot(rows.astype(a.dtype), full, axes=1)

        return jax.tree.map(one, tree)

    return mix


def run_sharded(
    build: Callable[[Problem, Mixer], Method],
    problem: Problem,
    x0: Any,
    key: Array,
    *,
    steps: int,
    mesh: Mesh,
    mixing: str | np.ndarray = "ring",
) -> tuple[Any, Array]:
    """Run a method with the nodes sharded over `mesh`'s one axis; final models and consensus trace.

    `build(problem_block, mix)` makes the method for one device's block (e.g.
    `lambda p, mix: dsgd(p, mix, optax.sgd(0.1))`); the gossip is `ring_mixer` for
    mixing="ring" (MH weights 1/3) or `dense_mixer` for a doubly stochastic (n, n) W.
    Results equal the single-device run with the same W up to float reassociation.

    Args:
        build: method factory for a block of nodes.
        problem: node objectives (data with leading axis n, n divisible by the device count).
        x0: initial models, leading axis n.
        key: PRNG key.
        steps: number of steps.
        mesh: a one-axis `jax.sharding.Mesh`.
        mixing: "ring" or an (n, n) mixing matrix.

    Returns:
        (final models, the consensus error (1/n) sum_i ||x_i - xbar||^2 after every step).
    """
    (axis,) = mesh.axis_names
    devices, n = mesh.shape[axis], problem.n_nodes
    if n % devices:
        raise ValueError(f"n = {n} nodes cannot be split evenly over {devices} devices")
    if isinstance(mixing, str):
        if mixing != "ring":
            raise ValueError(f"mixing must be 'ring' or an (n, n) matrix, got {mixing!r}")
        rows = None
    else:
        w = check_mixing(mixing)
        if w.shape != (n, n):
            raise ValueError(f"mixing must be ({n}, {n}) for {n} nodes, got {w.shape}")
        rows = jnp.asarray(w)
    block = n // devices
    data_spec = jax.tree.map(lambda _: P(axis), problem.data)
    x_spec = jax.tree.map(lambda _: P(axis), x0)

    def per_device(data: Any, x: Any, w_rows: Array | None, key: Array):
        offset = jax.lax.axis_index(axis) * block
        local = eqx.tree_at(lambda p: (p.data, p.node_offset), problem, (data, offset))
        mix = ring_mixer(axis) if w_rows is None else dense_mixer(w_rows, axis)
        method = build(local, mix)

        def body(state: Any, t: Array) -> tuple[Any, Array]:
            state = method.step(state, t, jax.random.fold_in(key, t))
            total = jax.lax.psum(jax.tree.map(lambda a: a.sum(0), state.x), axis)
            mean = jax.tree.map(lambda s: s / n, total)
            dev = sum(
                jnp.sum((a - m) ** 2)
                for a, m in zip(jax.tree.leaves(state.x), jax.tree.leaves(mean), strict=True)
            )
            return state, jax.lax.psum(dev, axis) / n

        state, trace = jax.lax.scan(body, method.init(x), jnp.arange(steps))
        return state.x, trace

    in_specs = (data_spec, x_spec, None if rows is None else P(axis), P())
    fn = jax.shard_map(
        per_device, mesh=mesh, in_specs=in_specs, out_specs=(x_spec, P()), check_vma=False
    )
    nodes = NamedSharding(mesh, P(axis))
    data, x0 = jax.device_put((problem.data, x0), nodes)
    rows = None if rows is None else jax.device_put(rows, nodes)
    return jax.jit(fn)(data, x0, rows, key)
