"""What every experiment provides to the phase-diagram CLI."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import scipy.stats
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
    chunk_size: int | str  # or "auto"
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
        settings = {**spec.settings(options.quick), **options.settings}
        spec.check(Run(axes, settings, options.seeds, options.chunk_size, options.quick))
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


class Exponent(NamedTuple):
    """A fitted exponent with its 95% interval and the estimator that produced it."""

    value: float
    low: float
    high: float
    estimator: str


def power_law(x: np.ndarray, y: Any, sem: Any) -> Exponent | None:
    """The exponent of y ~ x^exponent over the finite points with y > 0 (None if < 3).

    With per-point standard errors `sem`: least squares weighted by 1 / sem^2 (linear
    space; the weights follow the noise on every scale). Without: log space, regression of
    log y on log x, so that each decade of y counts alike (`fit.fit_power_law`'s `space`).
    """
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
        space="log" if sigma is None else "linear",
    )
    lower, upper = result.ci(0.95)
    return Exponent(-float(result.b), -float(upper[1]), -float(lower[1]), result.estimator)


def local_power_laws(x: np.ndarray, y: Any) -> list[tuple[float, float, Exponent]]:
    """Log-space exponents of y ~ x^exponent per decade of x (`fit.local_exponents`), each
    (x_low, x_high, exponent); empty when fewer than 3 finite points with y > 0."""
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(y) & (y > 0)
    if keep.sum() < 3:
        return []
    windows = fit.local_exponents(np.asarray(x, float)[keep], y[keep], space="log")
    out = []
    for window in windows:
        lower, upper = window.fit.ci(0.95)
        exponent = Exponent(
            -float(window.fit.b), -float(upper[1]), -float(lower[1]), window.fit.estimator
        )
        out.append((window.x_low, window.x_high, exponent))
    return out


def end_slopes(x: np.ndarray, y: Any) -> tuple[Exponent, Exponent, Exponent] | None:
    """A log-log fit with a curvature term: log y = c0 + c1 u + c2 u^2, u = log x - mean.

    Returns the local exponents d log y / d log x at the smallest and the largest x, and the
    curvature 2 c2 (how fast the exponent changes per e-fold of x), each with its 95%
    Student-t interval (least squares in log space, m - 3 degrees of freedom); None with
    fewer than 4 finite points with y > 0. A curvature interval that excludes 0 says the
    log-log curve bends.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    keep = np.isfinite(y) & (y > 0)
    if keep.sum() < 4:
        return None
    u = np.log(x[keep]) - np.log(x[keep]).mean()
    design = np.stack([np.ones_like(u), u, u**2], axis=1)
    coef, *_ = np.linalg.lstsq(design, np.log(y[keep]), rcond=None)
    dof = int(keep.sum()) - 3
    residual = np.log(y[keep]) - design @ coef
    cov = residual @ residual / dof * np.linalg.inv(design.T @ design)
    q = float(scipy.stats.t.ppf(0.975, dof))
    out = []
    for gradient in ([0.0, 1.0, 2 * u.min()], [0.0, 1.0, 2 * u.max()], [0.0, 0.0, 2.0]):
        g = np.asarray(gradient)
        value, se = float(g @ coef), float(np.sqrt(g @ cov @ g))
        out.append(Exponent(value, value - q * se, value + q * se, "log-space LS, quadratic"))
    return out[0], out[1], out[2]


def format_exponent(exponent: Exponent | None) -> str:
    """An exponent of `power_law` with its 95% interval and estimator, for a summary line."""
    if exponent is None:
        return "? (too few points)"
    return (
        f"{exponent.value:.3f} [95% CI {exponent.low:.3f}, {exponent.high:.3f}; "
        f"{exponent.estimator}]"
    )


def format_local(windows: list[tuple[float, float, Exponent]], name: str = "x") -> str:
    """Per-window exponents of `local_power_laws`, e.g. "P 128-1024: -0.45 [-0.5, -0.4]"."""
    return "; ".join(
        f"{name} {low:g}-{high:g}: {e.value:.3f} [{e.low:.3f}, {e.high:.3f}]"
        for low, high, e in windows
    )
