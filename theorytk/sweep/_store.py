"""Saving results, and the on-disk progress of a sweep that can be resumed.

Every chunk of a store is written with a CRC-32C checksum (zarr's `crc32c` codec) and
written even when it holds only fill values, so a resumed sweep can tell a chunk that is
stored from one that is missing (deleted) or damaged (truncated, altered): the first
decodes and passes its checksum, the others are recomputed.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

CHUNK_CODECS = (ZstdCodec(), Crc32cCodec())  # compression, then a checksum per chunk


def save(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a sweep result to `path`: zarr if it ends in `.zarr`, netCDF if in `.nc`.

    An existing file or store at `path` is replaced. Returns the path. In a zarr store every
    chunk of every variable is written, with a checksum, so `run(..., resume=True)` can
    verify it.
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
            ds.to_zarr(
                path,
                mode="w",
                consolidated=True,
                write_empty_chunks=True,
                encoding={name: {"compressors": CHUNK_CODECS} for name in ds.data_vars},
            )
    elif path.suffix == ".nc":
        ds.to_netcdf(path, engine="h5netcdf")
    else:
        raise ValueError(f"save needs a path ending in .zarr or .nc, got {str(path)!r}")
    return path


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a sweep result written by `save` (zarr or netCDF) fully into memory.

    A file that is not a readable result of that kind raises a ValueError naming it (and,
    in a zarr store, the first damaged chunk).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no sweep result at {str(path)!r}")
    if path.suffix not in (".zarr", ".nc"):
        raise ValueError(f"load needs a path ending in .zarr or .nc, got {str(path)!r}")
    try:
        if path.suffix == ".zarr":
            return xr.load_dataset(path, engine="zarr")
        return xr.load_dataset(path, engine="h5netcdf")
    except Exception as error:  # any reader failure: name the file, not the decoder
        kind = "zarr store" if path.suffix == ".zarr" else "netCDF file"
        where = _first_damaged_chunk(path) if path.suffix == ".zarr" else None
        raise ValueError(
            f"cannot read {str(path)!r} as a sweep result ({kind}): " + (where or first_line(error))
        ) from None


def first_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    if not text:
        return type(error).__name__
    return f"{type(error).__name__}: {text[0].split('. ')[0].removesuffix('.')}"


def _first_damaged_chunk(path: Path) -> str | None:
    try:
        group = zarr.open_group(path, mode="r")
        for name, array in group.arrays():
            damaged = read_verified(path / name, array)[1]
            if damaged:
                return damaged[0].reason
    except Exception:  # the metadata itself is unreadable: the caller names the store
        return None
    return None


class ResumeError(ValueError):
    """A store cannot be resumed: it holds a different sweep, or it cannot be read."""


def unreadable(path: Path, error: BaseException) -> ResumeError:
    """The one-line refusal of a store whose metadata cannot be read."""
    return ResumeError(
        f"cannot resume from {str(path)!r}: it is not a readable sweep store "
        f"({first_line(error)}); use resume=False to start over"
    )


Region = tuple[slice, ...]


def _chunk_regions(array: zarr.Array) -> Iterator[tuple[tuple[int, ...], Region]]:
    grid = [-(-n // c) for n, c in zip(array.shape, array.chunks, strict=True)]
    for index in np.ndindex(*grid):
        region = tuple(
            slice(i * c, min((i + 1) * c, n))
            for i, c, n in zip(index, array.chunks, array.shape, strict=True)
        )
        yield index, region


class Damage(NamedTuple):
    """A chunk that is missing or does not decode: its region and a line naming its file."""

    region: Region
    reason: str
    missing: bool  # the file is absent (else present but unreadable)


def read_verified(path: Path, array: zarr.Array) -> tuple[np.ndarray, list[Damage]]:
    """The values of a stored array (at `path`), read chunk by chunk, and its damaged chunks.

    A chunk is damaged when its file is missing or does not decode (a truncated or altered
    chunk fails its checksum or its decompression); its values are left as fill values.
    """
    values = np.full(array.shape, array.fill_value, dtype=array.dtype)
    damaged = []
    for index, region in _chunk_regions(array):
        file = path / array.metadata.encode_chunk_key(index)
        if not file.is_file():
            damaged.append(Damage(region, f"{file} is missing", missing=True))
            continue
        try:
            values[region] = array[region]
        except Exception as error:  # any decoder failure is a damaged chunk
            reason = f"{file} is unreadable ({first_line(error)})"
            damaged.append(Damage(region, reason, missing=False))
    return values, damaged


def report_recomputed(path: Path, n_points: int, reasons: list[str], stacklevel: int) -> None:
    """Warn that `n_points` stored points are recomputed, naming the damaged chunks."""
    shown = "; ".join(reasons[:4]) + (f"; and {len(reasons) - 4} more" if len(reasons) > 4 else "")
    warnings.warn(
        f"recomputing {n_points} points of {str(path)!r} whose stored chunks are damaged: {shown}",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )


class ProgressStore:
    """Flat per-point results of an unfinished sweep, kept in a zarr group.

    Layout: one array per metric and `status`, shaped (static combinations, dynamic
    points), and `done`, a flag per point written after its values, so a point counts as
    done only once fully stored. Flags are per point, not per chunk, so a sweep can be
    resumed with another chunk size (a point's result does not depend on it). On opening, a
    point flagged done counts as done only if the chunks holding it in every array are
    present and pass their checksums; the others are recomputed (and reported).
    """

    def __init__(self, path: Path, group: zarr.Group):
        self.path = path
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
            return cls(path, open_checked(path, fingerprint, "a"))
        if path.exists():
            shutil.rmtree(path)
        group = zarr.open_group(path, mode="w")
        chunks = (1, min(chunk_size, shape[1]))
        for name, dtype in {**dtypes, "status": np.dtype(np.int8), "done": np.dtype(bool)}.items():
            fill = np.nan if np.issubdtype(dtype, np.floating) else 0
            group.create_array(
                name,
                shape=shape,
                chunks=chunks,
                dtype=dtype,
                fill_value=fill,
                compressors=CHUNK_CODECS,
            )
        group.attrs["fingerprint"] = fingerprint
        return cls(path, group)

    def _array(self, name: str) -> zarr.Array:
        try:
            array = self.group[name]
        except Exception as error:  # a deleted or unreadable array: the store is unusable
            raise unreadable(self.path, error) from None
        # every chunk is written, even one of fill values, so a missing chunk is a lost one
        return array.with_config({"write_empty_chunks": True})

    def write(self, static_index: int, start: int, values: dict[str, np.ndarray]) -> None:
        """Store one chunk's values, then its done flags; Ctrl-C waits until both are written."""
        stop = start + len(values["status"])
        with _interrupt_deferred():
            for name, value in values.items():
                self._array(name)[static_index, start:stop] = value
            self._array("done")[static_index, start:stop] = True

    def read(self, names: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(done flags, values) of every point; values of points not done are fill values.

        Damaged chunks are rewritten with fill values (so later writes into them succeed)
        and the done points they held are reported and counted as not done.
        """
        flags = self._array("done")
        done, damaged = read_verified(self.path / "done", flags)
        lost = np.zeros(done.shape, bool)
        reasons = []
        for region, why, missing in damaged:
            if not missing:  # (a missing flags chunk is one never written)
                flags[region] = False
                lost[region] = True
                reasons.append(why)
        values = {}
        for name in [*names, "status"]:
            array = self._array(name)
            values[name], damaged = read_verified(self.path / name, array)
            for region, why, _ in damaged:
                if done[region].any():
                    lost[region] |= done[region]
                    reasons.append(why)
                    array[region] = values[name][region]
        if lost.any():
            done &= ~lost
            flags[...] = done
        if reasons:
            report_recomputed(self.path, int(lost.sum()), reasons, stacklevel=5)
        return done, values


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold a SIGINT (Ctrl-C) until the block ends, then deliver it to the previous handler.

    A chunk interrupted halfway through its write would be found damaged on resume and
    recomputed; deferring the interrupt leaves it whole. Only the main thread can handle
    signals, so elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, Any]] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(*received[0])


def open_checked(path: Path, fingerprint: str, mode: str) -> zarr.Group:
    """The store's zarr group, refused in one line naming it if its metadata cannot be read
    or it was written by another sweep (`check_fingerprint`)."""
    try:
        group = zarr.open_group(path, mode=mode)
        found = group.attrs.get("fingerprint")
    except Exception as error:
        raise unreadable(path, error) from None
    check_fingerprint(path, found, fingerprint)
    return group


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
