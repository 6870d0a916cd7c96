"""Figure plumbing shared by every figure kind: new figures, the root figure of an axes, saving,
merged legends and labelled colourbars."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ._axes import plain_log_ticks


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with constrained layout (no pyplot)."""
    return Figure(figsize=(width, height), layout="constrained")


def figure_and_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    """``ax`` and its root figure, or a new figure with one axes when ``ax`` is None."""
    if ax is None:
        fig = new_figure(width, height)
        return fig, fig.add_subplot()
    return root_figure(ax), ax


def root_figure(ax: Axes) -> Figure:
    """The top-level figure of ``ax`` (not a SubFigure), whatever the matplotlib version."""
    try:
        fig = ax.get_figure(root=True)  # matplotlib >= 3.10
    except TypeError:
        fig = ax.get_figure()
        while getattr(fig, "figure", fig) is not fig:
            fig = fig.figure
    assert isinstance(fig, Figure)
    return fig


def save(fig: Figure, path: str | os.PathLike[str] | None, dpi: int) -> None:
    """Save ``fig`` to ``path`` (PNG when the path has no suffix), creating parent directories."""
    if path is None:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fmt = None if p.suffix else "png"
    fig.savefig(p, dpi=dpi, format=fmt)


def legend(fig: Figure, axes: Sequence[Axes], *, outside: bool) -> None:
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


def add_colorbar(fig: Figure, mesh: Any, ax: Axes | Sequence[Axes], label: str, **kw: Any) -> Any:
    """A labelled colourbar; a log scale spanning under two decades gets plain tick labels
    (``2``, ``5``) instead of ``2×10^0``."""
    cb = fig.colorbar(mesh, ax=ax, **kw)
    cb.set_label(label)
    norm = mesh.norm
    if isinstance(norm, LogNorm) and norm.vmin and norm.vmax:
        plain_log_ticks(cb.ax.yaxis, np.array([norm.vmin, norm.vmax]))
    return cb
