"""Layers drawn on top of a phase-diagram heatmap: hatching of failed, non-finite and off-scale
cells, reference lines (critical lines, ``n = d``) and contour lines (level sets, boundaries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.patheffects as patheffects
import numpy as np
import xarray as xr
from matplotlib import cbook
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D

from ._axes import centres
from ._select import prepare

if TYPE_CHECKING:
    from ._heatmap import Panel

Line = Sequence[Any]
"""``(x_values, y_values[, label[, Axes.plot keywords]])``."""

_STATUS_NAMES = {1: "nonfinite", 2: "diverged", 3: "budget", 4: "invalid"}
_FAILED_HATCH = "///"
_NONFINITE_HATCH = "xxx"
_NONPOSITIVE_HATCH = "..."
_LINE_COLORS = ("#d62728", "#ff7f0e", "#e377c2", "#17becf", "black")
_LINE_STYLES = ("--", "-.", ":", (0, (5, 1, 1, 1)))


def hatch_failures(ax: Axes, panel: Panel, prefix: str, failed_legend: bool) -> None:
    """Hatch failed (``///``), non-finite (``xxx``) and non-positive-on-log (``...``) cells, each
    labelled with its count (``prefix`` names the panel in a shared legend)."""
    if panel.status is not None:
        # A label starting with "_" keeps the layer out of the legend.
        label = (prefix if failed_legend else "_") + _failed_label(panel)
        _hatch_layer(ax, panel, panel.failed, _FAILED_HATCH, label)
    _hatch_layer(
        ax,
        panel,
        panel.nonfinite,
        _NONFINITE_HATCH,
        prefix + f"non-finite or |value| > 3.4e38 ×{int(panel.nonfinite.sum())}",
    )
    _hatch_layer(
        ax,
        panel,
        panel.nonpositive,
        _NONPOSITIVE_HATCH,
        prefix + f"≤ 0 (off log colour scale) ×{int(panel.nonpositive.sum())}",
    )


def _cell_polys(panel: Panel, mask: np.ndarray) -> list[np.ndarray]:
    polys = []
    for i, j in zip(*np.nonzero(mask), strict=True):
        x0, x1 = panel.xe[j], panel.xe[j + 1]
        y0, y1 = panel.ye[i], panel.ye[i + 1]
        polys.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return polys


def _hatch_layer(ax: Axes, panel: Panel, mask: np.ndarray, hatch: str, label: str) -> None:
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


def _failed_label(panel: Panel) -> str:
    """``failed: diverged ×2, budget ×1``."""
    assert panel.status is not None
    codes = panel.status[panel.failed]
    parts = []
    for code in np.unique(codes):
        name = _STATUS_NAMES.get(int(code), f"status {int(code)}")
        parts.append(f"{name} ×{int(np.sum(codes == code))}")
    return "failed: " + ", ".join(parts)


def draw_lines(ax: Axes, lines: Sequence[Line] | None) -> None:
    """Curves on top of the heatmap in distinct colours and dash styles with a dark halo; the
    caller's keywords (aliases such as ``c``, ``ls`` resolved) override the defaults."""
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
        if len(line) == 4:
            kwargs.update(cbook.normalize_kwargs(dict(line[3]), Line2D))
        ax.plot(xs, ys, **kwargs)


def draw_contour(
    ax: Axes,
    contour: str | xr.DataArray,
    source: xr.Dataset | xr.DataArray,
    panel: Panel,
    levels: Sequence[float] | int | None,
    sel: Mapping[str, Any],
    isel: Mapping[str, int] | None,
    label: str | None,
) -> None:
    """White labelled contour lines of ``contour`` (a variable of ``source`` or a DataArray,
    possibly on a finer grid) over the panel's axes, with a legend entry when a line is drawn
    (no level crossed inside the panel: no line, no entry)."""
    cda, name = _contour_data(contour, source, panel, sel, isel)
    if cda.sizes[panel.x] < 2 or cda.sizes[panel.y] < 2:
        raise ValueError(f"contour {name!r} needs at least 2 points along {panel.x} and {panel.y}")
    cx, _ = centres(cda, panel.x)
    cy, _ = centres(cda, panel.y)
    z = np.ma.masked_invalid(np.asarray(cda.values, dtype=float))
    if z.count() == 0:
        return
    kwargs: dict[str, Any] = {"colors": "white", "linewidths": 1.4, "zorder": 3}
    if levels is not None:
        kwargs["levels"] = levels
    cs = ax.contour(cx, cy, z, **kwargs)
    if not any(len(segment) for level in cs.allsegs for segment in level):
        return
    cs.set(path_effects=[_halo(2.6)])
    for text in ax.clabel(cs, inline=True, fontsize=7, fmt="%g"):
        text.set_path_effects([_halo(2.0)])
    ax.add_line(
        Line2D(
            [],
            [],
            color="white",
            linewidth=1.4,
            path_effects=[_halo(2.6)],
            label=label if label is not None else f"{name} level sets",
        )
    )


def _halo(width: float) -> patheffects.withStroke:
    return patheffects.withStroke(linewidth=width, foreground="0.1")


def _contour_data(
    contour: str | xr.DataArray,
    source: xr.Dataset | xr.DataArray,
    panel: Panel,
    sel: Mapping[str, Any],
    isel: Mapping[str, int] | None,
) -> tuple[xr.DataArray, str]:
    """The contoured values over the panel's ``(y, x)`` and their name."""
    keep = (panel.y, panel.x)
    if isinstance(contour, str):
        if not isinstance(source, xr.Dataset):
            raise ValueError("contour given as a variable name needs a Dataset, not a DataArray")
        cda, _, _ = prepare(source, contour, keep, sel, isel, what="contour", strict=False)
        return cda, contour
    if isinstance(contour, xr.DataArray):
        cda, _, _ = prepare(contour, None, keep, sel, isel, what="contour", strict=False)
        return cda, str(contour.name) if contour.name is not None else "contour"
    raise TypeError(f"contour must be a variable name or a DataArray; got {type(contour).__name__}")
