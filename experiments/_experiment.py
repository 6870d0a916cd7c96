"""What every experiment provides to the phase-diagram CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
import xarray as xr

from theorytk import fit, sweep


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


def run_simulation(
    fn: Callable[..., Any],
    grid: sweep.Grid,
    options: Options,
    name: str,
    *,
    config: Any = None,
) -> xr.Dataset:
    """An experiment's resumable simulation sweep, as the command line asked for it.

    Point keys derive from `jax.random.key(0)`; the progress store is
    `out/checkpoints/NAME_simulation.zarr` (`--resume` continues it); chunks of
    `--chunk-size` points (a `sweep.Loop` model runs each chunk in refilled lanes).
    """
    return sweep.run(
        fn,
        grid,
        key=jax.random.key(0),
        config=config,
        chunk_size=options.chunk_size,
        store=options.out / "checkpoints" / f"{name}_simulation.zarr",
        resume=options.resume,
        progress=options.progress,
    )


def check_positive(axes: dict[str, np.ndarray], names: tuple[str, ...]) -> None:
    """ValueError (the CLI's exit 2) naming the first of `names` with a value <= 0."""
    for name in names:
        if np.any(axes[name] <= 0):
            raise ValueError(f"--grid {name}: values must be > 0, got {axes[name].tolist()}")


def integer_sizes(ratios: np.ndarray, unit: int) -> np.ndarray:
    """The distinct integers round(ratio * unit) >= 1 of the requested ratios (e.g. n/d)."""
    return np.unique(np.maximum(np.round(ratios * unit), 1).astype(int))


def with_ratio_axis(ds: xr.Dataset, dim: str, unit: int, name: str, long_name: str) -> xr.Dataset:
    """Relabel the integer axis `dim` by dim / unit, called `name` (`dim` stays a coordinate)."""
    ds = ds.assign_coords({name: (dim, ds[dim].values / unit)})
    ds[name].attrs["long_name"] = long_name
    return ds.swap_dims({dim: name})


def power_law(x: np.ndarray, y: Any, sem: Any) -> tuple[float, float, float] | None:
    """(exponent, 95% low, 95% high) of y ~ x^exponent over finite points, or None (< 3)."""
    y = np.asarray(y, dtype=float)
    sigma = None if sem is None else np.asarray(sem, dtype=float)
    keep = np.isfinite(y) & (y > 0)
    if sigma is not None:
        keep &= np.isfinite(sigma) & (sigma > 0)
    if keep.sum() < 3:
        return None
    result = fit.fit_power_law(
        np.asarray(x, float)[keep],
        y[keep],
        sigma=None if sigma is None else sigma[keep],
        with_constant=False,
    )
    lower, upper = result.ci(0.95)
    return -float(result.b), -float(upper[1]), -float(lower[1])


def format_exponent(exponent: tuple[float, float, float] | None) -> str:
    """An exponent of `power_law` with its 95% interval, for a summary line."""
    if exponent is None:
        return "? (too few points)"
    value, low, high = exponent
    return f"{value:.3f} [95% CI {low:.3f}, {high:.3f}]"
