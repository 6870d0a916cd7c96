"""The figure of the `sgd_noise` experiment: phase diagrams, T_c(P) levels, the collapse."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from theorytk import plot

DATA = {"chi": "chi-data", "digits": "digits parity (d = 64)"}


def draw(means: dict, lines: dict, scalings: dict, results: dict, settings: dict, path: Path):
    """Per data set: [test error, NTK change over (alpha, T)], dw_rel vs T, the collapse."""
    rows = list(results)
    columns = 4 if means else 2
    fig, grid = plt.subplots(
        len(rows), columns, figsize=(6 * columns, 5.2 * len(rows)), squeeze=False
    )
    for row, data in enumerate(rows):
        if data in means:
            diagram_panels(grid[row, :2], means[data], lines[data], data, settings)
        levels_panel(grid[row, -2], results[data], data, settings)
        collapse_panel(grid[row, -1], results[data], data)
    fig.suptitle(
        f"FC net, GELU, L = {settings['depth']}, h = {settings['width']}, SGD with "
        f"B = {settings['batch']} until zero hinge loss (T = eta / (h B); hatched: diverged "
        "or step budget reached)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def diagram_panels(axes, mean: xr.Dataset, line: dict, data: str, settings: dict) -> None:
    drawn = [
        (
            line["alpha_star"].values,
            mean["T"].values,
            "lazy/feature: NTK change = 0.5",
            {"color": "w", "linestyle": "--"},
        ),
        (
            mean["alpha"].values,
            line["T_c"].values,
            r"$T_c$ (plateau ratio 2)",
            {"color": "r", "linestyle": "-", "marker": "o"},
        ),
    ]
    for ax, (var, label) in zip(
        axes, (("test_error", "test error"), ("ntk_change", "relative NTK change")), strict=True
    ):
        plot.phase_diagram(
            mean,
            var,
            x="alpha",
            y="T",
            ax=ax,
            log_color=True,
            lines=drawn,
            title=f"{DATA[data]}: {label}, P = {settings['diagram_P']}",
        )


def levels_panel(ax, result: dict, data: str, settings: dict) -> None:
    """||w - w0|| / ||w0|| vs T per P, the fixed levels and where each curve crosses them."""
    mean, sem = result["mean"]["dw_rel"], result["sem"]
    colours = plt.cm.viridis(np.linspace(0, 0.9, mean["P"].size))
    for colour, size in zip(colours, mean["P"].values, strict=True):
        ax.errorbar(
            mean["T"],
            mean.sel(P=size),
            yerr=sem.sel(P=size),
            fmt="o-",
            color=colour,
            capsize=2,
            label=f"P = {size:g}",
        )
    for (name, level), (tc, law) in result["levels"].items():
        if name != "dw_rel":
            continue
        ax.axhline(level, color="grey", ls=":", lw=1)
        exponent = "?" if law is None else f"{law[0]:.2f} [{law[1]:.2f}, {law[2]:.2f}]"
        ax.plot(tc, np.full_like(tc, level), "kx")
        ax.text(
            mean["T"].values[0], level * 1.05, f"level {level:g}: $T_c$ ~ P^{exponent}", fontsize=8
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("T")
    ax.set_ylabel(r"$\|w - w_0\| / \|w_0\|$")
    ax.set_title(
        f"{DATA[data]}: lazy regime, alpha = {settings['alpha']:g}; x: T_c at fixed levels"
    )
    ax.legend(fontsize=8)


def collapse_panel(ax, result: dict, data: str) -> None:
    """||w - w0|| / ||w0|| against T P^a at the collapse exponent."""
    mean = result["mean"]["dw_rel"]
    a, low, high = result["collapse"]
    colours = plt.cm.viridis(np.linspace(0, 0.9, mean["P"].size))
    for colour, size in zip(colours, mean["P"].values, strict=True):
        ax.plot(mean["T"] * size**a, mean.sel(P=size), "o-", color=colour, label=f"P = {size:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"T P^a, a = {a:.2f}")
    ax.set_ylabel(r"$\|w - w_0\| / \|w_0\|$")
    ax.set_title(f"{DATA[data]}: collapse, a = {a:.2f} [95% bootstrap {low:.2f}, {high:.2f}]")
    ax.legend(fontsize=8)
