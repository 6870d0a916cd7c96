"""Where the NTK regime ends: finite-width deviation and training drift of the NTK.

For a fully connected ReLU network in the NTK parameterisation (neural-tangents' convention,
the one `theorytk.kernels.mlp_kernels` computes), two seed-averaged quantities over a grid of
(width, depth), from `theorytk.kernels.simulate_ntk_regime`:

    ntk_deviation = ||Theta_0 - Theta_inf||_F / ||Theta_inf||_F     at initialisation
    ntk_change    = ||Theta_T - Theta_0||_F / ||Theta_0||_F         after T steps of full-batch GD

on a small regression task, with Theta the empirical NTK (`theorytk.kernels.empirical_ntk`,
structured path) and Theta_inf the analytic infinite-width NTK. Both vanish as width -> inf
at fixed depth, ~ width^(-1/2) (Jacot et al. 2018; Lee et al. 2019), and grow with depth: the
fluctuations of the NTK are controlled by depth/width (Hanin & Nica, "Finite depth and width
corrections to the neural tangent kernel", ICLR 2020), so the level sets of both follow lines
depth/width = const, drawn on the phase diagrams. The width exponent of the deviation at a
fixed depth is fitted with `theorytk.fit.fit_power_law` and printed with its 95% interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib import ticker
from matplotlib.figure import Figure

from experiments._experiment import Options, experiment, integer_axis, run_simulation, save_both
from experiments._specs import NTK as SPEC
from theorytk import fit, plot, sweep
from theorytk.kernels import NTKRegimeTask, simulate_ntk_regime

NAME = "ntk"
# depth / width values drawn as lines on the phase diagrams
RATIOS = (1 / 128, 1 / 32, 1 / 8)
# contour levels drawn on the phase diagrams (those inside the data range)
LEVELS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def task(quick: bool) -> NTKRegimeTask:
    return NTKRegimeTask(n=16, steps=100) if quick else NTKRegimeTask()


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    config = task(options.quick)
    widths = np.sort(integer_axis(axes, "width"))
    depths = np.sort(integer_axis(axes, "depth"))
    grid = sweep.Grid(
        width=sweep.static(widths.tolist()),
        depth=sweep.static(depths.tolist()),
        seed=range(options.seeds),
    )
    ds = run_simulation(simulate_ntk_regime, grid, options, NAME, config=config)
    mean = sweep.seed_mean(ds)
    depth = _fit_depth(depths)
    fits = {var: width_exponent(mean, var, depth) for var in ("ntk_deviation", "ntk_change")}
    paths = save_both(ds, options.out, NAME)
    png = options.out / f"{NAME}.png"
    figure(mean, fits["ntk_deviation"], depth, config, png)
    return summary(mean, fits, depth, paths + [png])


def _fit_depth(depths: np.ndarray) -> int:
    """The depth at which the width exponent is fitted: the middle of the grid's depths."""
    return int(depths[(len(depths) - 1) // 2])


def width_exponent(mean: xr.Dataset, var: str, depth: int) -> fit.PowerLawFit | None:
    """Fit mean[var] = a width^-b at `depth` (weights 1/SEM^2), or None if < 3 widths."""
    at = mean.sel(depth=depth)
    sem = at[f"{var}_sem"]
    ok = (at["status"] == sweep.Status.OK) & np.isfinite(at[var]) & np.isfinite(sem) & (sem > 0)
    if int(ok.sum()) < 3:
        return None
    at = at.where(ok, drop=True)
    return fit.fit_power_law(
        at["width"].values.astype(float),
        at[var].values,
        sigma=at[f"{var}_sem"].values,
        with_constant=False,
        space="linear",
    )


def _ratio_lines(mean: xr.Dataset) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Lines depth = c width for c in RATIOS, clipped to the drawn cells."""
    w_edges = plot.cell_edges(mean["width"].values, log=True)
    d_edges = plot.cell_edges(mean["depth"].values, log=True)
    widths = np.geomspace(w_edges[0], w_edges[-1], 128)
    lines = []
    for c in RATIOS:
        depth = c * widths
        keep = (depth >= d_edges[0]) & (depth <= d_edges[-1])
        if keep.sum() >= 2:
            lines.append((widths[keep], depth[keep], f"depth / width = 1/{round(1 / c)}"))
    return lines


def figure(
    mean: xr.Dataset, exponent: fit.PowerLawFit | None, depth: int, config: NTKRegimeTask, path: Any
) -> None:
    """Phase diagrams of the deviation and the change, and the width scaling at `depth`."""
    mean = mean.copy()
    mean["ntk_deviation"].attrs["long_name"] = "relative NTK deviation from the analytic NTK"
    mean["ntk_change"].attrs["long_name"] = "relative NTK change under gradient descent"
    mean["width"].attrs["long_name"] = "hidden width"
    mean["depth"].attrs["long_name"] = "depth (hidden layers)"
    fig = Figure(figsize=(18, 5.4), layout="constrained")
    axes = fig.subplots(1, 3)
    lines = _ratio_lines(mean)
    titles = {
        "ntk_deviation": r"$\|\Theta_0 - \Theta_\infty\|_F / \|\Theta_\infty\|_F$ at init",
        "ntk_change": rf"$\|\Theta_T - \Theta_0\|_F / \|\Theta_0\|_F$ after {config.steps} steps",
    }
    for ax, (var, title) in zip(axes[:2], titles.items(), strict=True):
        values = mean[var].where(mean["status"] == sweep.Status.OK).values
        levels = [v for v in LEVELS if np.nanmin(values) < v < np.nanmax(values)]
        if min(mean.sizes["width"], mean.sizes["depth"]) < 2:
            levels = []  # level sets need two values along each axis
        plot.phase_diagram(
            mean,
            var,
            x="width",
            y="depth",
            ax=ax,
            log_color=True,
            yscale="log",
            contour=var if len(levels) else None,
            levels=levels or None,
            contour_label="level sets of the colour",
            lines=lines,
            title=title,
        )
        ax.yaxis.set_major_formatter(ticker.ScalarFormatter())
        ax.set_yticks(mean["depth"].values)
    at = mean.sel(depth=depth)
    plot.scaling_plot(
        at["width"].values,
        at["ntk_deviation"].values,
        exponent,
        yerr=at["ntk_deviation_sem"].values,
        ax=axes[2],
        xlabel="width",
        ylabel="relative deviation from the analytic NTK",
        label=f"depth {depth}, mean over seeds",
        title=f"width scaling at depth {depth} (expected exponent -1/2)",
    )
    axes[2].set_xticks(at["width"].values, [str(int(w)) for w in at["width"].values])
    axes[2].xaxis.set_minor_formatter(ticker.NullFormatter())
    for axis in (axes[2].yaxis,):
        axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        axis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
    fig.suptitle(
        f"NTK regime of a {config.activation} MLP (NTK parameterisation, sigma_w = "
        f"{config.sigma_w:.3g}, sigma_b = {config.sigma_b:g}), n = {config.n} points in "
        f"d = {config.d}"
    )
    fig.savefig(path, dpi=120)


def _exponent_text(result: fit.PowerLawFit | None) -> str:
    """'width^-0.51 (95% CI [-0.58, -0.44])', or a note that there was too little data."""
    if result is None:
        return "not fitted (fewer than 3 widths with a standard error)"
    lower, upper = (float(np.asarray(v)[1]) for v in result.ci(0.95))
    return f"width^{-float(result.b):.3f} (95% CI [{-upper:.3f}, {-lower:.3f}]; {result.estimator})"


def summary(
    mean: xr.Dataset, fits: dict[str, fit.PowerLawFit | None], depth: int, paths: list
) -> str:
    ok = mean["status"] == sweep.Status.OK
    dev, change = (mean[v].where(ok) for v in ("ntk_deviation", "ntk_change"))
    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"ntk: {int(ok.sum())} of {ok.size} (width, depth) cells ok; relative NTK deviation at "
        f"init {float(dev.min()):.3f}..{float(dev.max()):.3f}, change under GD "
        f"{float(change.min()):.3f}..{float(change.max()):.3f}; at depth {depth} the deviation "
        f"~ {_exponent_text(fits['ntk_deviation'])} (expected width^-0.5) and the change "
        f"~ {_exponent_text(fits['ntk_change'])}"
    )


EXPERIMENT = experiment(SPEC, run)
