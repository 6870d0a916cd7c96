"""What every experiment provides to the phase-diagram CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from theorytk import sweep


@dataclass(frozen=True)
class Options:
    """Run options shared by all experiments (from the command line)."""

    out: Path
    seeds: int
    chunk_size: int
    resume: bool
    quick: bool
    progress: bool = True


@dataclass(frozen=True)
class Experiment:
    """A named experiment: its default axes and how to run it.

    `axes(quick)` gives the default dynamic axes (overridable with --grid NAME=...);
    `run(axes, options)` computes, writes its files to `options.out`, and returns the
    one-line summary the CLI prints.
    """

    name: str
    summary: str
    axes: Callable[[bool], dict[str, np.ndarray]]
    run: Callable[[dict[str, np.ndarray], Options], str]
    default_seeds: Callable[[bool], int]


def save_both(ds: xr.Dataset, out: Path, name: str) -> list[Path]:
    """Write `ds` as NAME.zarr and NAME.nc under `out`; return the paths."""
    return [sweep.save(ds, out / f"{name}{suffix}") for suffix in (".zarr", ".nc")]


def checkpoint(out: Path, name: str) -> Path:
    """The resumable store of an experiment's simulation sweep (`--resume` continues it)."""
    return out / "checkpoints" / f"{name}_simulation.zarr"
