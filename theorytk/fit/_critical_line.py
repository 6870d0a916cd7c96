"""Critical lines of grids: where a swept quantity first crosses a level."""

from __future__ import annotations

from typing import Any

import numpy as np
from jaxtyping import ArrayLike, Float


def critical_line(
    x: Float[ArrayLike, " nx"] | str,
    y: Float[ArrayLike, " ny"] | str,
    values: Float[ArrayLike, "nx ny"] | Any,
    level: float,
    *,
    log_y: bool = True,
) -> Float[np.ndarray, " nx"]:
    """For each x, the y at which `values` first crosses `level` along increasing y.

    Between grid points y_j < y_{j+1} with values v_j - level and v_{j+1} - level of opposite
    sign, the crossing is y* = exp(log y_j + f (log y_{j+1} - log y_j)), f = (level - v_j) /
    (v_{j+1} - v_j): linear interpolation of `values` in log y (in y if `log_y=False`). A grid
    value exactly equal to `level` is a crossing at that y. Pairs involving NaN never cross.
    Typical use: a loss-threshold or stability boundary y*(x) from a sweep, then
    `fit_power_law(x, y*)` for its scaling exponent.

    Args:
        x: `Float[ArrayLike, "nx"]` coordinates of the first axis of `values`, or, when
            `values` is an xarray.DataArray, the name of its x dimension.
        y: `Float[ArrayLike, "ny"]` coordinates of the second axis (distinct, any order), or
            the name of the DataArray's y dimension.
        values: `Float[ArrayLike, "nx ny"]` grid, or a 2-D xarray.DataArray.
        level: the value whose crossing is located.
        log_y: interpolate in log y (geometric grids; needs y > 0) or in y.

    Returns:
        `Float[np.ndarray, "nx"]` crossing y for each x, NaN where `values` does not cross.
    """
    if hasattr(values, "dims") and hasattr(values, "transpose"):
        if not (isinstance(x, str) and isinstance(y, str)):
            raise ValueError(
                "with an xarray.DataArray, x and y must be dimension names, "
                f"got {type(x).__name__} and {type(y).__name__}"
            )
        if set(values.dims) != {x, y}:
            raise ValueError(
                f"values must have exactly the dimensions ({x!r}, {y!r}), got {values.dims}"
            )
        values = values.transpose(x, y)
        x_arr = np.asarray(values[x].values)
        y_arr = np.asarray(values[y].values)
        vals = np.asarray(values.values)
    else:
        x_arr, y_arr, vals = np.asarray(x), np.asarray(y), np.asarray(values)
    if x_arr.ndim != 1 or y_arr.ndim != 1:
        raise ValueError(f"x and y must be 1-D, got shapes {x_arr.shape} and {y_arr.shape}")
    if vals.shape != (x_arr.shape[0], y_arr.shape[0]):
        raise ValueError(
            f"values must have shape (len(x), len(y)) = {(x_arr.shape[0], y_arr.shape[0])}, "
            f"got {vals.shape}"
        )
    if y_arr.shape[0] < 2:
        raise ValueError(f"need at least 2 y values to locate a crossing, got {y_arr.shape[0]}")
    if not np.all(np.isfinite(y_arr)):
        raise ValueError(f"y must be finite, got {y_arr.tolist()}")
    if log_y and np.any(y_arr <= 0):
        raise ValueError(
            f"log_y=True needs y > 0, got min(y) = {y_arr.min()}; pass log_y=False for linear y"
        )
    order = np.argsort(y_arr)
    y_arr, vals = y_arr[order], vals[:, order]
    if np.any(np.diff(y_arr) == 0):
        raise ValueError(f"y values must be distinct, got {y_arr.tolist()}")

    dtype = np.result_type(vals.dtype, y_arr.dtype, np.float32)
    s = vals.astype(dtype) - level
    u = np.log(y_arr).astype(dtype) if log_y else y_arr.astype(dtype)
    with np.errstate(invalid="ignore"):
        at_point = s == 0
        between = np.sign(s[:, :-1]) * np.sign(s[:, 1:]) < 0
    # Candidate positions in order along y: point j -> 2j, open interval (j, j+1) -> 2j + 1.
    candidates = np.zeros((s.shape[0], 2 * s.shape[1] - 1), dtype=bool)
    candidates[:, 0::2] = at_point
    candidates[:, 1::2] = between
    first = np.argmax(candidates, axis=1)
    found = candidates[np.arange(s.shape[0]), first]
    j = first // 2
    j_next = np.minimum(j + 1, s.shape[1] - 1)
    rows = np.arange(s.shape[0])
    s_j, s_next = s[rows, j], s[rows, j_next]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(first % 2 == 1, s_j / (s_j - s_next), 0.0)
    crossing = u[j] + frac * (u[j_next] - u[j])
    if log_y:
        crossing = np.exp(crossing)
    return np.where(found, crossing, np.nan).astype(dtype)
