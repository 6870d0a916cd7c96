"""One phase-diagram heatmap: the options every heatmap entry point shares, a prepared 2-D slice
(values, failure masks, cell edges) and the drawing of one panel with its layers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.ticker import NullLocator

from ._axes import Scale, cell_edges, centres, is_numeric, label, plain_log_ticks, resolve_scale
from ._layers import Line, draw_contour, draw_lines, hatch_failures
from ._select import MaybeStatus, prepare, var_name


@dataclasses.dataclass(frozen=True)
class HeatmapOptions:
    """The keywords shared by :func:`phase_diagram`, :func:`phase_diagrams` and :func:`compare`:
    colour scale, axis scales, contour and line layers, and the selection of other dimensions.

    Each entry point builds one from its keywords and hands it down, so a new heatmap option is
    added here and in the signatures, not forwarded through every helper.
    """

    log_color: bool = False
    cmap: str | Colormap = "viridis"
    vmin: float | None = None
    vmax: float | None = None
    xscale: Scale = "auto"
    yscale: Scale = "auto"
    contour: str | xr.DataArray | None = None
    levels: Sequence[float] | int | None = None
    contour_label: str | None = None
    lines: Sequence[Line] | None = None
    sel: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    isel: Mapping[str, int] | None = None


class Panel:
    """A prepared 2-D slice: values (ny, nx), masks, coordinates and labels."""

    def __init__(
        self,
        da: xr.DataArray,
        status: MaybeStatus,
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
        if not is_numeric(values) and values.dtype != bool:
            raise ValueError(f"{name!r} has non-numeric dtype {values.dtype}; cannot colour it")
        self.values = values.astype(float)
        self.status = (
            None if status is None else np.asarray(status.fillna(0).values).astype(np.int64)
        )
        self.failed = np.zeros(values.shape, bool) if self.status is None else self.status != 0
        # beyond the float32 range a colour scale cannot span the values (its ticks and
        # extent overflow): such cells are drawn as non-finite instead of breaking the figure
        self.nonfinite = ~(np.abs(self.values) <= _DRAWABLE) & ~self.failed
        self.nonpositive = (
            (self.values <= 0) & ~self.failed & ~self.nonfinite
            if log_color
            else np.zeros(values.shape, bool)
        )
        self.mask = self.failed | self.nonfinite | self.nonpositive
        self.xc, self.xticks = centres(da, x)
        self.yc, self.yticks = centres(da, y)
        self.xscale = resolve_scale(np.asarray(da[x].values), xscale, x)
        self.yscale = resolve_scale(np.asarray(da[y].values), yscale, y)
        self.xe = cell_edges(self.xc, log=self.xscale == "log")
        self.ye = cell_edges(self.yc, log=self.yscale == "log")

    @property
    def masked(self) -> np.ma.MaskedArray:
        return np.ma.masked_array(np.where(self.mask, np.nan, self.values), mask=self.mask)

    def finite_range(self) -> tuple[float, float] | None:
        good = self.values[~self.mask]
        if good.size == 0:
            return None
        return float(good.min()), float(good.max())


_DRAWABLE = float(np.finfo(np.float32).max)


def prepare_panel(
    obj: xr.Dataset | xr.DataArray,
    var: str | None,
    x: str,
    y: str,
    opts: HeatmapOptions,
    *,
    what: str = "dataset",
    strict: bool = True,
) -> Panel:
    """``obj[var]`` selected down to ``(y, x)`` by ``opts.sel``/``opts.isel``, as a panel."""
    da, status, desc = prepare(obj, var, (y, x), opts.sel, opts.isel, what=what, strict=strict)
    name = var_name(var, da)
    return Panel(da, status, desc, name, x, y, opts.xscale, opts.yscale, opts.log_color)


def make_norm(
    ranges: Sequence[tuple[float, float] | None],
    log_color: bool,
    vmin: float | None,
    vmax: float | None,
) -> Normalize:
    """A colour normalisation covering all ``ranges`` (unless ``vmin``/``vmax`` are given)."""
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


def draw_panel(
    ax: Axes,
    panel: Panel,
    norm: Normalize,
    opts: HeatmapOptions,
    *,
    title: str | None,
    source: xr.Dataset | xr.DataArray | None = None,
    hatch_prefix: str = "",
    failed_legend: bool = True,
) -> Any:
    """Draw one prepared panel (mesh, hatching, contours, lines, scales, labels; no legend)."""
    mesh = ax.pcolormesh(
        panel.xe, panel.ye, panel.masked, norm=norm, cmap=opts.cmap, shading="flat", zorder=1
    )
    hatch_failures(ax, panel, hatch_prefix, failed_legend)
    if opts.contour is not None:
        draw_contour(
            ax,
            opts.contour,
            source if source is not None else panel.da,
            panel,
            opts.levels,
            opts.sel,
            opts.isel,
            opts.contour_label,
        )
    draw_lines(ax, opts.lines)
    _set_axes(ax, panel)
    if title is not None:
        ax.set_title(title)
    return mesh


def _set_axes(ax: Axes, panel: Panel) -> None:
    """Scales, limits at the outer cell edges, ticks and labels of a panel's axes."""
    ax.set_xscale(panel.xscale)
    ax.set_yscale(panel.yscale)
    ax.set_xlim(panel.xe[0], panel.xe[-1])
    ax.set_ylim(panel.ye[0], panel.ye[-1])
    plain_log_ticks(ax.xaxis, panel.xe)
    plain_log_ticks(ax.yaxis, panel.ye)
    for axis, centres_, names in (
        (ax.xaxis, panel.xc, panel.xticks),
        (ax.yaxis, panel.yc, panel.yticks),
    ):
        if names is not None:
            axis.set_ticks(centres_, names)
        elif len(centres_) == 1:  # one value: one tick there, not a made-up range around it
            axis.set_ticks(centres_, [f"{centres_[0]:g}"])
            axis.set_minor_locator(NullLocator())
    ax.set_xlabel(label(panel.da[panel.x], panel.x))
    ax.set_ylabel(label(panel.da[panel.y], panel.y))
