"""Phase diagrams: one heatmap (:func:`phase_diagram`) or several side by side on one colour
scale (:func:`phase_diagrams`), and the multi-panel figure :func:`compare` draws into."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure

from ._axes import Scale, best_label, label
from ._figure import add_colorbar, figure_and_axes, legend, new_figure, save
from ._heatmap import HeatmapOptions, Panel, draw_panel, make_norm, prepare_panel
from ._layers import Line
from ._select import check_sel_used

Spec = tuple[str, xr.Dataset | xr.DataArray, Panel]
"""A data panel of a multi-panel figure: title, source dataset (for contours), prepared panel."""

DiffPanel = tuple[str, Panel, str]
"""The difference panel of :func:`compare`: title, prepared panel, colourbar label."""


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
    lines: Sequence[Line] | None = None,
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
    opts = HeatmapOptions(
        log_color=log_color,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        xscale=xscale,
        yscale=yscale,
        contour=contour,
        levels=levels,
        contour_label=contour_label,
        lines=lines,
        sel=sel,
        isel=isel,
    )
    panel = prepare_panel(ds, var, x, y, opts)
    norm = make_norm([panel.finite_range()], log_color, vmin, vmax)
    own_figure = ax is None
    fig, ax = figure_and_axes(ax, 5.8, 4.9)
    if title is None:
        title = _title(panel.name, [panel.da], panel.desc)
    mesh = draw_panel(ax, panel, norm, opts, title=title, source=ds)
    if colorbar:
        add_colorbar(fig, mesh, ax, label(panel.da, panel.name))
    legend(fig, [ax], outside=own_figure)
    save(fig, path, dpi)
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
    lines: Sequence[Line] | None = None,
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
    items = _titled(datasets)
    opts = HeatmapOptions(
        log_color=log_color,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        xscale=xscale,
        yscale=yscale,
        contour=contour,
        levels=levels,
        contour_label=contour_label,
        lines=lines,
        sel=sel,
        isel=isel,
    )
    specs = [
        (t, d, prepare_panel(d, var, x, y, opts, what=repr(t), strict=False)) for t, d in items
    ]
    check_sel_used(sel, isel, [s[2].da for s in specs] + [d for _, d in items])
    fig = draw_panels(specs, None, opts, share_norm=share_norm, title=title)
    save(fig, path, dpi)
    return fig


def _titled(
    datasets: Mapping[str, xr.Dataset | xr.DataArray] | Sequence[xr.Dataset | xr.DataArray],
) -> list[tuple[str, xr.Dataset | xr.DataArray]]:
    """``(title, dataset)`` pairs from a mapping or (titled by index) a sequence."""
    if isinstance(datasets, Mapping):
        items = [(str(k), v) for k, v in datasets.items()]
    elif isinstance(datasets, Sequence) and not isinstance(datasets, str):
        items = [(str(i), v) for i, v in enumerate(datasets)]
    else:
        raise TypeError("datasets must be a mapping {title: dataset} or a sequence of datasets")
    if not items:
        raise ValueError("phase_diagrams needs at least one dataset")
    return items


def draw_panels(
    specs: list[Spec],
    diff_panel: DiffPanel | None,
    opts: HeatmapOptions,
    *,
    share_norm: bool,
    title: str | None,
) -> Figure:
    """A row of data panels (shared or separate colour scales), an optional difference panel on
    a symmetric diverging scale, one extent, one legend below and a suptitle."""
    n = len(specs) + (diff_panel is not None)
    fig = new_figure(4.6 * n + 0.9, 4.8)
    axes = list(fig.subplots(1, n, squeeze=False)[0])
    panels = [s[2] for s in specs]
    xlabel = best_label([p.da[p.x] for p in panels], panels[0].x)
    ylabel = best_label([p.da[p.y] for p in panels], panels[0].y)
    _draw_data_panels(fig, axes, specs, opts, share_norm, multi=n > 1)
    if diff_panel is not None:
        _draw_diff_panel(fig, axes[-1], diff_panel, opts)
    all_panels = panels + ([diff_panel[1]] if diff_panel is not None else [])
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    _same_extent(axes, all_panels)
    legend(fig, axes, outside=True)
    if title is None:
        desc = list(dict.fromkeys(d for p in panels for d in p.desc))
        title = _title(panels[0].name, [p.da for p in panels], desc)
    fig.suptitle(title)
    return fig


def _draw_data_panels(
    fig: Figure,
    axes: list[Axes],
    specs: list[Spec],
    opts: HeatmapOptions,
    share_norm: bool,
    *,
    multi: bool,
) -> None:
    """The data panels with one shared colourbar (``share_norm``) or one colourbar each."""
    panels = [s[2] for s in specs]
    clabel = best_label([p.da for p in panels], panels[0].name)
    shared = make_norm([p.finite_range() for p in panels], opts.log_color, opts.vmin, opts.vmax)
    meshes = []
    for ax, (t, source, panel) in zip(axes, specs, strict=False):
        norm = (
            shared
            if share_norm
            else make_norm([panel.finite_range()], opts.log_color, opts.vmin, opts.vmax)
        )
        prefix = f"{t}: " if multi else ""
        mesh = draw_panel(ax, panel, norm, opts, title=t, source=source, hatch_prefix=prefix)
        meshes.append(mesh)
        if not share_norm:
            add_colorbar(fig, mesh, ax, clabel)
    if share_norm:
        add_colorbar(fig, meshes[0], axes[: len(specs)], clabel, aspect=30)


def _draw_diff_panel(fig: Figure, ax: Axes, diff_panel: DiffPanel, opts: HeatmapOptions) -> None:
    """The difference on a diverging scale symmetric about 0, with the reference lines but no
    contours; its failed cells are hatched but left out of the legend (the simulation panel has
    them)."""
    dtitle, dpanel, dlabel = diff_panel
    rng = dpanel.finite_range()
    m = max(abs(rng[0]), abs(rng[1])) if rng is not None else 1.0
    m = m if m > 0 else 1.0
    diff_opts = HeatmapOptions(cmap="RdBu_r", lines=opts.lines)
    mesh = draw_panel(
        ax,
        dpanel,
        Normalize(-m, m),
        diff_opts,
        title=dtitle,
        hatch_prefix=f"{dtitle}: ",
        failed_legend=False,
    )
    add_colorbar(fig, mesh, ax, dlabel)


def _same_extent(axes: list[Axes], panels: list[Panel]) -> None:
    """Same extent on every panel (the theory may be on a finer or wider grid)."""
    xlim = _union_limits([p.xe for p in panels])
    ylim = _union_limits([p.ye for p in panels])
    for ax in axes:
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)


def _union_limits(edges: Sequence[np.ndarray]) -> tuple[float, float]:
    """Axis limits covering all ``edges``, keeping the direction of the first (descending
    coordinates stay descending)."""
    lo = min(float(np.min(e)) for e in edges)
    hi = max(float(np.max(e)) for e in edges)
    return (hi, lo) if edges[0][0] > edges[0][-1] else (lo, hi)


def _title(name: str, das: Sequence[xr.DataArray], desc: list[str]) -> str:
    """The first ``long_name`` among ``das`` (else ``name``) followed by the selections made."""
    base = next((str(da.attrs["long_name"]) for da in das if "long_name" in da.attrs), name)
    return f"{base} ({', '.join(desc)})" if desc else base
