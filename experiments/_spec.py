"""What the command line knows about an experiment before importing JAX.

A `Spec` holds an experiment's default axes and settings, the domain of every axis and
setting (`check`) and an estimate of the run's cost (`cost`). Everything here is NumPy
only, so a bad command line is refused in a fraction of a second, before JAX is imported
and before anything is compiled. The experiments' modules build their `Experiment` from
their spec (`experiments._experiment.experiment`), so the CLI and the Python API apply the
same checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


class UsageError(Exception):
    """A command line the experiment cannot run: reported in one line, exit code 2."""


class Run(NamedTuple):
    """A run as the command line asks for it: the grid's axes, the settings, the seeds, the
    points per vmapped call, and whether it is the `--quick` run."""

    axes: Mapping[str, np.ndarray]
    settings: Mapping[str, Any]
    seeds: int
    chunk_size: int | str  # or "auto"
    quick: bool


class Cost(NamedTuple):
    """A run's estimated work (arbitrary units, compared only within one experiment) and
    its peak memory in bytes."""

    work: float
    memory: float


def no_settings(quick: bool) -> dict[str, Any]:
    """An experiment without static settings."""
    return {}


def no_check(run: Run) -> None:
    """An experiment whose axes and settings need no check beyond the grid's own."""


@dataclass(frozen=True, kw_only=True)
class Spec:
    """A named experiment as the command line sees it.

    `axes(quick)` gives the default dynamic axes (overridable with --grid NAME=...);
    `settings(quick)` the static settings (overridable with --set NAME=VALUE, parsed to the
    type of the default); `check(run)` raises `UsageError` naming the first axis or setting
    outside its domain; `cost(run)` estimates the work and the peak memory of a run that
    passed `check` (None: the cost is not estimated).
    """

    name: str
    summary: str
    axes: Callable[[bool], dict[str, np.ndarray]]
    default_seeds: Callable[[bool], int]
    settings: Callable[[bool], dict[str, Any]] = no_settings
    check: Callable[[Run], None] = no_check
    cost: Callable[[Run], Cost] | None = None

    def default_run(self, quick: bool) -> Run:
        """The run of the bare command line (with or without --quick)."""
        return Run(self.axes(quick), self.settings(quick), self.default_seeds(quick), 256, quick)


# ------------------------------------------------------------------------- domain checks


def check_positive(axes: Mapping[str, np.ndarray], names: tuple[str, ...]) -> None:
    """UsageError (the CLI's exit 2) naming the first of `names` with a value <= 0."""
    for name in names:
        if np.any(np.asarray(axes[name]) <= 0):
            raise UsageError(f"--grid {name}: values must be > 0, got {_listed(axes[name])}")


def check_range(
    axes: Mapping[str, np.ndarray], name: str, low: float, high: float, why: str
) -> None:
    """UsageError naming axis `name` unless every value lies in [low, high] (`why` says why)."""
    values = np.asarray(axes[name], float)
    if np.any(values < low) or np.any(values > high):
        raise UsageError(
            f"--grid {name}: values must lie in [{low:g}, {high:g}] ({why}), got {_listed(values)}"
        )


def check_settings(settings: Mapping[str, Any], *, positive: tuple[str, ...] = ()) -> None:
    """UsageError (the CLI's exit 2) naming the first of `positive` with a value <= 0.

    A tuple setting (a list of sizes, levels, ...) must be positive in every entry.
    """
    for name in positive:
        values = np.atleast_1d(np.asarray(settings[name], float))
        if values.size == 0 or np.any(values <= 0):
            raise UsageError(f"--set {name}: values must be > 0, got {settings[name]!r}")


def integer_axis(
    axes: Mapping[str, np.ndarray], name: str, least: int = 1, most: int | None = None
) -> np.ndarray:
    """The integer values of axis `name`; UsageError unless each is an integer in
    [`least`, `most`].

    Values within rounding of an integer (e.g. 31.999999999 from a geometric grid) count as
    that integer; anything else is refused, never rounded (a width of 16.5 is not 16), and
    two values that are the same integer are refused (never merged).
    """
    values = np.asarray(axes[name], float)
    rounded = np.round(values)
    off = np.abs(values - rounded) > 1e-9 * np.maximum(1.0, np.abs(values))
    outside = (rounded < least) | (most is not None and rounded > most)
    if np.any(off) or np.any(outside):
        allowed = f"in [{least}, {most}]" if most is not None else f">= {least}"
        raise UsageError(
            f"--grid {name}: values must be integers {allowed}, "
            f"got {_listed(values[off | outside])}"
        )
    unique, counts = np.unique(rounded, return_counts=True)
    if np.any(counts > 1):
        raise UsageError(
            f"--grid {name}: the value {unique[counts > 1][0]:g} is given twice; give it once"
        )
    return rounded.astype(np.int64)


def integer_sizes(ratios: np.ndarray, unit: int, name: str = "n_over_d") -> np.ndarray:
    """The integers round(ratio * unit) of the requested ratios (e.g. n = (n/d) d).

    UsageError (never a silent change of the grid) if a ratio gives a size below 1 or two
    ratios give the same size.
    """
    sizes = np.round(np.asarray(ratios) * unit).astype(np.int64)
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


def check_grid_values(name: str, values: np.ndarray) -> None:
    """UsageError unless axis `name` is a non-empty list of distinct finite numbers."""
    values = np.asarray(values, float)
    if values.size == 0:
        raise UsageError(f"axis {name!r} is empty; give at least one value")
    if not np.all(np.isfinite(values)):
        raise UsageError(f"axis {name!r}: values must be finite, got {_listed(values)}")
    unique, counts = np.unique(values, return_counts=True)
    if np.any(counts > 1):
        raise UsageError(f"axis {name!r}: the value {unique[counts > 1][0]:g} is repeated")


def _listed(values: Any) -> str:
    """At most six values of an axis, for a one-line message."""
    values = np.asarray(values).ravel().tolist()
    return str(values) if len(values) <= 6 else f"[{', '.join(map(str, values[:6]))}, ...]"


# --------------------------------------------------------------------------- cost checks

LARGE = 100.0  # work beyond this multiple of the default (full) run needs --allow-large


def physical_memory() -> float:
    """This machine's physical memory in bytes (inf where the OS does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_cost(run: Run, spec: Spec, overrides: Mapping[str, str], allow_large: bool) -> None:
    """UsageError if `run` cannot fit in this machine's memory, or (without `allow_large`)
    would do more than `LARGE` times the work of the experiment's default (full) run.

    The message names the command-line flag (`overrides` maps an axis, a setting or
    "seeds" to the flag as given, e.g. {"Q": "--grid Q=1,1e9"}) that alone raises the
    estimate the most.
    """
    if spec.cost is None:
        return
    cost = spec.cost(run)
    memory = physical_memory()
    if cost.memory > memory:
        flag = _culprit(run, spec, overrides, "memory")
        at = f"--chunk-size {run.chunk_size}"
        if run.chunk_size == "auto":
            at = "one point at a time (--chunk-size auto)"
        raise UsageError(
            f"{flag}: the run needs about {_bytes(cost.memory)} of memory at {at}; "
            f"this machine has {_bytes(memory)}"
        )
    ratio = cost.work / spec.cost(spec.default_run(False)).work
    if ratio > LARGE and not allow_large:
        flag = _culprit(run, spec, overrides, "work")
        raise UsageError(
            f"{flag}: the run would do about {ratio:.3g} times the work of the default "
            f"{spec.name} run (more than {LARGE:g} times needs --allow-large)"
        )


def _culprit(run: Run, spec: Spec, overrides: Mapping[str, str], field: str) -> str:
    """The flag of the override that alone raises the cost estimate `field` the most."""
    base = spec.default_run(run.quick)._replace(chunk_size=run.chunk_size)
    best, flag = -np.inf, ", ".join(overrides.values()) or f"--chunk-size {run.chunk_size}"
    for name, given in overrides.items():
        if name == "seeds":
            trial = base._replace(seeds=run.seeds)
        elif name in base.axes:
            trial = base._replace(axes={**base.axes, name: run.axes[name]})
        else:
            trial = base._replace(settings={**base.settings, name: run.settings[name]})
        try:
            spec.check(trial)  # alone, the override may leave the domain (P < batch, ...)
        except UsageError:
            continue
        value = getattr(spec.cost(trial), field)
        if value > best:
            best, flag = value, given
    return flag


def _bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} EB"
