"""Compiled execution of one static configuration: chunks, devices, hosts."""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

try:
    from jax import shard_map

    _UNCHECKED = {"check_vma": False}  # models' loops carry per-device values freely
except ImportError:  # jax < 0.7
    from jax.experimental.shard_map import shard_map

    _UNCHECKED = {"check_rep": False}

from ._function import SweptFunction
from ._lanes import run_in_lanes
from ._status import combine_status

_POINTS = "points"


def point_mesh(devices: list[jax.Device] | None) -> Mesh:
    """A 1-D mesh over `devices` (default: every device of every process) for the point axis."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("devices= is empty; pass at least one jax.Device or leave it as None")
    if any(d.platform == "cpu" for d in devices):
        _warn_if_lapack_deadlocks(jaxlib.version.__version__)
    return Mesh(np.asarray(devices), (_POINTS,))


@functools.cache
def _warn_if_lapack_deadlocks(version: str) -> None:
    """Warn once on the jaxlib releases whose batched CPU LAPACK kernels can deadlock.

    jaxlib 0.10.0 to 0.11.1 split a batched factorisation (solve, LU, Cholesky, eigh, ...)
    over the CPU intra-op thread pool and block a pool worker until the pieces finish; when
    every worker does that at once (several devices, or independent solves in one program)
    nothing is left to run the pieces and the sweep hangs. theorytk's requirements exclude
    these releases; this catches an environment that installed one anyway.
    """
    release = tuple(int(part) for part in version.split(".")[:3] if part.isdigit())
    if (0, 10, 0) <= release < (0, 11, 2):
        warnings.warn(
            f"jaxlib {version} can deadlock in batched linear algebra on CPU (solve, LU, "
            "Cholesky, eigh under vmap); install jaxlib < 0.10 or >= 0.11.2",
            RuntimeWarning,
            stacklevel=3,
        )


class ChunkRunner:
    """`runner(dynamic_values, flat_index) -> metrics + status` for chunks of one static setting.

    The program is compiled ahead of time once per chunk length (`compiled`), so the
    executable whose memory `memory` reports is the one that runs the chunks.
    """

    def __init__(self, program: Any, sharding: NamedSharding):
        self._program = program
        self._sharding = sharding
        self._executables: dict[tuple, Any] = {}

    def compiled(self, values: Mapping[str, np.ndarray], flat_index: np.ndarray) -> Any:
        """The executable for inputs shaped like `values` and `flat_index` (compiled once)."""
        inputs = ({k: values[k] for k in sorted(values)}, flat_index)
        signature = tuple((v.shape, v.dtype.str) for v in jax.tree.leaves(inputs))
        executable = self._executables.get(signature)
        if executable is None:
            abstract = jax.tree.map(
                lambda v: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=self._sharding), inputs
            )
            executable = self._executables[signature] = self._program.lower(*abstract).compile()
        return executable

    def memory(self, values: Mapping[str, np.ndarray], flat_index: np.ndarray) -> int | None:
        """Bytes one device holds while running a chunk like this (XLA's memory analysis:
        arguments, outputs and temporaries, less the outputs that reuse argument buffers);
        None where the backend does not analyse memory."""
        stats = self.compiled(values, flat_index).memory_analysis()
        if stats is None:
            return None
        return int(
            stats.argument_size_in_bytes
            + stats.output_size_in_bytes
            + stats.temp_size_in_bytes
            - stats.alias_size_in_bytes
        )

    def __call__(
        self, values: dict[str, np.ndarray], flat_index: np.ndarray
    ) -> dict[str, np.ndarray]:
        executable = self.compiled(values, flat_index)
        inputs = {name: _shard(v, self._sharding) for name, v in sorted(values.items())}
        out = executable(inputs, _shard(flat_index, self._sharding))
        if jax.process_count() > 1:
            return {
                k: np.asarray(v)
                for k, v in multihost_utils.process_allgather(out, tiled=True).items()
            }
        return {k: np.asarray(v) for k, v in out.items()}


_COMPILED: OrderedDict[tuple, ChunkRunner] = OrderedDict()
_CACHE_SIZE = 32


def compile_chunk(
    swept: SweptFunction,
    static_params: dict[str, Any],
    key: Any,
    metric_names: list[str],
    mesh: Mesh,
    lanes: int | None = None,
) -> ChunkRunner:
    """`run(dynamic_values, flat_index) -> metrics + status` for chunks of one static setting.

    Point i gets the key `fold_in(key, flat_index[i])`, so its draws do not depend on the
    chunk it lands in or the device it runs on. The chunk axis is sharded over `mesh`. A
    `refillable` function with `lanes` runs each device's share of the chunk in that many
    refilled lanes (`run_in_lanes`); otherwise the chunk is one `vmap`. Runners are cached
    (when the function and config are hashable), so repeating a sweep does not recompile.
    """
    key_data = jax.random.key_data(key) if _is_typed_key(key) else key
    cache_key = (
        swept,
        tuple(sorted(static_params.items())),
        str(getattr(key, "dtype", "")),
        np.asarray(key_data).tobytes(),
        tuple(metric_names),
        mesh,
        lanes,
    )
    build = (swept, static_params, key, metric_names, mesh, lanes)
    try:
        runner = _COMPILED.get(cache_key)
    except TypeError:  # an unhashable config: compile without caching
        return _build(*build)
    if runner is None:
        runner = _COMPILED[cache_key] = _build(*build)
        if len(_COMPILED) > _CACHE_SIZE:
            _COMPILED.popitem(last=False)
    return runner


def _is_typed_key(key: Any) -> bool:
    return jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)


def _build(
    swept: SweptFunction,
    static_params: dict[str, Any],
    key: Any,
    metric_names: list[str],
    mesh: Mesh,
    lanes: int | None,
) -> ChunkRunner:
    sharding = NamedSharding(mesh, PartitionSpec(_POINTS))

    def with_status(out: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(out)
        model_status = out.pop("status", None)
        metrics = {name: jnp.asarray(out[name]) for name in metric_names}
        finite = jnp.all(jnp.stack([_is_finite(v) for v in metrics.values()]))
        return {**metrics, "status": combine_status(model_status, finite)}

    def one_point(dynamic: Mapping[str, Any], index: Any) -> dict[str, Any]:
        params = {**static_params, **dynamic}
        return with_status(swept(params, jax.random.fold_in(key, index)))

    loop = swept.loop() if lanes is not None else None
    if loop is None:
        compiled = jax.jit(jax.vmap(one_point), out_shardings=sharding)
    else:
        point_init = loop.init
        loop = loop._replace(
            init=lambda dynamic, index: point_init(
                {**static_params, **dynamic}, jax.random.fold_in(key, index)
            )
        )

        def in_lanes(dynamic: Mapping[str, Any], index: Any) -> dict[str, Any]:
            return jax.vmap(with_status)(run_in_lanes(loop, (dynamic, index), lanes))

        spec = PartitionSpec(_POINTS)
        compiled = jax.jit(
            shard_map(in_lanes, mesh=mesh, in_specs=spec, out_specs=spec, **_UNCHECKED)
        )

    return ChunkRunner(compiled, sharding)


def _is_finite(value: jax.Array) -> jax.Array:
    if jnp.issubdtype(value.dtype, jnp.inexact):
        return jnp.all(jnp.isfinite(value))
    return jnp.asarray(True)


def _shard(values: np.ndarray, sharding: NamedSharding) -> jax.Array:
    return jax.make_array_from_callback(values.shape, sharding, lambda index: values[index])


def padded_length(chunk_size: int, n_devices: int) -> int:
    """Chunk length rounded up to a multiple of the device count (one shape, one compile)."""
    return -(-chunk_size // n_devices) * n_devices
