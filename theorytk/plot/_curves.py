"""Curves with bands: theory as lines and simulation as points with standard-error bars along one
grid axis, one colour per value of a hue dimension (:func:`overlay`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._axes import Scale, best_label, fmt, is_numeric, resolve_scale
from ._figure import figure_and_axes, save
from ._select import check_sel_used, get_var, prepare, same, sel_desc

_LINE = {"linewidth": 1.8, "zorder": 2}
_POINTS = {"fmt": "o", "markersize": 4.5, "capsize": 2.5, "elinewidth": 1.0, "zorder": 3}


@dataclasses.dataclass(frozen=True)
class _Curves:
    """What :func:`overlay` draws: the theory over ``x`` (and ``hue``), the simulation mean and
    standard error (None where not drawn)."""

    x: str
    hue: str | None
    theory: xr.DataArray | None
    mean: xr.DataArray | None
    sem: xr.DataArray | None

    @property
    def theory_has_hue(self) -> bool:
        return self.theory is not None and self.hue is not None and self.hue in self.theory.dims

    @property
    def drawn(self) -> list[xr.DataArray]:
        return [d for d in (self.mean, self.theory) if d is not None]


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
    inputs = _inputs(theory, simulation, tvar, var, x)
    check_sel_used(sel, isel, [da for _, da in inputs])
    hue = _resolve_hue(hue, inputs, x, seed_dim, sel, isel)
    curves = _prepare_curves(theory, simulation, tvar, var, x, hue, seed_dim, sel, isel)
    fig, ax = figure_and_axes(ax, 5.8, 4.4)
    xs_scale = _x_scale(curves, xscale)
    _draw_curves(ax, curves, cmap)
    _legend(ax, curves)
    ax.set_xscale(xs_scale)
    ax.set_yscale(_y_scale(curves, yscale))
    _label_axes(ax, curves, var, title, sel, isel)
    save(fig, path, dpi)
    return fig


def _inputs(
    theory: xr.Dataset | xr.DataArray | None,
    simulation: xr.Dataset | xr.DataArray | None,
    tvar: str,
    var: str,
    x: str,
) -> list[tuple[str, xr.DataArray]]:
    """``(what, variable)`` of the given inputs; each must have the dimension ``x``."""
    inputs = [
        (what, get_var(obj, v, what), v)
        for what, obj, v in (("theory", theory, tvar), ("simulation", simulation, var))
        if obj is not None
    ]
    for what, da, v in inputs:
        if x not in da.dims:
            raise ValueError(
                f"unknown dimension {x!r} for {v!r} in {what}; its dimensions are {list(da.dims)}"
            )
    return [(what, da) for what, da, _ in inputs]


def _resolve_hue(
    hue: str | None,
    inputs: list[tuple[str, xr.DataArray]],
    x: str,
    seed_dim: str,
    sel: Mapping[str, Any],
    isel: Mapping[str, int],
) -> str | None:
    """The given hue dimension (checked), or the one dimension left besides ``x`` after the
    selections, the simulation's seeds and length-1 dims (None when none is left)."""
    if hue is None:
        left: list[str] = []
        for what, da in inputs:
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
    elif not any(hue in da.dims for _, da in inputs):
        dims = sorted({str(d) for _, da in inputs for d in da.dims})
        raise ValueError(f"unknown hue dimension {hue!r}; the inputs have dimensions {dims}")
    if hue is not None and (hue == x or hue in sel or hue in isel):
        raise ValueError(f"hue={hue!r} must differ from x and must not be selected")
    return hue


def _prepare_curves(
    theory: xr.Dataset | xr.DataArray | None,
    simulation: xr.Dataset | xr.DataArray | None,
    tvar: str,
    var: str,
    x: str,
    hue: str | None,
    seed_dim: str,
    sel: Mapping[str, Any],
    isel: Mapping[str, int],
) -> _Curves:
    """The theory over ``(x[, hue])`` and the simulation's mean and standard error."""

    def keep(obj: xr.Dataset | xr.DataArray, v: str, what: str) -> tuple[str, ...]:
        return (x,) if hue is None or hue not in get_var(obj, v, what).dims else (x, hue)

    t_da = mean = sem = None
    if theory is not None:
        t_keep = keep(theory, tvar, "theory")
        t_da, _, _ = prepare(theory, tvar, t_keep, sel, isel, what="theory", strict=False)
    if simulation is not None:
        s_keep = keep(simulation, var, "simulation")
        mean, sem = _sim_points(simulation, var, s_keep, seed_dim, sel, isel)
    return _Curves(x, hue, t_da, mean, sem)


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
        da, status, _ = prepare(simulation, v, dims, sel, isel, what="simulation", strict=False)
        return da, status

    da_full = get_var(simulation, var, "simulation")
    if seed_dim in da_full.dims and seed_dim not in sel and seed_dim not in isel:
        return _seed_mean_sem(*prep(var, (*keep, seed_dim)), seed_dim)
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


def _seed_mean_sem(
    da: xr.DataArray, status: xr.DataArray | None, seed_dim: str
) -> tuple[xr.DataArray, xr.DataArray]:
    """Mean over the ok seeds (NaN where none) and ``std(ddof=1) / sqrt(n_ok)`` (NaN where fewer
    than two)."""
    ok = np.isfinite(da)
    if status is not None:
        ok = ok & (status == 0)
    good = da.where(ok)
    n = ok.sum(seed_dim)
    mean = good.mean(seed_dim, skipna=True).where(n > 0)
    sem = (good.std(seed_dim, ddof=1, skipna=True) / np.sqrt(n)).where(n >= 2)
    mean.attrs = dict(da.attrs)
    return mean, sem


def _x_scale(curves: _Curves, xscale: Scale) -> str:
    """The x scale from the simulation's coordinate (the theory's when the simulation has fewer
    than three x values)."""
    ref = curves.mean if curves.mean is not None else curves.theory
    assert ref is not None
    xs_ref = np.asarray(ref[curves.x].values)
    if curves.mean is not None and xs_ref.size < 3 and curves.theory is not None:
        xs_ref = np.asarray(curves.theory[curves.x].values)
    return resolve_scale(xs_ref, xscale, curves.x)


def _hue_values(curves: _Curves) -> np.ndarray:
    """The hue values present in the simulation or the theory (sorted when numeric)."""
    if curves.hue is None:
        return np.asarray([None], dtype=object)
    hv: list[Any] = []
    for da in (curves.mean, curves.theory):
        if da is not None and curves.hue in da.dims:
            for v in np.asarray(da[curves.hue].values).tolist():
                if not any(same(v, w) for w in hv):
                    hv.append(v)
    values = np.asarray(hv)
    return np.sort(values) if is_numeric(values) else values


def _hue_colors(values: np.ndarray, cmap: str | Colormap | None) -> list[Any]:
    """``C0``, ``C1``, ... for a few values (at most 4 numeric or 10 categorical), else evenly
    spaced colours of ``cmap`` (viridis by default)."""
    n = len(values)
    if cmap is None:
        if n <= 10 and not (is_numeric(values) and n > 4):
            return [f"C{i}" for i in range(n)]
        cmap = "viridis"
    cm = colormaps[cmap] if isinstance(cmap, str) else cmap
    if n == 1:
        return [cm(0.0)]
    return [cm(0.9 * i / (n - 1)) for i in range(n)]


def _pick(da: xr.DataArray | None, hue: str | None, value: Any) -> xr.DataArray | None:
    """The slice of ``da`` at hue ``value`` (all of ``da`` when it has no hue dimension)."""
    if da is None:
        return None
    if hue is None or hue not in da.dims:
        return da
    coord = np.asarray(da[hue].values).tolist()
    for i, c in enumerate(coord):
        if same(c, value):
            return da.isel({hue: i})
    return None


def _draw_curves(ax: Axes, curves: _Curves, cmap: str | Colormap | None) -> None:
    """Per hue value, the theory line and the simulation points in one colour; a theory without
    the hue dimension is one black line."""
    hue, x = curves.hue, curves.x
    values = _hue_values(curves)
    colors = _hue_colors(values, cmap) if hue is not None else ["C0"]
    for value, color in zip(values, colors, strict=True):
        label = None if hue is None else f"{hue} = {fmt(value)}"
        t_line = _pick(curves.theory, hue, value) if curves.theory_has_hue else None
        if t_line is not None:
            _theory_line(ax, t_line, x, color=color, label=label)
            label = None
        m = _pick(curves.mean, hue, value)
        if m is not None:
            e = _pick(curves.sem, hue, value)
            ax.errorbar(
                np.asarray(m[x].values, float),
                np.asarray(m.values, float),
                yerr=None if e is None else np.asarray(e.values, float),
                color=color,
                markeredgecolor="white",
                markeredgewidth=0.5,
                label=label,
                **_POINTS,
            )
    if curves.theory is not None and not curves.theory_has_hue:
        color = "black" if hue is not None else "C0"
        _theory_line(ax, curves.theory, x, color=color, label="theory" if hue is not None else None)


def _theory_line(ax: Axes, da: xr.DataArray, x: str, *, color: Any, label: str | None) -> None:
    order = np.argsort(np.asarray(da[x].values))
    xs = np.asarray(da[x].values)[order]
    ax.plot(xs, np.asarray(da.values, float)[order], color=color, label=label, **_LINE)


def _legend(ax: Axes, curves: _Curves) -> None:
    """The hue entries followed by neutral style entries for "theory" and "simulation"."""
    handles, _ = ax.get_legend_handles_labels()
    style = []
    neutral = "C0" if curves.hue is None else "0.3"
    if curves.theory is not None:
        style.append(Line2D([], [], color=neutral, linewidth=1.8, label="theory"))
    if curves.mean is not None:
        sim_label = "simulation (mean ± s.e.)" if curves.sem is not None else "simulation"
        style.append(
            Line2D(
                [], [], color=neutral, marker="o", linestyle="none", markersize=4.5, label=sim_label
            )
        )
    if curves.theory is not None and curves.hue is not None and not curves.theory_has_hue:
        handles = [h for h in handles if h.get_label() != "theory"]
        style[0] = Line2D([], [], color="black", linewidth=1.8, label="theory")
    ax.legend(handles=handles + style, fontsize="small", framealpha=0.85)


def _y_scale(curves: _Curves, yscale: str) -> str:
    """``yscale``, or for "auto" log when every drawn value is positive and they span more than
    two decades."""
    if yscale != "auto":
        return yscale
    vals = np.concatenate([np.asarray(d.values, float).ravel() for d in curves.drawn])
    vals = vals[np.isfinite(vals)]
    return "log" if vals.size and np.all(vals > 0) and vals.max() / vals.min() > 100 else "linear"


def _label_axes(
    ax: Axes,
    curves: _Curves,
    var: str,
    title: str | None,
    sel: Mapping[str, Any],
    isel: Mapping[str, int],
) -> None:
    drawn = curves.drawn
    ax.set_xlabel(best_label([d[curves.x] for d in drawn], curves.x))
    ax.set_ylabel(best_label(drawn, var))
    if title is None:
        desc = sel_desc(sel, isel)
        base = next((str(d.attrs["long_name"]) for d in drawn if "long_name" in d.attrs), var)
        title = f"{base} ({', '.join(desc)})" if desc else base
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.25)
