"""`run`: sweep a function over every point of a grid, chunked, vmapped, sharded, resumable."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
import xarray as xr
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from tqdm.auto import tqdm

from theorytk._validation import check_integer

from ._chunking import STORE_CHUNK, ChunkMemoryError, auto_chunk, available_memory, chunk_cap
from ._domain import check_values, param_domain
from ._execute import ChunkRunner, compile_chunk, padded_length, point_mesh
from ._function import MetricSpec, SweptFunction, canonical_dtype, inspect_function, wrap_function
from ._grid import Grid
from ._loop import loop_factory
from ._metadata import provenance
from ._status import STATUS_CODES
from ._store import (
    ProgressStore,
    ResumeError,
    open_checked,
    read_verified,
    remove,
    report_recomputed,
    save,
    unreadable,
)

DEFAULT_LANES = 64


@dataclass(frozen=True)
class ChunkInfo:
    """What `on_chunk` is told after each computed chunk."""

    static_params: dict[str, Any]
    chunk: int
    n_chunks: int
    n_points: int
    chunk_size: int


def run(
    fn: Callable[..., Any],
    grid: Grid,
    *,
    key: jax.Array | None = None,
    config: Any = None,
    chunk_size: int | str = "auto",
    store: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    devices: Sequence[jax.Device] | None = None,
    on_chunk: Callable[[ChunkInfo], None] | None = None,
    lanes: int | None = None,
    memory_limit: int | None = None,
) -> xr.Dataset:
    """Evaluate `fn` on every point of `grid` and return the results as an `xarray.Dataset`.

    `fn(params, key)` (or `fn(params, key, *, config)`, or `fn(params)` for a deterministic
    theory) receives `params`, a dict with one scalar per grid axis, and returns a dict of
    named scalar metrics; it may add an integer `status` entry (see `Status`). For each
    combination of static axes it is compiled once, then `jax.vmap`-ed over chunks of
    `chunk_size` points (by default the largest chunk that fits in the devices' memory),
    each chunk sharded over `devices` (default: all devices of all processes under
    `jax.distributed`). Point i of the flattened grid (C order, all axes)
    receives the key `jax.random.fold_in(key, i)`, so results do not depend on the chunk size
    or the number of devices.

    Args:
        fn: the function to sweep.
        grid: the axes to sweep over.
        key: base PRNG key; required when `fn` takes a key.
        config: static configuration passed as `config=` (shapes, step counts, ...).
        chunk_size: points per vmapped call; bounds memory. `"auto"` (the default) takes,
            for each combination of static axes, the largest chunk (at most the number of
            points; at most 4096 on CPU, 65,536 per device on GPU/TPU) whose compiled
            program, by XLA's memory analysis, uses at most half of each device's available
            memory; it raises `ChunkMemoryError` if not even one point per device fits.
        store: a `.zarr` path; results are written there, chunk by chunk while running
            (to `<store>.partial`), then as the final Dataset.
        resume: continue an interrupted sweep in `store`, computing only missing chunks.
        progress: show a progress bar (only when stderr is a terminal).
        devices: devices for the point axis (default `jax.devices()`).
        on_chunk: called after each computed chunk (e.g. for logging).
        lanes: for a function marked `refillable` (a model trained until a stopping rule):
            points stepping at a time on each device (default `DEFAULT_LANES`, capped at the
            chunk). A lane whose point has stopped takes the next point of the chunk, so a
            chunk costs about the sum of its points' run lengths over `lanes` instead of its
            size times the longest run. Results do not depend on it.
        memory_limit: bytes per device that `chunk_size="auto"` takes as available, instead
            of what the device (on CPU, the host) reports free.

    Returns:
        A Dataset with one dimension per axis (coordinates = axis values), one variable per
        metric, `status` (int8, see `Status`), and attrs recording config and versions.
    """
    _check_options(chunk_size, store, resume, memory_limit)
    if not isinstance(grid, Grid):
        raise TypeError(
            f"grid must be a sweep.Grid, got {type(grid).__name__}; "
            "e.g. sweep.Grid(ridge=sweep.geomspace(1e-4, 10, 32), seed=range(8))"
        )
    if grid.size > np.iinfo(np.uint32).max:  # point keys fold in a uint32 flat index
        raise ValueError(f"grids of more than 2**32 points are not supported, got {grid.size}")
    swept = wrap_function(fn, config)
    lanes = _check_lanes(lanes, swept)
    key = _check_key(key, swept)
    check_values(param_domain(fn), {a.name: a.values for a in grid.axes})
    first_static = next(grid.static_points())[1]
    spec = inspect_function(swept, grid, first_static, key)
    attrs = provenance(config, swept, grid, key, chunk_size, spec)
    store = None if store is None else Path(store)
    results, used = _run_all(
        swept,
        grid,
        key,
        spec,
        chunk_size,
        store,
        attrs["fingerprint"],
        resume,
        progress,
        devices,
        on_chunk,
        lanes,
        memory_limit,
    )
    if used:
        attrs["chunk_size"] = used[0] if len(set(used)) == 1 else used
    ds = _to_dataset(grid, results, attrs)
    if store is not None and jax.process_index() == 0:
        save(ds, store)
        remove(_partial_path(store))
    return ds


def _check_options(chunk_size: Any, store: Any, resume: bool, memory_limit: Any) -> None:
    if not (isinstance(chunk_size, str) and chunk_size == "auto"):
        try:
            check_integer("chunk_size", chunk_size)
        except ValueError:
            raise ValueError(
                f'chunk_size must be "auto" or an integer >= 1, got {chunk_size!r}'
            ) from None
        if memory_limit is not None:
            raise ValueError(
                'memory_limit= sizes chunk_size="auto"; with an integer chunk_size drop it'
            )
    if memory_limit is not None:
        check_integer("memory_limit", memory_limit)
    if resume and store is None:
        raise ValueError("resume=True needs store= (the .zarr path of the interrupted sweep)")
    if store is not None and Path(store).suffix != ".zarr":
        raise ValueError(f"store must be a path ending in .zarr, got {str(store)!r}")


def _check_lanes(lanes: Any, swept: SweptFunction) -> int | None:
    refillable = loop_factory(swept.fn) is not None
    if lanes is None:
        return DEFAULT_LANES if refillable else None
    check_integer("lanes", lanes)
    if not refillable:
        raise ValueError(
            "lanes= applies to a function marked sweep.refillable (a Loop model); "
            f"{swept.name} is not, so drop lanes="
        )
    return int(lanes)


def _check_key(key: Any, swept: SweptFunction) -> jax.Array:
    """The base key: a typed PRNG key (`jax.random.key`) or a raw one (`jax.random.PRNGKey`)."""
    if key is None:
        if swept.takes_key:
            raise ValueError(
                "the swept function takes a key, so run() needs key=, e.g. key=jax.random.key(0)"
            )
        return jax.random.key(0)
    dtype = getattr(key, "dtype", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    raw = dtype == np.uint32 and np.ndim(key) == 1
    if not ((typed and np.ndim(key) == 0) or raw):
        got = f"{type(key).__name__} {key!r}" if dtype is None else f"an array {jax.typeof(key)}"
        raise TypeError(
            f"key must be one PRNG key, e.g. key=jax.random.key(0), got {got}; "
            "a seed belongs in the grid (seed=range(n)) or in jax.random.key(seed)"
        )
    return key


def _partial_path(store: Path) -> Path:
    return store.with_name(store.name + ".partial")


Flat = dict[str, np.ndarray]  # name -> values shaped (static combinations, dynamic points)


def _empty_results(spec: MetricSpec, shape: tuple[int, int]) -> Flat:
    results = {n: np.empty(shape, d) for n, d in spec.dtypes.items()}
    results["status"] = np.zeros(shape, np.int8)
    return results


def _open_store(
    store: Path,
    fingerprint: str,
    grid: Grid,
    chunk_size: int,
    spec: MetricSpec,
    resume: bool,
) -> tuple[ProgressStore | None, np.ndarray, Flat]:
    """On the owning process: the progress store, which points are done, and their values.

    A partial store (a run started after any finished one) counts as the points it flags
    done whose chunks are present and pass their checksums; else a finished store (a
    previous run's Dataset) as every point whose chunks do; without `resume` everything
    starts over.
    """
    names = list(spec.dtypes)
    if resume and store.exists() and not _partial_path(store).exists():
        return None, *_read_finished(store, fingerprint, grid, [*names, "status"])
    n_dynamic = math.prod(len(a) for a in grid.dynamic_axes)
    shape = (grid.size // n_dynamic, n_dynamic)
    writer = ProgressStore.open(
        _partial_path(store), fingerprint, shape, chunk_size, spec.dtypes, resume
    )
    done, values = writer.read(names)
    return writer, done, values


def _read_finished(
    store: Path, fingerprint: str, grid: Grid, names: list[str]
) -> tuple[np.ndarray, Flat]:
    """(done, values) of a finished store: points in damaged chunks are not done (reported)."""
    group = open_checked(store, fingerprint, "r")
    lost = np.zeros(grid.shape, bool)
    reasons = []
    values = {}
    for name in names:
        try:
            array = group[name]
        except Exception as error:  # a deleted variable: the store is not a result of this sweep
            raise unreadable(store, error) from None
        values[name], damaged = read_verified(store / name, array)
        for region, why, _ in damaged:
            lost[region] = True
            reasons.append(why)
    flat = {name: _flatten(xr.DataArray(v, dims=grid.names), grid) for name, v in values.items()}
    if reasons:
        report_recomputed(store, int(lost.sum()), reasons, stacklevel=5)
    return ~_flatten(xr.DataArray(lost, dims=grid.names), grid), flat


def _flatten(da: xr.DataArray, grid: Grid) -> np.ndarray:
    """A result variable as (static combinations, dynamic points): `_to_dataset` undone."""
    order = [a.name for a in grid.static_axes] + [a.name for a in grid.dynamic_axes]
    n_dynamic = math.prod(len(a) for a in grid.dynamic_axes)
    return da.transpose(*order).values.reshape(-1, n_dynamic)


def _shared_from_owner(
    done: np.ndarray, values: Flat, failure: str | None
) -> tuple[np.ndarray, Flat]:
    """Every process gets process 0's view of the store (a no-op on one process).

    Only process 0 reads or writes the store, so hosts without a shared filesystem (or
    with one, without racing) agree on what is done; a refusal on process 0 is raised on
    every process rather than leaving the others waiting in a collective.
    """
    if jax.process_count() == 1:
        if failure is not None:
            raise ResumeError(failure)
        return done, values
    refused = multihost_utils.broadcast_one_to_all(np.int32(failure is not None))
    if int(refused):
        raise ResumeError(failure or "process 0 refused to resume the store (see its error)")
    done = np.array(multihost_utils.broadcast_one_to_all(done))
    values = {k: np.array(v) for k, v in multihost_utils.broadcast_one_to_all(values).items()}
    return done, values


def _run_all(
    swept: SweptFunction,
    grid: Grid,
    key: jax.Array,
    spec: MetricSpec,
    chunk_size: int | str,
    store: Path | None,
    fingerprint: str,
    resume: bool,
    progress: bool,
    devices: Sequence[jax.Device] | None,
    on_chunk: Callable[[ChunkInfo], None] | None,
    lanes: int | None,
    memory_limit: int | None,
) -> tuple[Flat, list[int]]:
    """Compute every point not already stored; return flat arrays shaped (static, dynamic)
    and the chunk size used for each static combination that had points to compute."""
    n_dynamic = int(np.prod([len(a) for a in grid.dynamic_axes], dtype=np.int64))
    shape = (grid.size // n_dynamic, n_dynamic)
    writer, done, results = None, np.zeros(shape, bool), _empty_results(spec, shape)
    if store is not None:
        failure = None
        layout = STORE_CHUNK if chunk_size == "auto" else chunk_size
        if jax.process_index() == 0:
            try:
                writer, done, results = _open_store(
                    store, fingerprint, grid, min(layout, n_dynamic), spec, resume
                )
            except ResumeError as error:
                failure = str(error)
        done, results = _shared_from_owner(done, results, failure)
    mesh = point_mesh(None if devices is None else list(devices))
    available = None
    used = []
    show = progress and sys.stderr.isatty() and jax.process_index() == 0
    with tqdm(total=grid.size, unit="pt", unit_scale=True, disable=not show) as bar:
        for static_index, (indices, static_params) in enumerate(grid.static_points()):
            if done[static_index].all():
                bar.update(n_dynamic)
                continue
            run_chunk = compile_chunk(swept, static_params, key, list(spec.dtypes), mesh, lanes)
            size = chunk_size
            if size == "auto":
                if available is None:
                    available = available_memory(list(mesh.devices.flat), memory_limit)
                size = _auto_size(run_chunk, grid, indices, mesh, available)
            size = min(size, n_dynamic)
            used.append(size)
            bar.set_postfix_str(f"chunk={size}")
            todo = _todo(done[static_index], size)
            bar.update(n_dynamic - sum(min(size, n_dynamic - c * size) for c in todo))
            for chunk, start, out in _run_chunks(run_chunk, grid, indices, size, todo, mesh.size):
                for k, v in out.items():
                    results[k][static_index, start : start + len(v)] = v
                if writer is not None:
                    writer.write(static_index, start, out)
                bar.update(len(out["status"]))
                if on_chunk is not None:
                    n_chunks = -(-n_dynamic // size)
                    info = ChunkInfo(static_params, chunk, n_chunks, len(out["status"]), size)
                    on_chunk(info)
    return results, used


def _todo(done: np.ndarray, chunk_size: int) -> list[int]:
    """The chunks of one static combination with a point not done."""
    n_chunks = -(-len(done) // chunk_size)
    return [c for c in range(n_chunks) if not done[c * chunk_size : (c + 1) * chunk_size].all()]


def _run_chunks(
    run_chunk: ChunkRunner,
    grid: Grid,
    indices: tuple[int, ...],
    chunk_size: int,
    todo: list[int],
    n_devices: int,
) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """(chunk, start, metrics) of each chunk in `todo` of one static combination."""
    n_dynamic = int(np.prod([len(a) for a in grid.dynamic_axes], dtype=np.int64))
    length = padded_length(chunk_size, n_devices)
    for chunk in todo:
        start = chunk * chunk_size
        stop = min(start + chunk_size, n_dynamic)
        local = _padded_range(start, stop, length)
        out = run_chunk(_dynamic_values(grid, local), _flat_index(grid, indices, local))
        yield chunk, start, {k: v[: stop - start] for k, v in out.items()}


def _auto_size(
    run_chunk: ChunkRunner,
    grid: Grid,
    indices: tuple[int, ...],
    mesh: Mesh,
    available: float,
) -> int:
    """`chunk_size="auto"` for one static combination (`auto_chunk`), the same on every
    process (process 0's choice; its refusal is raised everywhere)."""
    n_dynamic = int(np.prod([len(a) for a in grid.dynamic_axes], dtype=np.int64))

    def memory(chunk: int) -> int | None:
        local = _padded_range(0, min(chunk, n_dynamic), padded_length(chunk, mesh.size))
        return run_chunk.memory(_dynamic_values(grid, local), _flat_index(grid, indices, local))

    failure = None
    try:
        cap = chunk_cap(list(mesh.devices.flat))
        size = auto_chunk(memory, n_dynamic, mesh.size, available, cap)
    except ChunkMemoryError as error:
        size, failure = 0, error
    if jax.process_count() > 1:
        size = int(multihost_utils.broadcast_one_to_all(np.int64(size)))
    if size == 0:
        raise failure or ChunkMemoryError("process 0 found no chunk that fits (see its error)")
    return size


def _padded_range(start: int, stop: int, length: int) -> np.ndarray:
    """Dynamic flat indices start..stop-1, padded by repeating the last to a fixed length."""
    index = np.arange(start, start + length, dtype=np.int64)
    return np.minimum(index, stop - 1)


def _dynamic_values(grid: Grid, local: np.ndarray) -> dict[str, np.ndarray]:
    axes = grid.dynamic_axes
    multi = np.unravel_index(local, tuple(len(a) for a in axes)) if axes else ()
    return {
        a.name: a.values[i].astype(canonical_dtype(a.values))
        for a, i in zip(axes, multi, strict=True)
    }


def _flat_index(grid: Grid, static_indices: tuple[int, ...], local: np.ndarray) -> np.ndarray:
    """Position of each point in the C-ordered flattening of the full grid (all axes)."""
    dynamic = iter(np.unravel_index(local, tuple(len(a) for a in grid.dynamic_axes)))
    static = iter(static_indices)
    multi = [next(static) if a.is_static else next(dynamic) for a in grid.axes]
    flat = np.ravel_multi_index([np.broadcast_to(m, local.shape) for m in multi], grid.shape)
    return flat.astype(np.uint32)


def _to_dataset(grid: Grid, results: dict[str, np.ndarray], attrs: dict[str, Any]) -> xr.Dataset:
    static, dynamic = grid.static_axes, grid.dynamic_axes
    dims = [a.name for a in static] + [a.name for a in dynamic]
    shape = tuple(len(a) for a in static) + tuple(len(a) for a in dynamic)
    coords = {a.name: a.values for a in grid.axes}
    data = {
        name: xr.Variable(dims, values.reshape(shape)).transpose(*grid.names)
        for name, values in results.items()
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds["status"].attrs["codes"] = STATUS_CODES
    return ds
