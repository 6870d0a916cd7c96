"""SGD noise in a deep network: the (alpha, T) phase diagram and T_c(P), chi-data and digits.

A fully connected GELU network (`theorytk.perceptron.simulate_network`: depth 3, width 32,
hidden layers 1/sqrt(fan_in), readout 1/h, centred output, hinge loss with margin 1/alpha)
trained by SGD with batches of B = 16 until it fits P training points, on chi-data
(chi = 0, d = 16) and on the scikit-learn digits (parity labels), as in Sclocchi, Geiger &
Wyart (ICML 2023, Fig. 1 and 3) at CPU scale.

1. Phase diagram at P = 1024 over (alpha, T = eta / (h B)): test error as colour, with the
   lazy/feature boundary alpha*(T) where the relative change of the empirical NTK on 32 test
   points crosses 1/2, and T_c(alpha), where ||w - w_0|| / ||w_0|| reaches twice its value
   at the smallest T of the grid (the temperature at which the noise starts to change the
   trained network). Cells that diverged or hit the step budget are hatched.
2. T_c vs P at a large alpha (lazy regime), fitted as T_c ~ P^b with a 95% interval.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from experiments._experiment import (
    Experiment,
    Options,
    check_positive,
    format_exponent,
    power_law,
    run_simulation,
    save_both,
)
from theorytk import fit, perceptron, plot, sweep

NAME = "sgd_noise"
WIDTH, DEPTH, BATCH, D, CHI = 32, 3, 16, 16, 0.0
P_DIAGRAM = 1024
LAZY_LEVEL = 0.5  # lazy/feature boundary: relative NTK change = 1/2
TC_FACTOR = 2.0  # T_c: ||w - w0|| reaches TC_FACTOR times its smallest-T value
DATA = {"chi": "chi-data (chi = 0, d = 16)", "digits": "digits parity (d = 64)"}


def default_axes(quick: bool) -> dict[str, np.ndarray]:
    return {
        "alpha": 2.0 ** np.linspace(-8, 12, 5 if quick else 9),
        "T": np.geomspace(1e-4, 1e-1, 4 if quick else 7),
        "alpha_lazy": np.array([4096.0]),
        "P": np.array([128.0, 256.0, 512.0] if quick else [128.0, 256.0, 512.0, 1024.0]),
        "T_lazy": np.geomspace(1e-4, 1e-2, 3) if quick else np.geomspace(2e-5, 1e-2, 7),
    }


def config(data: str, size: int, budget: int, quick: bool) -> perceptron.NetworkConfig:
    """The network task on up to `size` training points (P is a traced, padded axis)."""
    return perceptron.NetworkConfig(
        h=WIDTH,
        L=DEPTH,
        P=size,
        B=BATCH,
        data=data,
        d=D if data == "chi" else None,
        chi=CHI,
        budget=budget,
        P_test=512 if quick or data == "digits" else 2048,
        n_ntk=32,
        check_every=32,
    )


def lazy_budget(axes: dict[str, np.ndarray]) -> int:
    """Steps for the T_c(P) sweep: lazy training takes ~1/(alpha T) steps (measured ~930 /
    (alpha T) at P = 1024), so the smallest alpha T sets the budget (at least 30000)."""
    smallest = float(axes["alpha_lazy"][0] * axes["T_lazy"].min())
    return max(30_000, int(np.ceil(1000 / smallest)))


def check_axes(axes: dict[str, np.ndarray]) -> None:
    check_positive(axes, ("alpha", "T", "alpha_lazy", "T_lazy", "P"))
    if axes["alpha_lazy"].size != 1:
        raise ValueError(f"--grid alpha_lazy: one value, got {axes['alpha_lazy'].tolist()}")
    if np.round(axes["P"]).min() < BATCH:
        raise ValueError(f"--grid P: values must be >= B = {BATCH}, got {axes['P'].tolist()}")


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    check_axes(axes)
    sizes = np.unique(np.round(axes["P"]))
    diagrams, scalings = {}, {}
    for data in DATA:
        diagrams[data] = run_simulation(
            perceptron.simulate_network,
            sweep.Grid(T=axes["T"], alpha=axes["alpha"], P=[P_DIAGRAM], seed=range(options.seeds)),
            options,
            f"{NAME}_{data}",
            config=config(data, P_DIAGRAM, 4_000 if options.quick else 60_000, options.quick),
        ).isel(P=0, drop=True)
        scalings[data] = run_simulation(
            perceptron.simulate_network,
            sweep.Grid(
                T=axes["T_lazy"], P=sizes, alpha=axes["alpha_lazy"], seed=range(options.seeds)
            ),
            options,
            f"{NAME}_{data}_lazy",
            config=config(data, int(sizes.max()), lazy_budget(axes), options.quick),
        ).isel(alpha=0, drop=True)
    means = {data: sweep.seed_mean(ds) for data, ds in diagrams.items()}
    lazy_means = {data: sweep.seed_mean(ds) for data, ds in scalings.items()}
    lines = {data: boundaries(mean) for data, mean in means.items()}
    critical = {data: crossover(mean, "P") for data, mean in lazy_means.items()}
    fits = {data: power_law(tc["P"].values, tc.values, None) for data, tc in critical.items()}
    combined = xr.Dataset(
        {
            f"{data}_{kind}_{name}": ds[name].rename(
                {dim: f"{kind}_{dim}" for dim in ds[name].dims}
            )
            for kind, group in (("diagram", diagrams), ("lazy", scalings))
            for data, ds in group.items()
            for name in ds.data_vars
        }
    )
    for data in DATA:
        combined[f"{data}_T_c"] = critical[data].rename(P="lazy_P")
    combined.attrs = {
        **diagrams["chi"].attrs,
        "diagram_P": P_DIAGRAM,
        "lazy_alpha": float(axes["alpha_lazy"][0]),
    }
    paths = save_both(combined, options.out, NAME)
    figure_path = options.out / f"{NAME}.png"
    draw(means, lines, lazy_means, critical, fits, axes, figure_path)
    return summary(means, lines, critical, fits, axes, paths + [figure_path])


def crossover(mean: xr.Dataset, along: str) -> xr.DataArray:
    """T_c for each value of `along`: where ||w - w0|| / ||w0|| reaches TC_FACTOR times its
    value at the smallest T of the grid (interpolated in log T)."""
    ok = mean["status"] == sweep.Status.OK
    weights = mean["dw_rel"].where(ok)
    ratio = (weights / weights.isel(T=0)).transpose(along, "T")
    values = fit.critical_line(along, "T", ratio, TC_FACTOR)
    return xr.DataArray(values, coords={along: mean[along]}, dims=(along,))


def boundaries(mean: xr.Dataset) -> dict[str, xr.DataArray]:
    """alpha*(T) where the NTK change crosses LAZY_LEVEL (in log), and T_c(alpha)."""
    ok = mean["status"] == sweep.Status.OK
    change = np.log(mean["ntk_change"].where(ok)).transpose("T", "alpha")
    lazy = fit.critical_line("T", "alpha", change, np.log(LAZY_LEVEL))
    return {
        "alpha_star": xr.DataArray(lazy, coords={"T": mean["T"]}, dims=("T",)),
        "T_c": crossover(mean, "alpha"),
    }


def draw(means, lines, lazy_means, critical, fits, axes, path) -> None:
    """Per data set: test error and NTK change over (alpha, T) with both lines; T_c vs P."""
    fig, grid = plt.subplots(len(DATA), 3, figsize=(18, 5.2 * len(DATA)), squeeze=False)
    for row, data in enumerate(DATA):
        mean, line = means[data], lines[data]
        drawn = [
            (
                line["alpha_star"].values,
                mean["T"].values,
                f"lazy/feature: NTK change = {LAZY_LEVEL:g}",
                {"color": "w", "linestyle": "--"},
            ),
            (
                mean["alpha"].values,
                line["T_c"].values,
                rf"$T_c$: $\|w-w_0\|$ = {TC_FACTOR:g}x its small-T value",
                {"color": "r", "linestyle": "-", "marker": "o"},
            ),
        ]
        for col, (var, label) in enumerate(
            (("test_error", "test error"), ("ntk_change", "relative NTK change"))
        ):
            plot.phase_diagram(
                mean,
                var,
                x="alpha",
                y="T",
                ax=grid[row, col],
                log_color=True,
                lines=drawn,
                title=f"{DATA[data]}: {label}, P = {P_DIAGRAM}",
            )
        scaling_panel(grid[row, 2], lazy_means[data], critical[data], fits[data], axes, data)
    fig.suptitle(
        f"FC net, GELU, L = {DEPTH}, h = {WIDTH}, SGD with B = {BATCH} until zero hinge loss "
        "(T = eta / (h B); hatched: diverged or step budget reached)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def scaling_panel(ax, mean: xr.Dataset, tc: xr.DataArray, result, axes, data: str) -> None:
    """||w - w0|| / ||w0|| vs T at alpha_lazy for each P, and T_c(P) with its power-law fit."""
    alpha = float(axes["alpha_lazy"][0])
    colours = plt.cm.viridis(np.linspace(0, 0.9, mean["P"].size))
    for colour, size in zip(colours, mean["P"].values, strict=True):
        curve = mean.sel(P=size)
        ok = curve["status"] == sweep.Status.OK
        ax.errorbar(
            curve["T"],
            curve["dw_rel"].where(ok),
            yerr=curve["dw_rel_sem"].where(ok),
            fmt="o-",
            color=colour,
            capsize=2,
            label=f"P = {size:g}",
        )
        if np.isfinite(tc.sel(P=size)):
            ax.axvline(float(tc.sel(P=size)), color=colour, ls=":", lw=1.5)
    label = "T_c (dotted)" if result is None else f"T_c ~ P^{result[0]:.2f} (dotted)"
    ax.plot([], [], "k:", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("T")
    ax.set_ylabel(r"$\|w - w_0\| / \|w_0\|$")
    ax.set_title(f"{DATA[data]}: lazy regime, alpha = {alpha:g}")
    ax.legend(fontsize=9)


def summary(means, lines, critical, fits, axes, paths: list) -> str:
    out = [f"wrote {', '.join(str(p) for p in paths)}"]
    for data in DATA:
        mean = means[data]
        failed = int((mean["status"] != sweep.Status.OK).sum())
        best = mean["test_error"].where(mean["status"] == sweep.Status.OK)
        where = best.argmin(...)
        tc = ", ".join(f"{v:.2g}" for v in critical[data].values)
        sizes = ", ".join(f"{p:g}" for p in critical[data]["P"].values)
        out.append(
            f"{data}: best test error {float(best.min()):.3f} at alpha = "
            f"{float(mean['alpha'][where['alpha']]):g}, T = {float(mean['T'][where['T']]):.2g}; "
            f"{failed} cells hatched; T_c(P = {sizes})"
            f" = {tc} at alpha = {float(axes['alpha_lazy'][0]):g}: "
            f"T_c ~ P^{format_exponent(fits[data])}"
        )
    return "\n".join(out)


EXPERIMENT = Experiment(
    name=NAME,
    summary="FC network under SGD noise: (alpha, T) phase diagram (chi-data, digits), T_c vs P",
    axes=default_axes,
    run=run,
    default_seeds=lambda quick: 1 if quick else 2,
)
