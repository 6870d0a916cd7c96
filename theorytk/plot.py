"""Publication-quality figures for sweep results: phase diagrams, theory/simulation overlays and
power-law scaling plots.

Every function draws with matplotlib's object API only (``matplotlib.figure.Figure`` and
``Axes`` methods, never ``pyplot``), so it is safe in threads and on headless machines (Agg).
Every function returns the ``Figure`` it drew into; when ``path`` is given the figure is also
saved there (PNG at ``dpi=150`` unless the suffix names another format), creating parent
directories. Callers own the returned figure; nothing is shown and nothing is closed.

Inputs follow the sweep-result conventions of ``theorytk.sweep.run``: one dimension per grid axis
(coordinate = the axis values), one data variable per metric, an optional ``status`` variable
(0 ok, 1 nonfinite, 2 diverged, 3 budget), and for seed-averaged results ``v`` / ``v_sem`` /
``n_ok`` variables (``theorytk.sweep.seed_mean``).

Selecting the 2-D (or 1-D) slice to draw: dimensions that are not plotted must be removed with
keyword arguments, e.g. ``phase_diagram(ds, "test_error", x="n", y="d", ridge=0.1,
seed="mean")``. A keyword value is either a coordinate value (matched with a relative tolerance of
1e-6) or one of the reductions ``"mean"``, ``"median"``, ``"min"``, ``"max"``, which reduce over
the points whose ``status`` is 0 and whose value is finite (the reduced ``status`` is the maximum
over that dimension, as in ``seed_mean``). Positional selection is available through ``isel=``.
Dimensions of length 1 are squeezed automatically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import matplotlib.patheffects as patheffects
import numpy as np
import xarray as xr
from matplotlib import cbook
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from numpy.typing import ArrayLike

__all__ = [
    "cell_edges",
    "compare",
    "is_geometric",
    "overlay",
    "phase_diagram",
    "phase_diagrams",
    "scaling_plot",
]

Scale = Literal["auto", "log", "linear"]

_REDUCTIONS = ("mean", "median", "min", "max")
_STATUS_NAMES = {1: "nonfinite", 2: "diverged", 3: "budget"}
_FAILED_HATCH = "///"
_NONFINITE_HATCH = "xxx"
_NONPOSITIVE_HATCH = "..."
_LINE_COLORS = ("#d62728", "#ff7f0e", "#e377c2", "#17becf", "black")
_LINE_STYLES = ("--", "-.", ":", (0, (5, 1, 1, 1)))


# --------------------------------------------------------------------------------------------
# Axis helpers
# --------------------------------------------------------------------------------------------


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


def _is_numeric(values: np.ndarray) -> bool:
    return np.issubdtype(values.dtype, np.number) and not np.issubdtype(
        values.dtype, np.complexfloating
    )


def _resolve_scale(values: np.ndarray, scale: str, name: str) -> str:
    if scale not in ("auto", "log", "linear"):
        raise ValueError(f"scale for {name!r} must be 'auto', 'log' or 'linear'; got {scale!r}")
    if not _is_numeric(values):
        return "linear"
    if scale == "auto":
        return "log" if is_geometric(values) else "linear"
    if scale == "log" and np.any(np.asarray(values, dtype=float) <= 0):
        raise ValueError(f"log scale requested for {name!r} but it has non-positive values")
    return scale


def _label(obj: xr.DataArray, name: str) -> str:
    """``long_name [units]`` from attrs, falling back to the name."""
    text = str(obj.attrs.get("long_name", name))
    units = obj.attrs.get("units")
    return f"{text} [{units}]" if units not in (None, "") else text


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


# --------------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------------


def _get_var(obj: xr.Dataset | xr.DataArray, var: str | None, what: str) -> xr.DataArray:
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


def _status_of(obj: xr.Dataset | xr.DataArray, var: str | None) -> xr.DataArray | None:
    if isinstance(obj, xr.Dataset) and "status" in obj.data_vars and var != "status":
        return obj["status"]
    return None


def _select_one(
    da: xr.DataArray,
    status: xr.DataArray | None,
    dim: str,
    value: Any,
) -> tuple[xr.DataArray, xr.DataArray | None, str]:
    coord = np.asarray(da[dim].values)
    if isinstance(value, str) and value in _REDUCTIONS and value not in coord.tolist():
        ok = np.isfinite(da) if _is_numeric(np.asarray(da.values)) else xr.ones_like(da, bool)
        if status is not None:
            ok = ok & (status == 0)
        masked = da.where(ok)
        reduced = getattr(masked, value)(dim, skipna=True)
        reduced.attrs = dict(da.attrs)
        if status is not None and dim in status.dims:
            status = status.max(dim)
        return reduced, status, f"{value} over {dim}"
    if (
        _is_numeric(coord)
        and isinstance(value, (int, float, np.number))
        and not isinstance(value, bool)
    ):
        hits = np.flatnonzero(np.isclose(coord.astype(float), float(value), rtol=1e-6, atol=0.0))
    else:
        hits = np.flatnonzero(coord == value)
    if hits.size == 0:
        raise ValueError(
            f"{dim}={value!r} is not a coordinate value of {dim!r}; values are "
            f"{[_fmt(c) for c in coord]} (or reduce with {dim}='mean'/'median'/'min'/'max')"
        )
    i = int(hits[0])
    da = da.isel({dim: i})
    if status is not None and dim in status.dims:
        status = status.isel({dim: i})
    return da, status, f"{dim}={_fmt(coord[i])}"


def _prepare(
    obj: xr.Dataset | xr.DataArray,
    var: str | None,
    keep: Sequence[str],
    sel: Mapping[str, Any],
    isel: Mapping[str, int] | None,
    *,
    what: str = "dataset",
    strict: bool = True,
) -> tuple[xr.DataArray, xr.DataArray | None, list[str]]:
    """Select/reduce ``obj[var]`` (and its status) down to exactly the dims ``keep``.

    ``strict=False`` ignores selection keys for dims the variable does not have (used when one set
    of keywords is applied to several datasets).
    Returns the value array transposed to ``keep``, the matching status (or None) and a list of
    human-readable descriptions of the selections made.
    """
    da = _get_var(obj, var, what)
    status = _status_of(obj, var)
    name = var if var is not None else (str(da.name) if da.name is not None else "value")
    if len(set(keep)) != len(keep):
        raise ValueError(f"the plotted dimensions must differ; got {list(keep)}")
    for d in keep:
        if d not in da.dims:
            raise ValueError(
                f"unknown dimension {d!r} for {name!r} in {what}; its dimensions are "
                f"{list(da.dims)}"
            )
    desc: list[str] = []
    isel = dict(isel or {})
    for d in list(isel) + list(sel):
        if d in keep:
            raise ValueError(f"cannot select on {d!r}: it is a plotted dimension ({list(keep)})")
        if d not in da.dims:
            if strict:
                raise ValueError(
                    f"cannot select on unknown dimension {d!r} of {name!r} in {what}; its "
                    f"dimensions are {list(da.dims)}"
                )
    for d, i in isel.items():
        if d not in da.dims:
            continue
        n = da.sizes[d]
        if not isinstance(i, (int, np.integer)) or not -n <= int(i) < n:
            raise ValueError(f"isel {d}={i!r} must be an integer index in [-{n}, {n})")
        coord = np.asarray(da[d].values)
        desc.append(f"{d}={_fmt(coord[int(i)])}")
        da = da.isel({d: int(i)})
        if status is not None and d in status.dims:
            status = status.isel({d: int(i)})
    for d, v in sel.items():
        if d not in da.dims:
            continue
        da, status, text = _select_one(da, status, d, v)
        desc.append(text)
    extra = [d for d in da.dims if d not in keep]
    for d in [d for d in extra if da.sizes[d] == 1]:
        desc.append(f"{d}={_fmt(np.asarray(da[d].values)[0])}")
        da = da.isel({d: 0})
        if status is not None and d in status.dims:
            status = status.isel({d: 0})
    extra = [d for d in da.dims if d not in keep]
    if extra:
        sizes = ", ".join(f"{d} (size {da.sizes[d]})" for d in extra)
        example = ", ".join(f"{d}=<value>" for d in extra)
        raise ValueError(
            f"{name!r} in {what} has dimensions {list(da.dims)} but only {list(keep)} can be "
            f"plotted; the extra dimensions are {sizes}. Select a value with keywords "
            f"({example}), index with isel={{...}}, or reduce with e.g. {extra[0]}='mean' "
            f"(also 'median', 'min', 'max')."
        )
    da = da.transpose(*keep)
    for d in keep:
        coord = np.asarray(da[d].values)
        if _is_numeric(coord) and coord.size > 1 and not np.all(np.diff(coord) > 0):
            if np.all(np.diff(coord) < 0):
                continue
            da = da.sortby(d)
    if status is not None:
        drop = [d for d in status.dims if d not in keep]
        if drop:
            status = status.max(drop)
        status = status.broadcast_like(da).transpose(*keep)
        status = status.reindex_like(da)
    return da, status, desc


# --------------------------------------------------------------------------------------------
# Phase diagrams
# --------------------------------------------------------------------------------------------


class _Panel:
    """A prepared 2-D slice: values (ny, nx), masks, coordinates and labels."""

    def __init__(
        self,
        da: xr.DataArray,
        status: xr.DataArray | None,
        desc: list[str],
        name: str,
        x: str,
        y: str,
        xscale: str,
        yscale: str,
        log_color: bool,
    ) -> None:
        self.da = da
        self.name = name
        self.desc = desc
        self.x, self.y = x, y
        values = np.asarray(da.values)
        if not _is_numeric(values) and values.dtype != bool:
            raise ValueError(f"{name!r} has non-numeric dtype {values.dtype}; cannot colour it")
        self.values = values.astype(float)
        self.status = (
            None if status is None else np.asarray(status.fillna(0).values).astype(np.int64)
        )
        self.failed = np.zeros(values.shape, bool) if self.status is None else self.status != 0
        self.nonfinite = ~np.isfinite(self.values) & ~self.failed
        self.nonpositive = (
            (self.values <= 0) & ~self.failed & ~self.nonfinite
            if log_color
            else np.zeros(values.shape, bool)
        )
        self.mask = self.failed | self.nonfinite | self.nonpositive
        self.xc, self.xticks = _centres(da, x)
        self.yc, self.yticks = _centres(da, y)
        self.xscale = _resolve_scale(np.asarray(da[x].values), xscale, x)
        self.yscale = _resolve_scale(np.asarray(da[y].values), yscale, y)
        self.xe = cell_edges(self.xc, log=self.xscale == "log")
        self.ye = cell_edges(self.yc, log=self.yscale == "log")

    @property
    def masked(self) -> np.ma.MaskedArray:
        return np.ma.masked_array(self.values, mask=self.mask)

    def finite_range(self) -> tuple[float, float] | None:
        good = self.values[~self.mask]
        if good.size == 0:
            return None
        return float(good.min()), float(good.max())


def _centres(da: xr.DataArray, dim: str) -> tuple[np.ndarray, list[str] | None]:
    coord = np.asarray(da[dim].values)
    if _is_numeric(coord):
        return coord.astype(float), None
    return np.arange(coord.size, dtype=float), [_fmt(c) for c in coord]


def _make_norm(
    ranges: Sequence[tuple[float, float] | None],
    log_color: bool,
    vmin: float | None,
    vmax: float | None,
) -> Normalize:
    lo = [r[0] for r in ranges if r is not None]
    hi = [r[1] for r in ranges if r is not None]
    vmin = vmin if vmin is not None else (min(lo) if lo else None)
    vmax = vmax if vmax is not None else (max(hi) if hi else None)
    if vmin is None or vmax is None:  # nothing drawable (e.g. every cell failed): any valid range
        if vmin is None and vmax is None:
            vmin, vmax = (1.0, 10.0) if log_color else (0.0, 1.0)
        elif vmin is None:
            vmin = vmax / 10.0 if log_color else vmax - 1.0
        else:
            vmax = vmin * 10.0 if log_color else vmin + 1.0
    if log_color:
        if vmin is not None and vmin <= 0:
            raise ValueError(f"log_color needs vmin > 0; got vmin={vmin}")
        return LogNorm(vmin=vmin, vmax=vmax)
    return Normalize(vmin=vmin, vmax=vmax)


def _cell_polys(panel: _Panel, mask: np.ndarray) -> list[np.ndarray]:
    polys = []
    for i, j in zip(*np.nonzero(mask), strict=True):
        x0, x1 = panel.xe[j], panel.xe[j + 1]
        y0, y1 = panel.ye[i], panel.ye[i + 1]
        polys.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return polys


def _hatch_layer(ax: Axes, panel: _Panel, mask: np.ndarray, hatch: str, label: str) -> None:
    if not mask.any():
        return
    coll = PolyCollection(
        _cell_polys(panel, mask),
        facecolors="0.9",
        edgecolors="0.3",
        linewidths=0.0,
        hatch=hatch,
        label=label,
        zorder=2,
    )
    if hasattr(coll, "set_hatchcolor"):
        coll.set_hatchcolor("0.3")
    ax.add_collection(coll)


def _failed_label(panel: _Panel) -> str:
    assert panel.status is not None
    codes = panel.status[panel.failed]
    parts = []
    for code in np.unique(codes):
        name = _STATUS_NAMES.get(int(code), f"status {int(code)}")
        parts.append(f"{name} ×{int(np.sum(codes == code))}")
    return "failed: " + ", ".join(parts)


def _draw_lines(ax: Axes, lines: Sequence[Sequence[Any]] | None) -> None:
    for k, line in enumerate(lines or ()):
        if not isinstance(line, (tuple, list)) or len(line) not in (2, 3, 4):
            raise ValueError(
                "each entry of lines must be (x_values, y_values[, label[, plot_kwargs]]); "
                f"entry {k} is {line!r}"
            )
        xs, ys = np.asarray(line[0], float), np.asarray(line[1], float)
        if xs.shape != ys.shape:
            raise ValueError(
                f"lines[{k}]: x and y values must have the same shape; got {xs.shape}, {ys.shape}"
            )
        kwargs: dict[str, Any] = {
            "color": _LINE_COLORS[k % len(_LINE_COLORS)],
            "linestyle": _LINE_STYLES[k % len(_LINE_STYLES)],
            "linewidth": 2.0,
            "zorder": 4,
            "path_effects": [patheffects.withStroke(linewidth=3.2, foreground="0.15", alpha=0.6)],
        }
        if len(line) >= 3 and line[2] is not None:
            kwargs["label"] = str(line[2])
        if len(line) == 4:  # the caller's keywords, aliases (ls, lw, c) resolved, win
            kwargs.update(cbook.normalize_kwargs(dict(line[3]), Line2D))
        ax.plot(xs, ys, **kwargs)


def _draw_contour(
    ax: Axes,
    contour: str | xr.DataArray,
    source: xr.Dataset | xr.DataArray,
    panel: _Panel,
    levels: Sequence[float] | int | None,
    sel: Mapping[str, Any],
    isel: Mapping[str, int] | None,
    label: str | None,
) -> None:
    if isinstance(contour, str):
        if not isinstance(source, xr.Dataset):
            raise ValueError("contour given as a variable name needs a Dataset, not a DataArray")
        cda, _, _ = _prepare(
            source, contour, (panel.y, panel.x), sel, isel, what="contour", strict=False
        )
        name = contour
    elif isinstance(contour, xr.DataArray):
        cda, _, _ = _prepare(
            contour, None, (panel.y, panel.x), sel, isel, what="contour", strict=False
        )
        name = str(contour.name) if contour.name is not None else "contour"
    else:
        raise TypeError(
            f"contour must be a variable name or a DataArray; got {type(contour).__name__}"
        )
    if cda.sizes[panel.x] < 2 or cda.sizes[panel.y] < 2:
        raise ValueError(f"contour {name!r} needs at least 2 points along {panel.x} and {panel.y}")
    cx, _ = _centres(cda, panel.x)
    cy, _ = _centres(cda, panel.y)
    z = np.ma.masked_invalid(np.asarray(cda.values, dtype=float))
    if z.count() == 0:
        return
    kwargs: dict[str, Any] = {"colors": "white", "linewidths": 1.4, "zorder": 3}
    if levels is not None:
        kwargs["levels"] = levels
    cs = ax.contour(cx, cy, z, **kwargs)
    cs.set(path_effects=[patheffects.withStroke(linewidth=2.6, foreground="0.1")])
    labels = ax.clabel(cs, inline=True, fontsize=7, fmt="%g")
    for text in labels:
        text.set_path_effects([patheffects.withStroke(linewidth=2.0, foreground="0.1")])
    ax.add_line(
        Line2D(
            [],
            [],
            color="white",
            linewidth=1.4,
            path_effects=[patheffects.withStroke(linewidth=2.6, foreground="0.1")],
            label=label if label is not None else f"{name} level sets",
        )
    )


def _draw_panel(
    ax: Axes,
    panel: _Panel,
    norm: Normalize,
    cmap: str | Colormap,
    *,
    title: str | None,
    source: xr.Dataset | xr.DataArray | None = None,
    contour: str | xr.DataArray | None = None,
    levels: Sequence[float] | int | None = None,
    contour_label: str | None = None,
    lines: Sequence[Sequence[Any]] | None = None,
    sel: Mapping[str, Any] | None = None,
    isel: Mapping[str, int] | None = None,
    hatch_prefix: str = "",
    failed_legend: bool = True,
) -> Any:
    """Draw one prepared panel (mesh, hatching, contours, lines, scales, labels; no legend)."""
    mesh = ax.pcolormesh(
        panel.xe, panel.ye, panel.masked, norm=norm, cmap=cmap, shading="flat", zorder=1
    )
    pre = hatch_prefix
    if panel.status is not None:
        # A label starting with "_" keeps the layer out of the legend.
        label = (pre if failed_legend else "_") + _failed_label(panel)
        _hatch_layer(ax, panel, panel.failed, _FAILED_HATCH, label)
    _hatch_layer(
        ax,
        panel,
        panel.nonfinite,
        _NONFINITE_HATCH,
        pre + f"non-finite value ×{int(panel.nonfinite.sum())}",
    )
    _hatch_layer(
        ax,
        panel,
        panel.nonpositive,
        _NONPOSITIVE_HATCH,
        pre + f"≤ 0 (off log colour scale) ×{int(panel.nonpositive.sum())}",
    )
    if contour is not None:
        _draw_contour(
            ax,
            contour,
            source if source is not None else panel.da,
            panel,
            levels,
            sel or {},
            isel,
            contour_label,
        )
    _draw_lines(ax, lines)
    ax.set_xscale(panel.xscale)
    ax.set_yscale(panel.yscale)
    ax.set_xlim(panel.xe[0], panel.xe[-1])
    ax.set_ylim(panel.ye[0], panel.ye[-1])
    _plain_log_ticks(ax.xaxis, panel.xe)
    _plain_log_ticks(ax.yaxis, panel.ye)
    if panel.xticks is not None:
        ax.set_xticks(panel.xc, panel.xticks)
    if panel.yticks is not None:
        ax.set_yticks(panel.yc, panel.yticks)
    ax.set_xlabel(_label(panel.da[panel.x], panel.x))
    ax.set_ylabel(_label(panel.da[panel.y], panel.y))
    if title is not None:
        ax.set_title(title)
    return mesh


def _legend(fig: Figure, axes: Sequence[Axes], *, outside: bool) -> None:
    """One legend for ``axes`` (duplicate labels merged): below the figure when ``outside``
    (constrained layout makes room for it), else inside the single axes at the best spot."""
    handles: list[Any] = []
    labels: list[str] = []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if not handles:
        return
    if outside:
        ncols = min(len(handles), 3 if len(axes) == 1 else 4)
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=ncols,
            fontsize="small",
            frameon=False,
            handleheight=1.2,
        )
    else:
        axes[0].legend(handles, labels, loc="best", fontsize="small", framealpha=0.85)


def _best_label(objs: Sequence[xr.DataArray], name: str) -> str:
    """The label of the first object that has ``long_name``/``units`` attrs, else ``name``."""
    for o in objs:
        if o.attrs.get("long_name") or o.attrs.get("units"):
            return _label(o, name)
    return name


def _default_title(name: str, da: xr.DataArray, desc: list[str]) -> str:
    base = str(da.attrs.get("long_name", name))
    return f"{base} ({', '.join(desc)})" if desc else base


def _colorbar(fig: Figure, mesh: Any, ax: Axes | Sequence[Axes], label: str, **kw: Any) -> Any:
    """A labelled colourbar; a log scale spanning under two decades gets plain tick labels
    (``2``, ``5``) instead of ``2×10^0``."""
    cb = fig.colorbar(mesh, ax=ax, **kw)
    cb.set_label(label)
    norm = mesh.norm
    if isinstance(norm, LogNorm) and norm.vmin and norm.vmax:
        _plain_log_ticks(cb.ax.yaxis, np.array([norm.vmin, norm.vmax]))
    return cb


def _plain_log_ticks(axis: Any, edges: np.ndarray) -> None:
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


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Figure, path: str | os.PathLike[str] | None, dpi: int) -> None:
    if path is None:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fmt = None if p.suffix else "png"
    fig.savefig(p, dpi=dpi, format=fmt)


def phase_diagram(
    ds: xr.Dataset | xr.DataArray,
    var: str | None = None,
    *,
    x: str,
    y: str,
    ax: Axes | None = None,
    log_color: bool = False,
    cmap: str | Colormap = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    xscale: Scale = "auto",
    yscale: Scale = "auto",
    contour: str | xr.DataArray | None = None,
    levels: Sequence[float] | int | None = None,
    contour_label: str | None = None,
    lines: Sequence[Sequence[Any]] | None = None,
    title: str | None = None,
    colorbar: bool = True,
    isel: Mapping[str, int] | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
    **sel: Any,
) -> Figure:
    """Phase diagram: ``ds[var]`` as a colour map over the grid dimensions ``x`` and ``y``.

    Cells are centred on the coordinate values. An axis whose coordinate is geometric
    (:func:`is_geometric`) is drawn on a log scale with cell edges at geometric midpoints;
    otherwise edges are arithmetic midpoints (outer edges extrapolated by half a step, see
    :func:`cell_edges`). Cells whose ``status`` is non-zero are not coloured but drawn as grey
    ``'///'`` hatching, labelled in the legend with the failure kinds and counts; non-finite values
    with status 0 are hatched ``'xxx'`` and, with ``log_color``, non-positive values ``'...'``.

    Args:
        ds: sweep result Dataset (or a DataArray, then ``var`` is optional).
        var: the data variable to colour.
        x: dimension drawn horizontally.
        y: dimension drawn vertically.
        ax: axes to draw into; a new figure is created when omitted.
        log_color: logarithmic colour scale (``LogNorm``).
        cmap: matplotlib colormap.
        vmin: lower colour limit (default: minimum of the drawn values).
        vmax: upper colour limit (default: maximum of the drawn values).
        xscale: ``"auto"`` (log if geometric), ``"log"`` or ``"linear"``.
        yscale: as ``xscale``.
        contour: contour lines drawn on top: a variable name of ``ds`` or a DataArray over ``x``
            and ``y`` (possibly on a finer grid, e.g. the theory test error); the same selection
            keywords are applied to the dimensions it has.
        levels: contour levels (a sequence, or a number of levels; default: matplotlib's choice).
        contour_label: legend label of the contour lines (default ``"<name> level sets"``).
        lines: curves drawn on top, each ``(x_values, y_values, label)`` with an optional fourth
            element of ``Axes.plot`` keyword arguments, e.g. ``[(d, d, "n = d")]``.
        title: axes title (default: the variable's ``long_name`` or name plus the selection).
        colorbar: draw a colourbar labelled with the variable name (and ``units`` attr).
        isel: positional selection of non-plotted dimensions, ``{dim: index}``.
        path: if given, save the figure there (PNG unless the suffix says otherwise).
        dpi: resolution of the saved figure.
        **sel: selection of non-plotted dimensions by coordinate value, or reduction with
            ``"mean"``/``"median"``/``"min"``/``"max"`` over ok points.

    Returns:
        The figure drawn into (``ax.figure`` when ``ax`` is given).

    Raises:
        ValueError: unknown variable or dimension, a dimension left over after selection (the
            message names it and how to select or reduce it), or an invalid option.
    """
    da, status, desc = _prepare(ds, var, (y, x), sel, isel)
    name = var if var is not None else (str(da.name) if da.name is not None else "value")
    panel = _Panel(da, status, desc, name, x, y, xscale, yscale, log_color)
    norm = _make_norm([panel.finite_range()], log_color, vmin, vmax)
    own_figure = ax is None
    if ax is None:
        fig = _new_figure(5.8, 4.9)
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    mesh = _draw_panel(
        ax,
        panel,
        norm,
        cmap,
        title=title if title is not None else _default_title(name, da, desc),
        source=ds,
        contour=contour,
        levels=levels,
        contour_label=contour_label,
        lines=lines,
        sel=sel,
        isel=isel,
    )
    if colorbar:
        _colorbar(fig, mesh, ax, _label(da, name))
    _legend(fig, [ax], outside=own_figure)
    _save(fig, path, dpi)
    return fig


def _root_figure(ax: Axes) -> Figure:
    """The top-level figure of ``ax`` (not a SubFigure), whatever the matplotlib version."""
    try:
        fig = ax.get_figure(root=True)  # matplotlib >= 3.10
    except TypeError:
        fig = ax.get_figure()
        while getattr(fig, "figure", fig) is not fig:
            fig = fig.figure
    assert isinstance(fig, Figure)
    return fig


def phase_diagrams(
    datasets: Mapping[str, xr.Dataset | xr.DataArray] | Sequence[xr.Dataset | xr.DataArray],
    var: str | None = None,
    *,
    x: str,
    y: str,
    log_color: bool = False,
    cmap: str | Colormap = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    share_norm: bool = True,
    xscale: Scale = "auto",
    yscale: Scale = "auto",
    contour: str | xr.DataArray | None = None,
    levels: Sequence[float] | int | None = None,
    contour_label: str | None = None,
    lines: Sequence[Sequence[Any]] | None = None,
    title: str | None = None,
    isel: Mapping[str, int] | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
    **sel: Any,
) -> Figure:
    """Several phase diagrams of the same variable side by side, on one colour scale.

    Each panel is drawn as in :func:`phase_diagram`. With ``share_norm`` (default) all panels use
    the same colour normalisation (limits over the drawn values of all panels) and one colourbar.
    Selection keywords apply to each dataset for the dimensions it has (so ``seed="mean"`` can
    reduce a simulation while the theory has no seed dimension).

    Args:
        datasets: ``{panel title: dataset}`` or a sequence of datasets (titled by index).
        var: the data variable to colour in every dataset.
        x: dimension drawn horizontally.
        y: dimension drawn vertically.
        log_color: logarithmic colour scale.
        cmap: matplotlib colormap.
        vmin: lower colour limit.
        vmax: upper colour limit.
        share_norm: one colour scale and colourbar for all panels.
        xscale: ``"auto"``, ``"log"`` or ``"linear"``.
        yscale: as ``xscale``.
        contour: as in :func:`phase_diagram`; drawn on every panel.
        levels: contour levels.
        contour_label: legend label of the contour lines.
        lines: as in :func:`phase_diagram`; drawn on every panel.
        title: figure title (suptitle).
        isel: positional selection ``{dim: index}``.
        path: if given, save the figure there.
        dpi: resolution of the saved figure.
        **sel: selection/reduction keywords, as in :func:`phase_diagram`.

    Returns:
        The figure.
    """
    if isinstance(datasets, Mapping):
        items = [(str(k), v) for k, v in datasets.items()]
    elif isinstance(datasets, Sequence) and not isinstance(datasets, str):
        items = [(str(i), v) for i, v in enumerate(datasets)]
    else:
        raise TypeError("datasets must be a mapping {title: dataset} or a sequence of datasets")
    if not items:
        raise ValueError("phase_diagrams needs at least one dataset")
    specs = [
        (t, d, _prepare_panel(d, var, x, y, sel, isel, t, xscale, yscale, log_color))
        for t, d in items
    ]
    _check_sel_used(sel, isel, [s[2].da for s in specs] + [d for _, d in items])
    return _draw_panels(
        specs,
        diff_panel=None,
        log_color=log_color,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        share_norm=share_norm,
        contour=contour,
        levels=levels,
        contour_label=contour_label,
        lines=lines,
        title=title,
        isel=isel,
        sel=sel,
        path=path,
        dpi=dpi,
    )


def _prepare_panel(
    obj: xr.Dataset | xr.DataArray,
    var: str | None,
    x: str,
    y: str,
    sel: Mapping[str, Any],
    isel: Mapping[str, int] | None,
    what: str,
    xscale: Scale,
    yscale: Scale,
    log_color: bool,
) -> _Panel:
    da, status, desc = _prepare(obj, var, (y, x), sel, isel, what=repr(what), strict=False)
    name = var if var is not None else (str(da.name) if da.name is not None else "value")
    return _Panel(da, status, desc, name, x, y, xscale, yscale, log_color)


def _check_sel_used(
    sel: Mapping[str, Any], isel: Mapping[str, int] | None, objs: Sequence[Any]
) -> None:
    dims: set[str] = set()
    for o in objs:
        dims.update(str(d) for d in o.dims)
    for d in list(sel) + list(isel or {}):
        if d not in dims:
            raise ValueError(
                f"cannot select on unknown dimension {d!r}; the datasets have dimensions "
                f"{sorted(dims)}"
            )


def _draw_panels(
    specs: list[tuple[str, Any, _Panel]],
    *,
    diff_panel: tuple[str, _Panel, str] | None,
    log_color: bool,
    cmap: str | Colormap,
    vmin: float | None,
    vmax: float | None,
    share_norm: bool,
    contour: str | xr.DataArray | None,
    levels: Sequence[float] | int | None,
    contour_label: str | None,
    lines: Sequence[Sequence[Any]] | None,
    title: str | None,
    isel: Mapping[str, int] | None,
    sel: Mapping[str, Any],
    path: str | os.PathLike[str] | None,
    dpi: int,
) -> Figure:
    n = len(specs) + (diff_panel is not None)
    fig = _new_figure(4.6 * n + 0.9, 4.8)
    axes = list(fig.subplots(1, n, squeeze=False)[0])
    panels = [s[2] for s in specs]
    xlabel = _best_label([p.da[p.x] for p in panels], panels[0].x)
    ylabel = _best_label([p.da[p.y] for p in panels], panels[0].y)
    clabel = _best_label([p.da for p in panels], panels[0].name)
    shared = _make_norm([p.finite_range() for p in panels], log_color, vmin, vmax)
    meshes = []
    for ax, (t, source, panel) in zip(axes, specs, strict=False):
        norm = shared if share_norm else _make_norm([panel.finite_range()], log_color, vmin, vmax)
        mesh = _draw_panel(
            ax,
            panel,
            norm,
            cmap,
            title=t,
            source=source,
            contour=contour,
            levels=levels,
            contour_label=contour_label,
            lines=lines,
            sel=sel,
            isel=isel,
            hatch_prefix=f"{t}: " if n > 1 else "",
        )
        meshes.append(mesh)
        if not share_norm:
            _colorbar(fig, mesh, ax, clabel)
    if share_norm:
        _colorbar(fig, meshes[0], axes[: len(specs)], clabel, aspect=30)
    if diff_panel is not None:
        dtitle, dpanel, dlabel = diff_panel
        rng = dpanel.finite_range()
        m = max(abs(rng[0]), abs(rng[1])) if rng is not None else 1.0
        m = m if m > 0 else 1.0
        mesh = _draw_panel(
            axes[-1],
            dpanel,
            Normalize(-m, m),
            "RdBu_r",
            title=dtitle,
            lines=lines,
            hatch_prefix=f"{dtitle}: ",
            failed_legend=False,
        )
        _colorbar(fig, mesh, axes[-1], dlabel)
    # Same extent on every panel (the theory may be on a finer or wider grid).
    all_panels = panels + ([diff_panel[1]] if diff_panel is not None else [])
    xlim = _union_limits([p.xe for p in all_panels])
    ylim = _union_limits([p.ye for p in all_panels])
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
    _legend(fig, axes, outside=True)
    if title is None:
        desc = list(dict.fromkeys(d for p in panels for d in p.desc))
        base = next(
            (str(p.da.attrs["long_name"]) for p in panels if "long_name" in p.da.attrs),
            panels[0].name,
        )
        title = f"{base} ({', '.join(desc)})" if desc else base
    fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


def _union_limits(edges: Sequence[np.ndarray]) -> tuple[float, float]:
    """Axis limits covering all ``edges``, keeping the direction of the first (descending
    coordinates stay descending)."""
    lo = min(float(np.min(e)) for e in edges)
    hi = max(float(np.max(e)) for e in edges)
    return (hi, lo) if edges[0][0] > edges[0][-1] else (lo, hi)


def _on_grid(theory: xr.DataArray, sim: xr.DataArray, dims: Sequence[str], logs: Sequence[bool]):
    """``theory`` on the coordinates of ``sim`` (interpolated in log space on log axes)."""
    same = all(
        theory.sizes[d] == sim.sizes[d]
        and np.allclose(
            np.asarray(theory[d].values, float), np.asarray(sim[d].values, float), rtol=1e-9
        )
        for d in dims
    )
    if same:
        return theory.copy(data=np.asarray(theory.values, float)).assign_coords(
            {d: sim[d].values for d in dims}
        )
    t = theory
    targets = {}
    for d, log in zip(dims, logs, strict=True):
        tv = np.asarray(t[d].values, float)
        sv = np.asarray(sim[d].values, float)
        if log and np.all(tv > 0) and np.all(sv > 0):
            t = t.assign_coords({d: np.log(tv)})
            sv = np.log(sv)
        targets[d] = sv
    out = t.interp(targets, method="linear")
    return out.assign_coords({d: sim[d].values for d in dims})


def compare(
    theory: xr.Dataset | xr.DataArray,
    simulation: xr.Dataset | xr.DataArray,
    var: str | None = None,
    *,
    x: str,
    y: str,
    theory_var: str | None = None,
    diff: Literal["relative", "absolute"] | None = "relative",
    log_color: bool = False,
    cmap: str | Colormap = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    xscale: Scale = "auto",
    yscale: Scale = "auto",
    contour: str | xr.DataArray | None = None,
    levels: Sequence[float] | int | None = None,
    contour_label: str | None = None,
    lines: Sequence[Sequence[Any]] | None = None,
    titles: Sequence[str] = ("theory", "simulation"),
    title: str | None = None,
    isel: Mapping[str, int] | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
    **sel: Any,
) -> Figure:
    """Theory and simulation phase diagrams side by side on one colour scale, plus their difference.

    The two panels share one normalisation (same ``vmin``/``vmax``, or the same ``LogNorm``) and
    one colourbar. With ``diff="relative"`` a third panel shows
    ``(simulation - theory) / |theory|`` (``"absolute"``: ``simulation - theory``) on a symmetric
    diverging scale; if the theory is on a different grid it is linearly interpolated onto the
    simulation grid (in log coordinates along log axes). Failed simulation cells are hatched in
    the simulation and difference panels.

    Args:
        theory: theory Dataset/DataArray over ``x`` and ``y`` (other dims selected by keywords).
        simulation: simulation Dataset/DataArray; a ``seed`` dimension must be selected or
            reduced, e.g. ``seed="mean"``.
        var: the variable to compare.
        x: dimension drawn horizontally.
        y: dimension drawn vertically.
        theory_var: the theory's name for the variable (default ``var``).
        diff: ``"relative"``, ``"absolute"`` or ``None`` (no third panel).
        log_color: logarithmic colour scale for the first two panels.
        cmap: colormap of the first two panels.
        vmin: lower colour limit.
        vmax: upper colour limit.
        xscale: ``"auto"``, ``"log"`` or ``"linear"``.
        yscale: as ``xscale``.
        contour: as in :func:`phase_diagram`; drawn on the theory and simulation panels.
        levels: contour levels.
        contour_label: legend label of the contour lines.
        lines: as in :func:`phase_diagram`; drawn on every panel.
        titles: titles of the theory and simulation panels.
        title: figure title (default: the variable name and selection).
        isel: positional selection ``{dim: index}``, applied where the dim exists.
        path: if given, save the figure there.
        dpi: resolution of the saved figure.
        **sel: selection/reduction keywords, applied to each input for the dims it has.

    Returns:
        The figure.
    """
    if diff not in ("relative", "absolute", None):
        raise ValueError(f"diff must be 'relative', 'absolute' or None; got {diff!r}")
    if len(titles) != 2:
        raise ValueError(f"titles must name the theory and simulation panels; got {titles!r}")
    tvar = theory_var if theory_var is not None else var
    tp = _prepare_panel(theory, tvar, x, y, sel, isel, titles[0], xscale, yscale, log_color)
    sp = _prepare_panel(simulation, var, x, y, sel, isel, titles[1], xscale, yscale, log_color)
    _check_sel_used(sel, isel, [theory, simulation])
    diff_panel = None
    if diff is not None:
        logs = [sp.xscale == "log", sp.yscale == "log"]
        t_on = _on_grid(tp.da, sp.da, (y, x), logs[::-1])
        s_vals = sp.da.copy(data=np.where(sp.failed, np.nan, sp.values))
        if diff == "relative":
            d = (s_vals - t_on) / np.abs(t_on)
            label = "relative difference (sim − theory) / |theory|"
        else:
            d = s_vals - t_on
            label = (
                f"difference sim − theory [{sp.da.attrs['units']}]"
                if sp.da.attrs.get("units")
                else "difference sim − theory"
            )
        d = d.transpose(y, x)
        d.attrs = {}
        status = None
        if sp.status is not None:
            status = sp.da.copy(data=sp.status)
        dp = _Panel(d, status, [], "difference", x, y, sp.xscale, sp.yscale, False)
        dp.xe, dp.ye = sp.xe, sp.ye
        diff_panel = (f"{diff} difference", dp, label)
    return _draw_panels(
        [(titles[0], theory, tp), (titles[1], simulation, sp)],
        diff_panel=diff_panel,
        log_color=log_color,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        share_norm=True,
        contour=contour,
        levels=levels,
        contour_label=contour_label,
        lines=lines,
        title=title,
        isel=isel,
        sel=sel,
        path=path,
        dpi=dpi,
    )


# --------------------------------------------------------------------------------------------
# Theory vs simulation curves
# --------------------------------------------------------------------------------------------


def _sim_points(
    simulation: xr.Dataset | xr.DataArray,
    var: str,
    keep: Sequence[str],
    seed_dim: str,
    sel: Mapping[str, Any],
    isel: Mapping[str, int],
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Simulation mean and standard error (or None) for ``var``; points to drop are NaN."""

    def prep(v: str, dims: Sequence[str]) -> tuple[xr.DataArray, xr.DataArray | None]:
        da, status, _ = _prepare(simulation, v, dims, sel, isel, what="simulation", strict=False)
        return da, status

    da_full = _get_var(simulation, var, "simulation")
    if seed_dim in da_full.dims and seed_dim not in sel and seed_dim not in isel:
        da, status = prep(var, (*keep, seed_dim))
        ok = np.isfinite(da)
        if status is not None:
            ok = ok & (status == 0)
        good = da.where(ok)
        n = ok.sum(seed_dim)
        mean = good.mean(seed_dim, skipna=True).where(n > 0)
        sem = (good.std(seed_dim, ddof=1, skipna=True) / np.sqrt(n)).where(n >= 2)
        mean.attrs = dict(da.attrs)
        return mean, sem
    da, status = prep(var, keep)
    valid = np.isfinite(da)
    sem_name = f"{var}_sem"
    if isinstance(simulation, xr.Dataset) and sem_name in simulation.data_vars:
        sem, _ = prep(sem_name, keep)
        if "n_ok" in simulation.data_vars:
            n_ok, _ = prep("n_ok", keep)
            valid = valid & (n_ok > 0)
        return da.where(valid), sem.where(valid)
    if status is not None:
        valid = valid & (status == 0)
    return da.where(valid), None


def _hue_colors(values: np.ndarray, cmap: str | Colormap | None) -> list[Any]:
    from matplotlib import colormaps

    n = len(values)
    if cmap is None:
        if n <= 10 and not (_is_numeric(values) and n > 4):
            return [f"C{i}" for i in range(n)]
        cmap = "viridis"
    cm = colormaps[cmap] if isinstance(cmap, str) else cmap
    if n == 1:
        return [cm(0.0)]
    return [cm(0.9 * i / (n - 1)) for i in range(n)]


def overlay(
    theory: xr.Dataset | xr.DataArray | None,
    simulation: xr.Dataset | xr.DataArray | None,
    *,
    x: str,
    var: str,
    hue: str | None = None,
    theory_var: str | None = None,
    seed_dim: str = "seed",
    ax: Axes | None = None,
    xscale: Scale = "auto",
    yscale: Scale = "linear",
    cmap: str | Colormap | None = None,
    title: str | None = None,
    isel: Mapping[str, int] | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
    **sel: Any,
) -> Figure:
    """Theory as lines versus ``x``, simulation as points with standard-error bars.

    The simulation is either a Dataset with a ``seed_dim`` dimension (the mean and the standard
    error ``std(ddof=1) / sqrt(n_ok)`` are computed over the seeds with ``status == 0`` and a
    finite value; points with no ok seed are dropped, points with one ok seed get no error bar),
    or a Dataset with ``var`` and ``var_sem`` variables (as from ``seed_mean``; points with
    ``n_ok == 0`` or a non-finite mean are dropped), or, without either, plain points (status
    != 0 dropped). If a dimension besides ``x`` remains (e.g. several ridge values) one theory
    line and one set of points is drawn per value of it in matching colours (``hue``; detected
    automatically when exactly one such dimension remains). A theory without the hue dimension is
    drawn as one black line.

    Args:
        theory: theory Dataset/DataArray over ``x`` (and ``hue``), possibly on a finer x grid;
            ``None`` to draw only the simulation.
        simulation: simulation Dataset/DataArray; ``None`` to draw only the theory.
        x: dimension on the horizontal axis.
        var: the variable on the vertical axis.
        hue: dimension drawn as separate colours.
        theory_var: the theory's name for the variable (default ``var``).
        seed_dim: name of the seed dimension of raw simulation results.
        ax: axes to draw into; a new figure is created when omitted.
        xscale: ``"auto"`` (log if the x coordinate is geometric), ``"log"`` or ``"linear"``.
        yscale: ``"linear"``, ``"log"`` or ``"auto"`` (log if all values are positive and span
            more than two decades).
        cmap: colormap for hue values (default: ``tab10`` colours for few values, else viridis).
        title: axes title (default: the variable name and the selection).
        isel: positional selection ``{dim: index}`` of other dimensions.
        path: if given, save the figure there.
        dpi: resolution of the saved figure.
        **sel: selection/reduction of other dimensions, as in :func:`phase_diagram`.

    Returns:
        The figure.
    """
    if theory is None and simulation is None:
        raise ValueError("overlay needs a theory, a simulation, or both")
    if yscale not in ("auto", "log", "linear"):
        raise ValueError(f"yscale must be 'auto', 'log' or 'linear'; got {yscale!r}")
    tvar = theory_var if theory_var is not None else var
    isel = dict(isel or {})
    inputs = [
        (what, obj, _get_var(obj, v, what), v)
        for what, obj, v in (("theory", theory, tvar), ("simulation", simulation, var))
        if obj is not None
    ]
    for what, _, da, v in inputs:
        if x not in da.dims:
            raise ValueError(
                f"unknown dimension {x!r} for {v!r} in {what}; its dimensions are {list(da.dims)}"
            )
    _check_sel_used(sel, isel, [da for _, _, da, _ in inputs])
    if hue is None:
        left: list[str] = []
        for what, _, da, _ in inputs:
            for d in da.dims:
                averaged = what == "simulation" and d == seed_dim
                chosen = d in sel or d in isel or d == x or averaged or da.sizes[d] == 1
                if not chosen and d not in left:
                    left.append(str(d))
        if len(left) > 1:
            raise ValueError(
                f"more than one dimension besides {x!r} remains: {left}; pass hue=<one of them> "
                "and select or reduce the others with keywords (e.g. "
                f"{left[-1]}=<value> or {left[-1]}='mean')"
            )
        hue = left[0] if left else None
    elif not any(hue in da.dims for _, _, da, _ in inputs):
        dims = sorted({str(d) for _, _, da, _ in inputs for d in da.dims})
        raise ValueError(f"unknown hue dimension {hue!r}; the inputs have dimensions {dims}")
    if hue is not None and (hue == x or hue in sel or hue in isel):
        raise ValueError(f"hue={hue!r} must differ from x and must not be selected")

    def _keep_for(da: xr.DataArray) -> tuple[str, ...]:
        return (x,) if hue is None or hue not in da.dims else (x, hue)

    t_da = None
    if theory is not None:
        t_da, _, _ = _prepare(
            theory, tvar, _keep_for(inputs[0][2]), sel, isel, what="theory", strict=False
        )
    s_mean = s_sem = None
    if simulation is not None:
        s_mean, s_sem = _sim_points(simulation, var, _keep_for(inputs[-1][2]), seed_dim, sel, isel)

    if ax is None:
        fig = _new_figure(5.8, 4.4)
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)

    ref = s_mean if s_mean is not None else t_da
    assert ref is not None
    xs_ref = np.asarray(ref[x].values)
    if s_mean is not None and xs_ref.size < 3 and t_da is not None:
        xs_ref = np.asarray(t_da[x].values)
    xs_scale = _resolve_scale(xs_ref, xscale, x)

    if hue is not None:
        hv: list[Any] = []
        for da in (s_mean, t_da):
            if da is not None and hue in da.dims:
                for v in np.asarray(da[hue].values).tolist():
                    if not any(_same(v, w) for w in hv):
                        hv.append(v)
        hue_values = np.asarray(hv)
        if _is_numeric(hue_values):
            hue_values = np.sort(hue_values)
    else:
        hue_values = np.asarray([None], dtype=object)
    colors = _hue_colors(hue_values, cmap) if hue is not None else ["C0"]

    def _pick(da: xr.DataArray | None, value: Any) -> xr.DataArray | None:
        if da is None:
            return None
        if hue is None or hue not in da.dims:
            return da
        coord = np.asarray(da[hue].values).tolist()
        for i, c in enumerate(coord):
            if _same(c, value):
                return da.isel({hue: i})
        return None

    theory_has_hue = t_da is not None and hue is not None and hue in t_da.dims
    for value, color in zip(hue_values, colors, strict=True):
        label = None if hue is None else f"{hue} = {_fmt(value)}"
        t_line = _pick(t_da, value) if theory_has_hue else None
        if t_line is not None:
            order = np.argsort(np.asarray(t_line[x].values))
            ax.plot(
                np.asarray(t_line[x].values)[order],
                np.asarray(t_line.values, float)[order],
                color=color,
                linewidth=1.8,
                label=label,
                zorder=2,
            )
            label = None
        m = _pick(s_mean, value)
        if m is not None:
            e = _pick(s_sem, value)
            ax.errorbar(
                np.asarray(m[x].values, float),
                np.asarray(m.values, float),
                yerr=None if e is None else np.asarray(e.values, float),
                fmt="o",
                markersize=4.5,
                capsize=2.5,
                elinewidth=1.0,
                color=color,
                markeredgecolor="white",
                markeredgewidth=0.5,
                label=label,
                zorder=3,
            )
    if t_da is not None and not theory_has_hue:
        order = np.argsort(np.asarray(t_da[x].values))
        ax.plot(
            np.asarray(t_da[x].values)[order],
            np.asarray(t_da.values, float)[order],
            color="black" if hue is not None else "C0",
            linewidth=1.8,
            zorder=2,
            label="theory" if hue is not None else None,
        )
    handles, _ = ax.get_legend_handles_labels()
    style = []
    neutral = "C0" if hue is None else "0.3"
    if t_da is not None:
        style.append(Line2D([], [], color=neutral, linewidth=1.8, label="theory"))
    if s_mean is not None:
        style.append(
            Line2D(
                [],
                [],
                color=neutral,
                marker="o",
                linestyle="none",
                markersize=4.5,
                label="simulation (mean ± s.e.)" if s_sem is not None else "simulation",
            )
        )
    if hue is not None and not theory_has_hue:
        handles = [h for h in handles if h.get_label() != "theory"]
        style[0] = Line2D([], [], color="black", linewidth=1.8, label="theory")
    ax.legend(handles=handles + style, fontsize="small", framealpha=0.85)
    ax.set_xscale(xs_scale)
    if yscale == "auto":
        vals = np.concatenate(
            [np.asarray(d.values, float).ravel() for d in (t_da, s_mean) if d is not None]
        )
        vals = vals[np.isfinite(vals)]
        yscale = (
            "log" if vals.size and np.all(vals > 0) and vals.max() / vals.min() > 100 else "linear"
        )
    ax.set_yscale(yscale)
    drawn = [d for d in (s_mean, t_da) if d is not None]
    ax.set_xlabel(_best_label([d[x] for d in drawn], x))
    ax.set_ylabel(_best_label(drawn, var))
    if title is None:
        desc = _sel_desc(sel, isel)
        base = next((str(d.attrs["long_name"]) for d in drawn if "long_name" in d.attrs), var)
        title = f"{base} ({', '.join(desc)})" if desc else base
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.25)
    _save(fig, path, dpi)
    return fig


def _sel_desc(sel: Mapping[str, Any], isel: Mapping[str, int] | None) -> list[str]:
    """Human-readable description of selection keywords (used in default titles)."""
    out = [
        f"{v} over {k}" if isinstance(v, str) and v in _REDUCTIONS else f"{k}={_fmt(v)}"
        for k, v in sel.items()
    ]
    out += [f"{k}[{i}]" for k, i in (isel or {}).items()]
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=0.0))
    return a == b


# --------------------------------------------------------------------------------------------
# Scaling laws
# --------------------------------------------------------------------------------------------


def _stderr_of(fit: Any, name: str) -> float | None:
    err = getattr(fit, "stderr", None)
    if err is None:
        err = getattr(fit, f"{name}_stderr", None)
        return None if err is None else float(err)
    if isinstance(err, Mapping):
        return None if err.get(name) is None else float(err[name])
    if hasattr(err, name):
        return float(getattr(err, name))
    arr = np.asarray(err, dtype=float).ravel()
    if arr.size == 3:
        return float(arr["abc".index(name)])
    return None


def scaling_plot(
    x: ArrayLike,
    y: ArrayLike,
    fit: Any | None = None,
    *,
    yerr: ArrayLike | None = None,
    form: Literal["a*x^-b+c", "a*x^b+c"] = "a*x^-b+c",
    ax: Axes | None = None,
    xlabel: str = "x",
    ylabel: str = "y",
    label: str = "data",
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
) -> Figure:
    """Log-log plot of data with an optional fitted power law annotated with its exponent.

    ``fit`` is duck-typed: any object with float attributes ``a``, ``b``, ``c`` (and optionally
    ``stderr``: a mapping or object with a ``b`` entry, or a length-3 sequence for ``(a, b, c)``;
    or a ``b_stderr`` attribute). The curve drawn is ``fit(x)`` if the object is callable,
    otherwise ``y = a * x**(-b) + c`` (``form="a*x^-b+c"``, the decaying scaling-law convention)
    or ``y = a * x**b + c`` (``form="a*x^b+c"``). If the fit object has a string attribute
    ``form`` equal to one of these, it takes precedence. A positive offset ``c`` is drawn as a
    dotted horizontal line. Points with non-positive or non-finite ``x`` or ``y`` cannot be shown
    on log axes and are dropped.

    Args:
        x: shape ``(n,)``.
        y: shape ``(n,)``.
        fit: fitted power law, or ``None``.
        yerr: optional error bars on ``y``, shape ``(n,)``.
        form: the power-law form of ``fit`` (see above).
        ax: axes to draw into; a new figure is created when omitted.
        xlabel: horizontal axis label.
        ylabel: vertical axis label.
        label: legend label of the data.
        title: axes title.
        path: if given, save the figure there.
        dpi: resolution of the saved figure.

    Returns:
        The figure.
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length; got {xa.size} and {ya.size}")
    ea = None
    if yerr is not None:
        ea = np.asarray(yerr, dtype=float).ravel()
        if ea.shape != xa.shape:
            raise ValueError(f"yerr must have the length of x ({xa.size}); got {ea.size}")
    keep = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    if not keep.any():
        raise ValueError("scaling_plot needs at least one point with finite positive x and y")
    fit_form = getattr(fit, "form", None)
    if isinstance(fit_form, str) and fit_form in ("a*x^-b+c", "a*x^b+c"):
        form = fit_form  # type: ignore[assignment]
    if form not in ("a*x^-b+c", "a*x^b+c"):
        raise ValueError(f"form must be 'a*x^-b+c' or 'a*x^b+c'; got {form!r}")

    if ax is None:
        fig = _new_figure(5.2, 4.2)
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    ax.errorbar(
        xa[keep],
        ya[keep],
        yerr=None if ea is None else ea[keep],
        fmt="o",
        markersize=5,
        capsize=2.5,
        color="C0",
        label=label,
        zorder=3,
    )
    if fit is not None:
        try:
            a, b, c = (float(getattr(fit, k)) for k in ("a", "b", "c"))
        except AttributeError as err:
            raise ValueError(
                f"fit must have attributes a, b, c (power law); got {type(fit).__name__}"
            ) from err
        lo, hi = xa[keep].min(), xa[keep].max()
        grid = np.geomspace(lo, hi, 200) if hi > lo else np.array([lo])
        if callable(fit):
            curve = np.asarray(fit(grid), dtype=float)
        else:
            sign = -1.0 if form == "a*x^-b+c" else 1.0
            curve = a * grid ** (sign * b) + c
        err = _stderr_of(fit, "b")
        exp_text = f"{b:.3g}" if err is None else f"{b:.3g} ± {err:.2g}"
        if form == "a*x^-b+c":
            fit_label = f"fit $a\\,x^{{-b}}+c$, b = {exp_text}"
        else:
            fit_label = f"fit $a\\,x^{{b}}+c$, b = {exp_text}"
        ok = np.isfinite(curve) & (curve > 0)
        ax.plot(grid[ok], curve[ok], color="C3", linewidth=1.8, label=fit_label, zorder=2)
        if c > 0:
            ax.axhline(c, color="0.4", linestyle=":", linewidth=1.2, label=f"c = {c:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize="small", framealpha=0.85)
    _save(fig, path, dpi)
    return fig
