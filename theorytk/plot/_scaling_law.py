"""Figures of a joint scaling-law fit L(N, D) (`theorytk.fit.fit_joint_law`).

:func:`iso_loss_contours` (iso-loss contours over (N, D) with the compute-optimal frontier and
iso-FLOP lines), :func:`loss_vs_compute` (runs against C = 6 N D with the frontier loss and its
bootstrap band), :func:`bootstrap_histograms` (one histogram per parameter).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from ._figure import add_colorbar, figure_and_axes, new_figure, save

FLOPS = 6.0  # C = 6 N D


def iso_loss_contours(
    fit: Any,
    N: ArrayLike,
    D: ArrayLike,
    *,
    loss: ArrayLike | None = None,
    compute: Sequence[float] | None = None,
    levels: int = 12,
    ax: Axes | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
) -> Figure:
    """Iso-loss contours of the fitted L(N, D) on log-log axes, frontier and iso-FLOP lines.

    The filled contours are fit(N, D) over the range of the runs (N, D) widened by a factor 2;
    the runs are drawn as points (coloured by their loss when `loss` is given); dashed grey
    lines are budgets C = 6 N D = const (`compute`, default four budgets spanning the runs);
    the red line is the compute-optimal frontier (N_opt(C), D_opt(C)).

    Args:
        fit: a `JointLawFit`.
        N, D: `Float[ArrayLike, "m"]` the runs' parameter counts and data sizes.
        loss: optional `Float[ArrayLike, "m"]` the runs' losses (colours the points).
        compute: budgets of the iso-FLOP lines.
        levels: number of contour levels.
    """
    N, D = np.asarray(N, float), np.asarray(D, float)
    fig, ax = figure_and_axes(ax, 6.0, 4.8)
    n_grid = np.geomspace(N.min() / 2, N.max() * 2, 200)
    d_grid = np.geomspace(D.min() / 2, D.max() * 2, 200)
    nn, dd = np.meshgrid(n_grid, d_grid)
    surface = np.asarray(fit(nn, dd))
    bounds = np.geomspace(np.nanmin(surface), np.nanmax(surface), levels + 1)
    mesh = ax.contourf(nn, dd, surface, levels=bounds, cmap="viridis", norm=LogNorm())
    ax.contour(nn, dd, surface, levels=mesh.levels, colors="white", linewidths=0.4, alpha=0.6)
    add_colorbar(fig, mesh, ax, "fitted loss L(N, D)")
    c_grid = np.geomspace(FLOPS * nn.min() * dd.min(), FLOPS * nn.max() * dd.max(), 100)
    opt = fit.compute_optimal(c_grid)
    ax.plot(opt["N_opt"]["value"], opt["D_opt"]["value"], "r-", lw=2, label="compute-optimal")
    budgets = compute if compute is not None else _budgets(N, D)
    for k, c in enumerate(budgets):
        ax.plot(n_grid, c / (FLOPS * n_grid), "--", color="0.85", lw=1)
        ax.annotate(
            f"C={c:.1e}",
            (n_grid[k * 10 + 20], c / (FLOPS * n_grid[k * 10 + 20])),
            color="0.9",
            fontsize=7,
        )
    colour = "k" if loss is None else np.asarray(loss, float)
    ax.scatter(
        N,
        D,
        c=colour,
        cmap="viridis",
        norm=LogNorm(*mesh.get_clim()) if loss is not None else None,
        edgecolors="k",
        s=22,
        zorder=3,
        label="runs",
    )
    ax.set(xscale="log", yscale="log", xlim=(n_grid[0], n_grid[-1]), ylim=(d_grid[0], d_grid[-1]))
    ax.set(xlabel="parameters N", ylabel="data D")
    ax.set_title(title or _law_title(fit), fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    save(fig, path, dpi)
    return fig


def loss_vs_compute(
    fit: Any,
    N: ArrayLike,
    D: ArrayLike,
    loss: ArrayLike,
    *,
    level: float = 0.95,
    ax: Axes | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
) -> Figure:
    """The runs' losses against compute C = 6 N D, with the fitted frontier and its band.

    Points are coloured by N; the line is the loss on the compute-optimal frontier
    L(N_opt(C), D_opt(C)), and the band its bootstrap percentile interval at `level` (drawn
    when the fit was bootstrapped); the dotted line is the irreducible loss E.

    Args:
        fit: a `JointLawFit`.
        N, D, loss: `Float[ArrayLike, "m"]` the runs.
        level: coverage of the band.
    """
    N, D, loss = (np.asarray(v, float) for v in (N, D, loss))
    fig, ax = figure_and_axes(ax, 6.0, 4.2)
    c = FLOPS * N * D
    points = ax.scatter(
        c, loss, c=N, cmap="plasma", norm=LogNorm(), s=18, edgecolors="k", linewidths=0.3, zorder=3
    )
    add_colorbar(fig, points, ax, "parameters N")
    c_grid = np.geomspace(c.min() / 2, c.max() * 2, 200)
    opt = fit.compute_optimal(c_grid, level)["loss"]
    ax.plot(c_grid, opt["value"], "k-", lw=1.8, label="fitted frontier L(N_opt, D_opt)")
    if "lower" in opt:
        ax.fill_between(
            c_grid,
            opt["lower"],
            opt["upper"],
            color="k",
            alpha=0.2,
            label=f"{level:.0%} bootstrap band",
        )
    low = 0.8 * min(loss.min(), float(np.nanmin(opt["value"])))
    if float(fit.E) >= low:  # the irreducible loss, when it is within the data's range
        ax.axhline(float(fit.E), color="0.4", ls=":", label=f"E = {float(fit.E):.3g}")
    ax.set(xscale="log", yscale="log", xlabel="compute C = 6 N D", ylabel="loss")
    ax.set_ylim(low, 1.25 * loss.max())
    ax.set_title(title or _law_title(fit), fontsize=9)
    ax.legend(fontsize=8)
    save(fig, path, dpi)
    return fig


def bootstrap_histograms(
    fit: Any,
    names: Sequence[str] = ("E", "A", "B", "alpha", "beta", "a_opt"),
    *,
    level: float = 0.95,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
) -> Figure:
    """One histogram per parameter of its bootstrap refits, with estimate and interval.

    Solid line: the point estimate; dashed: the percentile interval at `level`; the title
    gives the estimate and the bootstrap standard error.

    Args:
        fit: a bootstrapped `JointLawFit`.
        names: parameters to show (any of E, A, B, alpha, beta, a_opt, b_opt, G).
    """
    if fit.samples is None:
        raise ValueError("bootstrap_histograms needs a fit with n_bootstrap >= 2")
    unknown = [n for n in names if n not in fit.samples]
    if unknown:
        raise ValueError(f"unknown parameters {unknown}; choose from {sorted(fit.samples)}")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = new_figure(3.2 * cols, 2.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    lower, upper = fit.ci(level)
    for ax, name in zip(axes, names, strict=False):
        draws = np.asarray(fit.samples[name])
        draws = draws[np.isfinite(draws)]
        ax.hist(draws, bins=30, color="C0", alpha=0.7)
        ax.axvline(float(getattr(fit, name)), color="k")
        for bound in (lower[name], upper[name]):
            ax.axvline(float(bound), color="k", ls="--")
        ax.set_title(
            f"{name} = {float(getattr(fit, name)):.4g} ± {float(fit.stderr[name]):.2g}", fontsize=9
        )
        ax.set_yticks([])
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"bootstrap refits ({len(draws)} converged), {level:.0%} percentile intervals", fontsize=9
    )
    save(fig, path, dpi)
    return fig


def _budgets(N: np.ndarray, D: np.ndarray) -> np.ndarray:
    c = FLOPS * N * D
    return np.geomspace(c.min(), c.max(), 4)


def _law_title(fit: Any) -> str:
    return (
        f"L = {float(fit.E):.3g} + {float(fit.A):.3g}/N^{float(fit.alpha):.3f} + "
        f"{float(fit.B):.3g}/D^{float(fit.beta):.3f};  a_opt = {float(fit.a_opt):.3f}"
    )
