"""The figure of the `sgd_noise` experiment: phase diagrams, T_c(P) levels, the collapse."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib import ticker

from theorytk import plot

DATA = {"chi": "chi-data", "digits": "digits parity (d = 64)"}
LONG_NAMES = {
    "test_error": "test error",
    "ntk_change": "relative NTK change",
    "alpha": "alpha (output scale)",
    "T": "T = eta / (h B)",
}
WEIGHTS = r"$\|w - w_0\| / \|w_0\|$"


def draw(means: dict, lines: dict, scalings: dict, results: dict, settings: dict, path: Path):
    """Per data set: [test error, NTK change over (alpha, T)], dw_rel vs T, T_c(P), collapse."""
    rows = list(results)
    columns = 5 if means else 3
    fig, grid = plt.subplots(
        len(rows), columns, figsize=(5.6 * columns, 5.4 * len(rows)), squeeze=False
    )
    for row, data in enumerate(rows):
        if data in means:
            diagram_panels(grid[row, :2], means[data], lines[data], data, settings)
        levels_panel(grid[row, -3], results[data], data, settings)
        t_c_panel(grid[row, -2], results[data], data)
        collapse_panel(grid[row, -1], results[data], data)
    fig.suptitle(
        f"FC net, GELU, L = {settings['depth']}, h = {settings['width']}, SGD with "
        f"B = {settings['batch']} until zero hinge loss; T = eta / (h B)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def diagram_panels(axes, mean: xr.Dataset, line: dict, data: str, settings: dict) -> None:
    mean = mean.copy()
    for name, long_name in LONG_NAMES.items():
        mean[name].attrs["long_name"] = long_name
    candidates = [
        (
            line["alpha_star"].values,
            mean["T"].values,
            "lazy/feature: NTK change = 0.5",
            {"color": "darkorange", "linestyle": "--", "lw": 2},
        ),
        (
            mean["alpha"].values,
            line["T_c"].values,
            r"$T_c$ (plateau ratio 2)",
            {"color": "r", "linestyle": "-", "marker": "o"},
        ),
    ]
    # a line with no finite point would be a legend entry without a drawn line
    drawn = [c for c in candidates if np.any(np.isfinite(c[0]) & np.isfinite(c[1]))]
    for ax, var in zip(axes, ("test_error", "ntk_change"), strict=True):
        plot.phase_diagram(
            mean,
            var,
            x="alpha",
            y="T",
            ax=ax,
            log_color=True,
            lines=drawn,
            title=f"{DATA[data]}: {LONG_NAMES[var]}\nP = {settings['diagram_P']} "
            "(hatched: diverged or step budget)",
        )


def levels_panel(ax, result: dict, data: str, settings: dict) -> None:
    """||w - w0|| / ||w0|| vs T per P, the fixed levels and where each curve crosses them."""
    mean, sem = result["mean"]["dw_rel"], result["sem"]
    colours = plt.cm.viridis(np.linspace(0, 0.9, mean["P"].size))
    for colour, size in zip(colours, mean["P"].values, strict=True):
        ax.plot(mean["T"], mean.sel(P=size), "o-", color=colour, label=f"P = {size:g}")
        ax.errorbar(mean["T"], mean.sel(P=size), yerr=sem.sel(P=size), fmt="none", color=colour)
    for (name, level), (tc, _) in result["levels"].items():
        if name != "dw_rel":
            continue
        ax.axhline(level, color="grey", ls=":", lw=1)
        ax.plot(tc, np.full_like(tc, level), "kx")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(LONG_NAMES["T"])
    ax.set_ylabel(WEIGHTS)
    ax.set_title(
        f"{DATA[data]}: lazy regime, alpha = {settings['alpha']:g}\n"
        "dotted: fixed levels; x: their T_c"
    )
    ax.legend(fontsize=8, loc="upper left")


def t_c_panel(ax, result: dict, data: str) -> None:
    """T_c against P: each fixed level of the total weight change, and of its noise part."""
    sizes = result["mean"]["dw_rel"]["P"].values
    levels = [(lvl, tc) for (name, lvl), (tc, _) in result["levels"].items() if name == "dw_rel"]
    colours = plt.cm.plasma(np.linspace(0, 0.8, len(levels)))
    for colour, (level, tc) in zip(colours, levels, strict=True):
        ax.plot(sizes, tc, "o:", color=colour, mfc="none", label=f"total = {level:g}")
        noise, low, high, _ = result["noise_levels"][level]
        ok = np.isfinite(noise)
        if ok.any():
            below = np.where(np.isfinite(low), noise - low, 0.0)
            above = np.where(np.isfinite(high), high - noise, 0.0)
            ax.plot(sizes[ok], noise[ok], "s-", color=colour, label=f"noise part = {level:g}")
            ax.errorbar(sizes[ok], noise[ok], yerr=[below[ok], above[ok]], fmt="none", color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xticks(sizes, [f"{size:g}" for size in sizes], rotation=45)
    ax.set_xlabel("training-set size P")
    ax.set_ylabel("critical temperature $T_c$")
    ax.set_title(
        f"{DATA[data]}: $T_c$ where {WEIGHTS} reaches a level\n"
        "(open: total; filled: minus its smallest-T value, +-1 SE)"
    )
    ax.legend(fontsize=7, ncol=2)


def collapse_panel(ax, result: dict, data: str) -> None:
    """||w - w0|| / ||w0|| against T P^a at the collapse exponent, if one was resolved.

    Resolved: a finite bootstrap interval excluding 0 with a inside it. Otherwise the curves
    are drawn against T and the title says that no collapse was found.
    """
    mean = result["mean"]["dw_rel"]
    a, low, high = result["collapse"]
    resolved = bool(np.isfinite([a, low, high]).all() and 0 < low <= a <= high)
    scale = a if resolved else 0.0
    colours = plt.cm.viridis(np.linspace(0, 0.9, mean["P"].size))
    for colour, size in zip(colours, mean["P"].values, strict=True):
        ax.plot(
            mean["T"] * size**scale, mean.sel(P=size), "o-", color=colour, label=f"P = {size:g}"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(WEIGHTS)
    if resolved:
        ax.set_xlabel(f"T P^a, a = {a:.2f}")
        ax.set_title(
            f"{DATA[data]}: collapse against T P^a\na = {a:.2f} [95% bootstrap "
            f"{low:.2f}, {high:.2f}]"
        )
    else:
        ax.set_xlabel(LONG_NAMES["T"])
        ax.set_title(
            f"{DATA[data]}: no collapse resolved\n(a = {a:.2f}, 95% bootstrap "
            f"[{low:.2f}, {high:.2f}] includes 0)"
        )
    ax.legend(fontsize=8, loc="upper left")
