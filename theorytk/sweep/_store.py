"""Saving results, and the on-disk progress of a sweep that can be resumed."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
import zarr


def save(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a sweep result to `path`: zarr if it ends in `.zarr`, netCDF if in `.nc`.

    An existing file or store at `path` is replaced. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zarr":
        with warnings.catch_warnings():
            # string labels (e.g. a "family" axis) are fixed-length unicode, which zarr-python
            # writes and reads back fine but warns about: v3 has no formal spec for that dtype yet
            warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")
            ds.to_zarr(path, mode="w", consolidated=False)
    elif path.suffix == ".nc":
        ds.to_netcdf(path, engine="h5netcdf")
    else:
        raise ValueError(f"save needs a path ending in .zarr or .nc, got {str(path)!r}")
    return path


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a sweep result written by `save` (zarr or netCDF) fully into memory."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no sweep result at {str(path)!r}")
    if path.suffix == ".zarr":
        return xr.load_dataset(path, engine="zarr", consolidated=False)
    if path.suffix == ".nc":
        return xr.load_dataset(path, engine="h5netcdf")
    raise ValueError(f"load needs a path ending in .zarr or .nc, got {str(path)!r}")


class ProgressStore:
    """Flat per-point results of an unfinished sweep, kept in a zarr group.

    Layout: one array per metric and `status`, shaped (static combinations, dynamic
    points) with one zarr chunk per sweep chunk, and `chunk_done`, a flag per sweep
    chunk written after its values, so a chunk counts as done only once fully stored.
    """

    def __init__(self, group: zarr.Group):
        self.group = group

    @classmethod
    def open(
        cls,
        path: Path,
        fingerprint: str,
        shape: tuple[int, int],
        chunk_size: int,
        dtypes: dict[str, np.dtype],
        resume: bool,
    ) -> ProgressStore:
        if path.exists() and resume:
            group = zarr.open_group(path, mode="a")
            found = group.attrs.get("fingerprint")
            if found != fingerprint:
                raise ValueError(
                    f"cannot resume from {str(path)!r}: it holds a different sweep (grid, key, "
                    "chunk size, config or function differ); use resume=False to start over"
                )
            return cls(group)
        if path.exists():
            shutil.rmtree(path)
        group = zarr.open_group(path, mode="w")
        n_chunks = -(-shape[1] // chunk_size)
        for name, dtype in {**dtypes, "status": np.dtype(np.int8)}.items():
            fill = np.nan if np.issubdtype(dtype, np.floating) else 0
            group.create_array(
                name, shape=shape, chunks=(1, chunk_size), dtype=dtype, fill_value=fill
            )
        group.create_array(
            "chunk_done",
            shape=(shape[0], n_chunks),
            chunks=(1, n_chunks),
            dtype=bool,
            fill_value=False,
        )
        group.attrs["fingerprint"] = fingerprint
        return cls(group)

    def done(self, static_index: int) -> np.ndarray:
        return np.asarray(self.group["chunk_done"][static_index])

    def write(
        self, static_index: int, chunk: int, start: int, values: dict[str, np.ndarray]
    ) -> None:
        for name, value in values.items():
            self.group[name][static_index, start : start + len(value)] = value
        self.group["chunk_done"][static_index, chunk] = True

    def read(self, names: list[str]) -> dict[str, np.ndarray]:
        return {name: np.asarray(self.group[name][...]) for name in [*names, "status"]}


def remove(path: Path) -> None:
    """Delete a progress store once its results are safely written elsewhere."""
    shutil.rmtree(path, ignore_errors=True)
