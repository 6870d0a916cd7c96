"""The six-panel figure of the `rf` experiment (see `experiments/rf.py`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib import ticker
from matplotlib.figure import Figure

from theorytk import plot, regression, sweep


def figure(
    theory: xr.Dataset,
    mean: xr.Dataset,
    slices: xr.Dataset,
    more: xr.Dataset,
    overfit: xr.Dataset,
    config: regression.LinearRFConfig,
    path: Any,
) -> None:
    """The six panels described in the module docstring."""
    theory, mean = theory.copy(), mean.copy()
    for ds in (theory, mean):
        ds["test_mse"].attrs["long_name"] = "test MSE"
    fig = Figure(figsize=(18, 10.5), layout="constrained")
    axes = fig.subplots(2, 3)
    lines = phase_lines(theory, more.sel(best_n=config.n), config.n)
    ok = mean["status"] == sweep.Status.OK
    values = np.concatenate(
        [theory["test_mse"].values.ravel(), mean["test_mse"].where(ok).values.ravel()]
    )
    vmin, vmax = np.nanmin(values), np.nanmax(values[np.isfinite(values)])
    common = dict(
        x="n_features_over_n", y="ridge", log_color=True, vmin=vmin, vmax=vmax, lines=lines
    )
    plot.phase_diagram(
        theory, "test_mse", ax=axes[0, 0], colorbar=False, title="theory (rf_risk)", **common
    )
    plot.phase_diagram(
        mean,
        "test_mse",
        ax=axes[0, 1],
        title=f"simulation (mean of {int(mean['n_ok'].max())} seeds)",
        **common,
    )
    gap = gap_in_sem(theory, mean)
    # symmetric colour limits covering the largest gap (at least +-4 SE), never clipping it
    largest = float(np.nanmax(np.abs(gap["gap"].where(gap["status"] == 0).values), initial=0.0))
    limit = max(4.0, float(np.ceil(largest)))
    plot.phase_diagram(
        gap,
        "gap",
        x="n_features_over_n",
        y="ridge",
        ax=axes[0, 2],
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        lines=lines,
        title="(simulation - theory) / standard error",
    )
    more_panel(axes[1, 0], more)
    plot.overlay(
        slices,
        mean.sel(ridge=slices["ridge"].values),
        x="n_features_over_n",
        var="test_mse",
        hue="ridge",
        ax=axes[1, 1],
        yscale="log",
        title="test MSE vs N / n: theory lines, simulation points",
    )
    axes[1, 1].axvline(1.0, color="0.4", linestyle=":", linewidth=1)
    axes[1, 1].set_ylabel("test MSE")
    for axis in (axes[1, 1].yaxis, axes[1, 0].yaxis):
        axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        axis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
    overfit_panel(axes[1, 2], overfit)
    fig.suptitle(
        f"random-feature ridge regression: linear features, x ~ N(0, diag(lambda)), "
        f"d = {config.d}, n = {config.n}, lambda_i = v_i^2 = i^-{config.eigen_decay:g}, "
        f"noise {config.noise:g}"
    )
    fig.savefig(path, dpi=110)


def phase_lines(theory: xr.Dataset, at_n: xr.Dataset, n: int) -> list[tuple[Any, ...]]:
    """The interpolation line N = n and the optimal ridge delta*(N) inside the drawn cells."""
    y_edges = plot.cell_edges(theory["ridge"].values, log=True)
    x_edges = plot.cell_edges(theory["n_features_over_n"].values, log=True)
    ratio, best = at_n["best_n_features"].values / n, at_n["best_ridge"].values
    keep = (best >= y_edges[0]) & (best <= y_edges[-1]) & (ratio >= x_edges[0])
    keep &= ratio <= x_edges[-1]
    return [
        ([1.0, 1.0], [y_edges[0], y_edges[-1]], "N = n (interpolation)"),
        (ratio[keep], best[keep], "optimal ridge (theory)"),
    ]


def gap_in_sem(theory: xr.Dataset, mean: xr.Dataset) -> xr.Dataset:
    """(seed mean - theory) / standard error of the mean, with the simulation's status."""
    gap = (mean["test_mse"] - theory["test_mse"]) / mean["test_mse_sem"]
    gap.attrs["long_name"] = "gap in standard errors"
    return xr.Dataset({"gap": gap, "status": mean["status"]})


def more_panel(ax: Any, more: xr.Dataset) -> None:
    """Optimal test MSE vs N: a line per n, dotted N = infinity, simulated points."""
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for color, m in zip(colors, more["best_n"].values, strict=True):
        at = more.sel(best_n=m)
        ax.plot(at["best_n_features"], at["best_test_mse"], color=color, label=f"n = {m}")
        ax.axhline(float(at["best_test_mse_krr"]), color=color, linestyle=":", linewidth=1.2)
        if m == int(more["sim_n"]):
            sim = more
            ax.errorbar(
                sim["sim_n_features"],
                sim["sim_best_test_mse"],
                yerr=sim["sim_best_test_mse_sem"],
                fmt="o",
                color=color,
                markeredgecolor="black",
                capsize=3,
                label=f"n = {m}, simulated at the optimal ridge",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (random features)")
    ax.set_ylabel("optimal test MSE (min over ridge)")
    ax.set_title("more is better: optimal test MSE falls with N and n\n(dotted: N = infinity, KRR)")
    ax.legend(fontsize=8)


def overfit_panel(ax: Any, overfit: xr.Dataset) -> None:
    """train/test at the optimal ridge vs n for each beta (theory, noiseless KRR)."""
    alpha = overfit.attrs["alpha"]
    for beta, marker in zip(overfit["beta"].values, "os^x", strict=True):
        at = overfit.sel(beta=beta)
        relation = "<" if beta < alpha else ">="
        zero = bool(np.all(at["optimal_ridge_krr"].values == 0))
        note = ", optimal ridge 0" if zero else ""
        (line,) = ax.plot(
            at["fit_n"],
            at["optimal_fitting_ratio"],
            marker=marker,
            markersize=7 if beta < alpha else 9,
            linestyle="-" if beta < alpha else "--",
            label=f"beta = {beta:g} {relation} alpha{note}",
        )
        ax.plot(at["fit_n"], at["noisy_fitting_ratio"], ":", color=line.get_color(), lw=2)
    ax.set_xscale("log")
    ax.set_ylim(bottom=-0.01)
    ax.set_xlabel("n (training samples)")
    ax.set_ylabel("train MSE / test MSE at the optimal ridge")
    ax.set_title(
        f"overfitting is obligatory: KRR, lambda_i = i^-{alpha:g}, v_i^2 = i^-beta,\n"
        f"{overfit.attrs['modes']} modes (theory); dotted: noise = "
        f"{overfit.attrs['relative_noise']:g} x ridgeless noiseless error"
    )
    ax.legend(fontsize=8)
