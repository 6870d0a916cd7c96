"""Axis helpers shared by every figure kind: log-or-linear detection, cell edges, scales, labels
and tick formatting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from numpy.typing import ArrayLike

Scale = Literal["auto", "log", "linear"]


def is_geometric(values: ArrayLike, *, rtol: float = 0.5) -> bool:
    """Whether a coordinate is a geometric (log-spaced) grid and should be drawn on a log axis.

    A coordinate is geometric when all its values are finite and positive, it is strictly
    monotone, the ratios between consecutive values are roughly constant (the coefficient of
    variation of ``diff(log(values))`` is at most ``rtol``; this admits rounded integer grids
    such as ``[1, 2, 3, 5, 8, 13, 22, 36, 60, 100]``) and it is not arithmetic (the spacing is more
    uniform in log space than in linear space). With two values the grid is called geometric when
    they differ by at least a factor of 10; a single value is never geometric.

    Args:
        values: 1-D coordinate values, shape ``(n,)``.
        rtol: maximum coefficient of variation of the log-spacings.

    Returns:
        ``True`` for a log axis, ``False`` for a linear one.
    """
    v = np.asarray(values)
    if v.ndim != 1 or v.size < 2 or not np.issubdtype(v.dtype, np.number):
        return False
    v = v.astype(float)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        return False
    logd = np.diff(np.log(v))
    if not (np.all(logd > 0) or np.all(logd < 0)):
        return False
    if v.size == 2:
        return bool(abs(logd[0]) >= math.log(10.0))
    lind = np.diff(v)
    cv_log = float(np.std(logd) / abs(np.mean(logd)))
    cv_lin = float(np.std(lind) / abs(np.mean(lind)))
    return cv_log <= rtol and cv_log < cv_lin


def cell_edges(values: ArrayLike, *, log: bool | None = None) -> np.ndarray:
    """Cell boundaries for cell-centred coordinate values (for ``pcolormesh``).

    Interior edges are midpoints of consecutive values: geometric midpoints
    ``sqrt(v[i] * v[i+1])`` on a log axis, arithmetic midpoints ``(v[i] + v[i+1]) / 2`` on a
    linear one. Outer edges are extrapolated by half a step (by the square root of the outer ratio
    on a log axis), so every value sits at the centre of its cell. A single value gets a cell of
    one decade (log) or of width 1 (linear).

    Args:
        values: 1-D coordinate values, shape ``(n,)``, monotone.
        log: ``True`` for geometric, ``False`` for arithmetic midpoints; ``None`` detects with
            :func:`is_geometric`.

    Returns:
        Edges, shape ``(n + 1,)``, float.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"cell_edges expects a non-empty 1-D array of values; got shape {v.shape}")
    if log is None:
        log = is_geometric(v)
    if log:
        if np.any(v <= 0) or not np.all(np.isfinite(v)):
            raise ValueError(f"log cell edges need finite positive values; got {v.tolist()}")
        return np.exp(cell_edges(np.log(v), log=False))
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[:-1] + v[1:]) / 2.0
    first = v[0] - (v[1] - v[0]) / 2.0
    last = v[-1] + (v[-1] - v[-2]) / 2.0
    return np.concatenate([[first], mid, [last]])


def is_numeric(values: np.ndarray) -> bool:
    """Whether an array holds real numbers (not strings, objects or complex numbers)."""
    return np.issubdtype(values.dtype, np.number) and not np.issubdtype(
        values.dtype, np.complexfloating
    )


def resolve_scale(values: np.ndarray, scale: str, name: str) -> str:
    """``"log"`` or ``"linear"`` for the coordinate ``values`` of ``name`` given a requested scale
    (``"auto"`` picks log for a geometric grid); non-numeric coordinates are linear."""
    if scale not in ("auto", "log", "linear"):
        raise ValueError(f"scale for {name!r} must be 'auto', 'log' or 'linear'; got {scale!r}")
    if not is_numeric(values):
        return "linear"
    if scale == "auto":
        return "log" if is_geometric(values) else "linear"
    if scale == "log" and np.any(np.asarray(values, dtype=float) <= 0):
        raise ValueError(f"log scale requested for {name!r} but it has non-positive values")
    return scale


def label(obj: xr.DataArray, name: str) -> str:
    """``long_name [units]`` from attrs, falling back to the name."""
    text = str(obj.attrs.get("long_name", name))
    units = obj.attrs.get("units")
    return f"{text} [{units}]" if units not in (None, "") else text


def best_label(objs: Sequence[xr.DataArray], name: str) -> str:
    """The label of the first object that has ``long_name``/``units`` attrs, else ``name``."""
    for o in objs:
        if o.attrs.get("long_name") or o.attrs.get("units"):
            return label(o, name)
    return name


def fmt(value: Any) -> str:
    """A coordinate value as short text (``0.01``, ``3``, ``'relu'``)."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def centres(da: xr.DataArray, dim: str) -> tuple[np.ndarray, list[str] | None]:
    """Cell centres along ``dim`` and, for a categorical coordinate, its tick labels (the
    centres are then 0, 1, 2, ...)."""
    coord = np.asarray(da[dim].values)
    if is_numeric(coord):
        return coord.astype(float), None
    return np.arange(coord.size, dtype=float), [fmt(c) for c in coord]


def plain_log_ticks(axis: Any, edges: np.ndarray) -> None:
    """On a log axis spanning under two decades, ticks at 1, 2, 5 x 10^k labelled plainly
    (``0.2``, ``5``) and no minor labels, instead of crowded ``2×10^-1`` minor labels."""
    if axis.get_scale() != "log":
        return
    lo, hi = float(np.min(edges)), float(np.max(edges))
    if lo <= 0 or hi / lo >= 100:
        return
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
