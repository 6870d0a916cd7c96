"""Theory-versus-simulation comparison panels: theory and simulation phase diagrams on one colour
scale plus their (relative or absolute) difference."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from ._axes import Scale
from ._figure import save
from ._heatmap import HeatmapOptions, Panel, prepare_panel
from ._layers import Line
from ._phase import DiffPanel, draw_panels
from ._select import check_sel_used


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
    lines: Sequence[Line] | None = None,
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
    tvar = theory_var if theory_var is not None else var
    tp = prepare_panel(theory, tvar, x, y, opts, what=repr(titles[0]), strict=False)
    sp = prepare_panel(simulation, var, x, y, opts, what=repr(titles[1]), strict=False)
    check_sel_used(sel, isel, [theory, simulation])
    diff_panel = None if diff is None else _difference_panel(tp, sp, diff)
    specs = [(titles[0], theory, tp), (titles[1], simulation, sp)]
    fig = draw_panels(specs, diff_panel, opts, share_norm=True, title=title)
    save(fig, path, dpi)
    return fig


def _difference_panel(tp: Panel, sp: Panel, diff: Literal["relative", "absolute"]) -> DiffPanel:
    """``(sim - theory) / |theory|`` or ``sim - theory`` on the simulation's cells (theory
    interpolated onto them); failed simulation cells keep their status."""
    x, y = sp.x, sp.y
    t_on = _on_grid(tp.da, sp.da, (y, x), [sp.yscale == "log", sp.xscale == "log"])
    s_vals = sp.da.copy(data=np.where(sp.failed, np.nan, sp.values))
    if diff == "relative":
        d = (s_vals - t_on) / np.abs(t_on)
        label = "relative difference (sim − theory) / |theory|"
    else:
        d = s_vals - t_on
        units = sp.da.attrs.get("units")
        label = f"difference sim − theory [{units}]" if units else "difference sim − theory"
    d = d.transpose(y, x)
    d.attrs = {}
    status = None if sp.status is None else sp.da.copy(data=sp.status)
    dp = Panel(d, status, [], "difference", x, y, sp.xscale, sp.yscale, False)
    dp.xe, dp.ye = sp.xe, sp.ye
    return f"{diff} difference", dp, label


def _on_grid(
    theory: xr.DataArray, sim: xr.DataArray, dims: Sequence[str], logs: Sequence[bool]
) -> xr.DataArray:
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
