"""What every experiment provides to the phase-diagram CLI."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
import xarray as xr

from theorytk import fit, sweep


class UsageError(Exception):
    """A command line the experiment cannot run: reported in one line, exit code 2."""


@dataclass(frozen=True)
class Options:
    """Run options shared by all experiments (from the command line).

    `settings` holds the experiment's static settings (`Experiment.settings`) with the
    command line's `--set NAME=VALUE` overrides applied.
    """

    out: Path
    seeds: int
    chunk_size: int
    resume: bool
    quick: bool
    progress: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)


def no_settings(quick: bool) -> dict[str, Any]:
    """An experiment without static settings."""
    return {}


@dataclass(frozen=True)
class Experiment:
    """A named experiment: its default axes and how to run it.

    `axes(quick)` gives the default dynamic axes (overridable with --grid NAME=...);
    `settings(quick)` the static settings (width, depth, batch size, a list of sizes, ...;
    overridable with --set NAME=VALUE, parsed to the type of the default);
    `run(axes, options)` computes, writes its files to `options.out`, and returns the
    one-line summary the CLI prints.
    """

    name: str
    summary: str
    axes: Callable[[bool], dict[str, np.ndarray]]
    run: Callable[[dict[str, np.ndarray], Options], str]
    default_seeds: Callable[[bool], int]
    settings: Callable[[bool], dict[str, Any]] = no_settings


_PROVENANCE: contextvars.ContextVar[tuple[tuple[str, Any], ...]] = contextvars.ContextVar(
    "provenance", default=()
)


@contextmanager
def provenance(**attrs: Any) -> Iterator[None]:
    """Attrs (experiment, command line, time, ...) that `save_both` adds to every file."""
    token = _PROVENANCE.set((*_PROVENANCE.get(), *attrs.items()))
    try:
        yield
    finally:
        _PROVENANCE.reset(token)


# long names of the metrics the models share, for files read without theorytk
LONG_NAMES = {
    "test_mse": "test mean squared error",
    "train_mse": "training mean squared error",
    "test_error": "test classification error",
    "train_error": "training classification error",
    "kappa": "effective ridge (eigenframework kappa)",
    "steps": "training steps",
    "status": "point status (see attrs codes)",
}


def save_both(ds: xr.Dataset, out: Path, name: str) -> list[Path]:
    """Write `ds` as NAME.zarr and NAME.nc under `out`, with the run's provenance attrs.

    Variables named in `LONG_NAMES` (and their `theory_`, `_sem` variants) get a
    `long_name` attribute unless they have one. Returns the paths.
    """
    ds = ds.assign_attrs({k: str(v) for k, v in _PROVENANCE.get()})
    for var in ds.data_vars.values():
        base = str(var.name).removeprefix("theory_").removesuffix("_sem")
        if base in LONG_NAMES and "long_name" not in var.attrs:
            prefix = "theory: " if str(var.name).startswith("theory_") else ""
            suffix = " (standard error)" if str(var.name).endswith("_sem") else ""
            var.attrs["long_name"] = prefix + LONG_NAMES[base] + suffix
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
    """UsageError (the CLI's exit 2) naming the first of `names` with a value <= 0."""
    for name in names:
        if np.any(axes[name] <= 0):
            raise UsageError(f"--grid {name}: values must be > 0, got {axes[name].tolist()}")


def check_settings(settings: Mapping[str, Any], *, positive: tuple[str, ...] = ()) -> None:
    """UsageError (the CLI's exit 2) naming the first of `positive` with a value <= 0.

    A tuple setting (a list of sizes, levels, ...) must be positive in every entry.
    """
    for name in positive:
        values = np.atleast_1d(np.asarray(settings[name], float))
        if values.size == 0 or np.any(values <= 0):
            raise UsageError(f"--set {name}: values must be > 0, got {settings[name]!r}")


def integer_axis(axes: dict[str, np.ndarray], name: str, least: int = 1) -> np.ndarray:
    """The integer values of axis `name`; UsageError if any is not an integer >= `least`.

    Values within rounding of an integer (e.g. 31.999999999 from a geometric grid) count as
    that integer; anything else is refused, never rounded (a width of 16.5 is not 16).
    """
    values = np.asarray(axes[name], float)
    rounded = np.round(values)
    off = np.abs(values - rounded) > 1e-9 * np.maximum(1.0, np.abs(values))
    if np.any(off) or rounded.min() < least:
        bad = values[off | (rounded < least)].tolist()
        raise UsageError(f"--grid {name}: values must be integers >= {least}, got {bad}")
    return rounded.astype(int)


def integer_sizes(ratios: np.ndarray, unit: int, name: str = "n_over_d") -> np.ndarray:
    """The integers round(ratio * unit) of the requested ratios (e.g. n = (n/d) d).

    UsageError (never a silent change of the grid) if a ratio gives a size below 1 or two
    ratios give the same size.
    """
    sizes = np.round(np.asarray(ratios) * unit).astype(int)
    if sizes.min() < 1:
        raise UsageError(
            f"--grid {name}: values must be >= {0.5 / unit:g} (times {unit} they give sizes "
            f"below 1), got {np.asarray(ratios)[sizes < 1].tolist()}"
        )
    values, counts = np.unique(sizes, return_counts=True)
    repeated = values[counts > 1]
    if repeated.size:
        clash = np.asarray(ratios)[np.isin(sizes, repeated)].tolist()
        raise UsageError(
            f"--grid {name}: values {clash} round to the same sizes {repeated.tolist()} "
            f"(at {unit} per unit); space them further apart"
        )
    return np.sort(sizes)


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
