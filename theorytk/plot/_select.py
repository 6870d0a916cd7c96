"""Selecting the slice to draw: a variable of a sweep result (and its ``status``) reduced to the
plotted dimensions by coordinate-value keywords, reductions over ok points and positional
``isel``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ._axes import fmt, is_numeric

REDUCTIONS = ("mean", "median", "min", "max")

MaybeStatus = xr.DataArray | None


def get_var(obj: xr.Dataset | xr.DataArray, var: str | None, what: str) -> xr.DataArray:
    """``obj[var]`` for a Dataset (errors name the variables there), ``obj`` for a DataArray."""
    if isinstance(obj, xr.DataArray):
        da = obj
        if var is not None and da.name is not None and da.name != var:
            da = da.rename(var)
        return da
    if not isinstance(obj, xr.Dataset):
        raise TypeError(f"{what} must be an xarray Dataset or DataArray; got {type(obj).__name__}")
    if var is None:
        raise ValueError(f"{what}: name the variable to plot; available: {sorted(obj.data_vars)}")
    if var not in obj.data_vars:
        raise ValueError(
            f"unknown variable {var!r} in {what}; available variables: {sorted(obj.data_vars)}"
        )
    return obj[var]


def var_name(var: str | None, da: xr.DataArray) -> str:
    """The name a plotted variable goes by: ``var``, else the DataArray's name, else "value"."""
    return var if var is not None else (str(da.name) if da.name is not None else "value")


def prepare(
    obj: xr.Dataset | xr.DataArray,
    var: str | None,
    keep: Sequence[str],
    sel: Mapping[str, Any],
    isel: Mapping[str, int] | None,
    *,
    what: str = "dataset",
    strict: bool = True,
) -> tuple[xr.DataArray, MaybeStatus, list[str]]:
    """Select/reduce ``obj[var]`` (and its status) down to exactly the dims ``keep``.

    ``strict=False`` ignores selection keys for dims the variable does not have (used when one set
    of keywords is applied to several datasets).
    Returns the value array transposed to ``keep``, the matching status (or None) and a list of
    human-readable descriptions of the selections made.
    """
    da = get_var(obj, var, what)
    status = _status_of(obj, var)
    name = var_name(var, da)
    isel = dict(isel or {})
    _check_selection(da, name, keep, sel, isel, what, strict)
    desc: list[str] = []
    da, status = _apply_isel(da, status, isel, desc)
    for d, v in sel.items():
        if d in da.dims:
            da, status, text = _select_one(da, status, d, v)
            desc.append(text)
    da, status = _squeeze_singletons(da, status, keep, desc)
    _check_only_kept(da, name, keep, what)
    da = _sort_increasing(da.transpose(*keep), keep)
    return da, _align_status(status, da, keep), desc


def check_sel_used(
    sel: Mapping[str, Any], isel: Mapping[str, int] | None, objs: Sequence[Any]
) -> None:
    """Every selection keyword names a dimension of at least one of ``objs``."""
    dims: set[str] = set()
    for o in objs:
        dims.update(str(d) for d in o.dims)
    for d in list(sel) + list(isel or {}):
        if d not in dims:
            raise ValueError(
                f"cannot select on unknown dimension {d!r}; the datasets have dimensions "
                f"{sorted(dims)}"
            )


def sel_desc(sel: Mapping[str, Any], isel: Mapping[str, int] | None) -> list[str]:
    """Human-readable description of selection keywords (used in default titles)."""
    out = [
        f"{v} over {k}" if isinstance(v, str) and v in REDUCTIONS else f"{k}={fmt(v)}"
        for k, v in sel.items()
    ]
    out += [f"{k}[{i}]" for k, i in (isel or {}).items()]
    return out


def same(a: Any, b: Any) -> bool:
    """Coordinate values equal (numbers to a relative tolerance of 1e-9)."""
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=0.0))
    return a == b


def _status_of(obj: xr.Dataset | xr.DataArray, var: str | None) -> MaybeStatus:
    if isinstance(obj, xr.Dataset) and "status" in obj.data_vars and var != "status":
        return obj["status"]
    return None


def _check_selection(
    da: xr.DataArray,
    name: str,
    keep: Sequence[str],
    sel: Mapping[str, Any],
    isel: Mapping[str, int],
    what: str,
    strict: bool,
) -> None:
    """The plotted dims exist and differ; selections are not on plotted (or, if strict, unknown)
    dims."""
    if len(set(keep)) != len(keep):
        raise ValueError(f"the plotted dimensions must differ; got {list(keep)}")
    for d in keep:
        if d not in da.dims:
            raise ValueError(
                f"unknown dimension {d!r} for {name!r} in {what}; its dimensions are "
                f"{list(da.dims)}"
            )
    for d in list(isel) + list(sel):
        if d in keep:
            raise ValueError(f"cannot select on {d!r}: it is a plotted dimension ({list(keep)})")
        if d not in da.dims and strict:
            raise ValueError(
                f"cannot select on unknown dimension {d!r} of {name!r} in {what}; its "
                f"dimensions are {list(da.dims)}"
            )


def _isel_both(
    da: xr.DataArray, status: MaybeStatus, dim: str, i: int
) -> tuple[xr.DataArray, MaybeStatus]:
    """Index ``dim`` of the values and, where it has that dim, of the status."""
    if status is not None and dim in status.dims:
        status = status.isel({dim: i})
    return da.isel({dim: i}), status


def _apply_isel(
    da: xr.DataArray, status: MaybeStatus, isel: Mapping[str, int], desc: list[str]
) -> tuple[xr.DataArray, MaybeStatus]:
    for d, i in isel.items():
        if d not in da.dims:
            continue
        n = da.sizes[d]
        if not isinstance(i, (int, np.integer)) or not -n <= int(i) < n:
            raise ValueError(f"isel {d}={i!r} must be an integer index in [-{n}, {n})")
        desc.append(f"{d}={fmt(np.asarray(da[d].values)[int(i)])}")
        da, status = _isel_both(da, status, d, int(i))
    return da, status


def _select_one(
    da: xr.DataArray, status: MaybeStatus, dim: str, value: Any
) -> tuple[xr.DataArray, MaybeStatus, str]:
    """Reduce ``dim`` with a reduction name or pick the coordinate value ``value``."""
    coord = np.asarray(da[dim].values)
    if isinstance(value, str) and value in REDUCTIONS and value not in coord.tolist():
        return _reduce_ok(da, status, dim, value)
    if (
        is_numeric(coord)
        and isinstance(value, (int, float, np.number))
        and not isinstance(value, bool)
    ):
        hits = np.flatnonzero(np.isclose(coord.astype(float), float(value), rtol=1e-6, atol=0.0))
    else:
        hits = np.flatnonzero(coord == value)
    if hits.size == 0:
        raise ValueError(
            f"{dim}={value!r} is not a coordinate value of {dim!r}; values are "
            f"{[fmt(c) for c in coord]} (or reduce with {dim}='mean'/'median'/'min'/'max')"
        )
    i = int(hits[0])
    da, status = _isel_both(da, status, dim, i)
    return da, status, f"{dim}={fmt(coord[i])}"


def _reduce_ok(
    da: xr.DataArray, status: MaybeStatus, dim: str, how: str
) -> tuple[xr.DataArray, MaybeStatus, str]:
    """``how`` (mean, median, min, max) over the finite, status-0 points of ``dim``; the reduced
    status is the maximum over ``dim``, as in ``seed_mean``."""
    ok = np.isfinite(da) if is_numeric(np.asarray(da.values)) else xr.ones_like(da, bool)
    if status is not None:
        ok = ok & (status == 0)
    reduced = getattr(da.where(ok), how)(dim, skipna=True)
    reduced.attrs = dict(da.attrs)
    if status is not None and dim in status.dims:
        status = status.max(dim)
    return reduced, status, f"{how} over {dim}"


def _squeeze_singletons(
    da: xr.DataArray, status: MaybeStatus, keep: Sequence[str], desc: list[str]
) -> tuple[xr.DataArray, MaybeStatus]:
    for d in [d for d in da.dims if d not in keep and da.sizes[d] == 1]:
        desc.append(f"{d}={fmt(np.asarray(da[d].values)[0])}")
        da, status = _isel_both(da, status, d, 0)
    return da, status


def _check_only_kept(da: xr.DataArray, name: str, keep: Sequence[str], what: str) -> None:
    """No dimension besides ``keep`` is left; the error says how to select or reduce it."""
    extra = [d for d in da.dims if d not in keep]
    if not extra:
        return
    sizes = ", ".join(f"{d} (size {da.sizes[d]})" for d in extra)
    example = ", ".join(f"{d}=<value>" for d in extra)
    raise ValueError(
        f"{name!r} in {what} has dimensions {list(da.dims)} but only {list(keep)} can be "
        f"plotted; the extra dimensions are {sizes}. Select a value with keywords "
        f"({example}), index with isel={{...}}, or reduce with e.g. {extra[0]}='mean' "
        f"(also 'median', 'min', 'max')."
    )


def _sort_increasing(da: xr.DataArray, keep: Sequence[str]) -> xr.DataArray:
    """Sort unordered numeric coordinates; monotone ones (ascending or descending) stay."""
    for d in keep:
        coord = np.asarray(da[d].values)
        if is_numeric(coord) and coord.size > 1 and not np.all(np.diff(coord) > 0):
            if np.all(np.diff(coord) < 0):
                continue
            da = da.sortby(d)
    return da


def _align_status(status: MaybeStatus, da: xr.DataArray, keep: Sequence[str]) -> MaybeStatus:
    """The status reduced (max) over dims the values no longer have, on the values' grid."""
    if status is None:
        return None
    drop = [d for d in status.dims if d not in keep]
    if drop:
        status = status.max(drop)
    status = status.broadcast_like(da).transpose(*keep)
    return status.reindex_like(da)
