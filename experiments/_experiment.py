"""What every experiment provides to the phase-diagram CLI."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import jax
import numpy as np
import xarray as xr

from experiments._spec import (
    Run,
    Spec,
    UsageError,
    check_positive,
    check_settings,
    integer_axis,
    integer_sizes,
)
from theorytk import fit, sweep

__all__ = [
    "Experiment",
    "Options",
    "UsageError",
    "check_positive",
    "check_settings",
    "experiment",
    "format_exponent",
    "integer_axis",
    "integer_sizes",
    "power_law",
    "provenance",
    "run_simulation",
    "save_both",
    "with_ratio_axis",
]


@dataclass(frozen=True)
class Options:
    """Run options shared by all experiments (from the command line).

    `settings` holds the experiment's static settings (`Spec.settings`) with the
    command line's `--set NAME=VALUE` overrides applied.
    """

    out: Path
    seeds: int
    chunk_size: int
    resume: bool
    quick: bool
    progress: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Experiment(Spec):
    """A named experiment: its spec (axes, settings, domains, cost) and how to run it.

    `run(axes, options)` computes, writes its files to `options.out`, and returns the
    one-line summary the CLI prints.
    """

    run: Callable[[dict[str, np.ndarray], Options], str]


def experiment(spec: Spec, run: Callable[[dict[str, np.ndarray], Options], str]) -> Experiment:
    """The experiment of `spec` whose `run` first applies the spec's checks (UsageError)."""

    def checked(axes: dict[str, np.ndarray], options: Options) -> str:
        spec.check(Run(axes, options.settings, options.seeds, options.chunk_size, options.quick))
        return run(axes, options)

    return Experiment(**{f.name: getattr(spec, f.name) for f in fields(Spec)}, run=checked)


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
