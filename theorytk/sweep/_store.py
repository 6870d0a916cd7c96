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
            # consolidated metadata (one read opens the store, no warning in xr.open_zarr) is
            # not yet in the v3 spec, which zarr-python says on every write
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
            ds.to_zarr(path, mode="w", consolidated=True)
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
        return xr.load_dataset(path, engine="zarr")
    if path.suffix == ".nc":
        return xr.load_dataset(path, engine="h5netcdf")
    raise ValueError(f"load needs a path ending in .zarr or .nc, got {str(path)!r}")


class ResumeError(ValueError):
    """A store holds a different sweep than the one asked for (so it cannot be resumed)."""


class ProgressStore:
    """Flat per-point results of an unfinished sweep, kept in a zarr group.

    Layout: one array per metric and `status`, shaped (static combinations, dynamic
    points), and `done`, a flag per point written after its values, so a point counts as
    done only once fully stored. Flags are per point, not per chunk, so a sweep can be
    resumed with another chunk size (a point's result does not depend on it).
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
            check_fingerprint(path, group.attrs.get("fingerprint"), fingerprint)
            return cls(group)
        if path.exists():
            shutil.rmtree(path)
        group = zarr.open_group(path, mode="w")
        chunks = (1, min(chunk_size, shape[1]))
        for name, dtype in {**dtypes, "status": np.dtype(np.int8), "done": np.dtype(bool)}.items():
            fill = np.nan if np.issubdtype(dtype, np.floating) else 0
            group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill)
        group.attrs["fingerprint"] = fingerprint
        return cls(group)

    def write(self, static_index: int, start: int, values: dict[str, np.ndarray]) -> None:
        stop = start + len(values["status"])
        for name, value in values.items():
            self.group[name][static_index, start:stop] = value
        self.group["done"][static_index, start:stop] = True

    def read(self, names: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(done flags, values) of every point; values of points not done are fill values."""
        values = {name: np.asarray(self.group[name][...]) for name in [*names, "status"]}
        return np.asarray(self.group["done"][...]), values


def check_fingerprint(path: Path, found: str | None, expected: str) -> None:
    """ResumeError unless the store at `path` was written by the sweep with `expected`."""
    if found != expected:
        raise ResumeError(
            f"cannot resume from {str(path)!r}: it holds a different sweep (the function's "
            "computation, its config, the grid, the key or the metrics differ); use "
            "resume=False to start over"
        )


def remove(path: Path) -> None:
    """Delete a progress store once its results are safely written elsewhere."""
    shutil.rmtree(path, ignore_errors=True)
