"""The self-repellent random walk (Doshi et al., ICML 2023): the sampling variance falls as
1/alpha, on a regular graph and on the slow-mixing lollipop, and token SGD inherits it.

For each alpha the experiment runs many independent walks of n steps (step exponent a = 1,
uniform target, Metropolis-Hastings base chain) and measures the scaled squared error
gamma_n^(-1) (x_n^T f - mu^T f)^2, whose mean tends to sigma^2(alpha) = f^T V(alpha) f
(`gossip.srrw_variance`, the theory curve), and the scaled error of token SGD driven by
the same walk (`gossip.token_simulate`, heterogeneous scalar quadratics).
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from experiments._experiment import Options, experiment, run_simulation, save_both
from experiments._gossip_stats import ratio_interval
from experiments._specs import SRRW as SPEC
from theorytk import gossip, sweep

NAME = "srrw"
GRAPHS = {"exponential8": "5-regular, 8 nodes", "lollipop": "lollipop K5 + 5-path"}


def steps(quick: bool) -> dict[str, int]:
    """Walk length per graph: the lollipop mixes slowly (within 2% of its limit at 20000)."""
    return {"exponential8": 5000, "lollipop": 20000}


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    grid = sweep.Grid(alpha=axes["alpha"], a=[1.0], seed=range(options.seeds))
    parts = {}
    with jax.enable_x64(True):
        for graph, n in steps(options.quick).items():
            config = gossip.SrrwConfig(graph=graph, steps=n)
            walk = run_simulation(
                gossip.srrw_simulate, grid, options, f"{NAME}_{graph}", config=config
            )
            token = run_simulation(
                gossip.token_simulate, grid, options, f"{NAME}_{graph}_token", config=config
            )
            p, mu, f = config.walk()
            theory = np.asarray(gossip.srrw_variance(p, mu, f, axes["alpha"], 1.0))
            parts[graph] = xr.Dataset(
                {
                    "scaled_error": walk["scaled_error"].squeeze("a", drop=True),
                    "token_error": token["token_error"].squeeze("a", drop=True),
                    "theory": ("alpha", theory),
                }
            )
    combined = xr.concat(list(parts.values()), dim=xr.DataArray(list(parts), dims="graph"))
    paths = save_both(combined, options.out, NAME)
    ratios = relative(combined)
    figure(ratios, options.out / f"{NAME}.png")
    return summary(ratios, paths + [options.out / f"{NAME}.png"])


def relative(ds: xr.Dataset) -> xr.Dataset:
    """sigma^2(alpha)/sigma^2(0) (simulated, with 95% intervals, and theory), token likewise."""
    out = {}
    for var in ("scaled_error", "token_error"):
        zero = ds[var].sel(alpha=0.0).values[:, None, :]
        ratio, half = ratio_interval(ds[var].values, np.broadcast_to(zero, ds[var].shape))
        out[var] = (("graph", "alpha"), ratio)
        out[f"{var}_ci"] = (("graph", "alpha"), half)
    out["theory"] = ds["theory"] / ds["theory"].sel(alpha=0.0)
    return xr.Dataset(out, coords={"graph": ds.graph, "alpha": ds.alpha})


def figure(ratios: xr.Dataset, path) -> None:
    """Walk variance ratio with the theory curve, and token-SGD error ratio, against alpha."""
    fig = Figure(figsize=(11, 4.3), layout="constrained")
    left, right = fig.subplots(1, 2)
    alpha = ratios.alpha.values
    fine = np.linspace(0, alpha.max(), 200)
    for k, graph in enumerate(ratios.graph.values):
        colour = f"C{k}"
        config = gossip.SrrwConfig(graph=str(graph))
        p, mu, f = config.walk()
        curve = np.asarray(gossip.srrw_variance(p, mu, f, fine, 1.0))
        name = GRAPHS[str(graph)]
        sel = ratios.sel(graph=graph)
        # Each panel: the simulated ratio with its interval and the walk's theory curve
        # (on the right dotted, a reference only: token SGD has no closed form here).
        for ax, var, fmt, label, theory, ls in (
            (left, "scaled_error", "o", "simulated", "theory", "-"),
            (right, "token_error", "s-", "token SGD", "walk theory (reference)", ":"),
        ):
            ax.errorbar(
                alpha,
                sel[var],
                yerr=sel[f"{var}_ci"],
                fmt=fmt,
                color=colour,
                capsize=3,
                label=f"{label}, {name}",
            )
            ax.plot(fine, curve / curve[0], color=colour, ls=ls, label=f"{theory}, {name}")
    for ax, what in (
        (left, "walk variance sigma^2(alpha) / sigma^2(0)"),
        (right, "token-SGD scaled error, relative to alpha = 0"),
    ):
        ax.set_yscale("log")
        ax.set_xlabel("repellence alpha")
        ax.set_ylabel(what)
        ax.legend(fontsize=8)
    left.set_title("SRRW sampling variance (95% intervals)")
    right.set_title("token SGD driven by the SRRW")
    fig.savefig(path, dpi=110)


def summary(ratios: xr.Dataset, paths: list) -> str:
    """Per graph and alpha > 0: the walk's ratio +- 95% half-width (theory) and token SGD's;
    then the largest |simulated - theory| in half-widths over those points."""
    parts = []
    for graph in ratios.graph.values:
        cells = []
        for alpha in ratios.alpha.values[ratios.alpha.values > 0]:
            sel = ratios.sel(graph=graph, alpha=alpha)
            cells.append(
                f"alpha {alpha:g}: {float(sel.scaled_error):.3f} +- "
                f"{float(sel.scaled_error_ci):.3f} (theory {float(sel.theory):.3f}), token SGD "
                f"{float(sel.token_error):.3f} +- {float(sel.token_error_ci):.3f}"
            )
        parts.append(f"{graph}: " + ", ".join(cells))
    positive = ratios.sel(alpha=ratios.alpha > 0)
    gap = np.abs(positive.scaled_error - positive.theory) / positive.scaled_error_ci
    return (
        f"wrote {', '.join(str(p) for p in paths)}\nsrrw, sigma^2(alpha)/sigma^2(0) +- 95% "
        "half-width (theory) and token SGD's scaled error relative to alpha = 0: "
        + "; ".join(parts)
        + f"; largest |simulated - theory| {float(gap.max()):.2f} half-widths over "
        f"{int(gap.size)} points"
    )


EXPERIMENT = experiment(SPEC, run)
