"""DADAO (Nabli and Oyallon, ICML 2023): gradient steps and communications decouple.

The claim: to reach accuracy eps DADAO needs O(n sqrt(L/mu) log 1/eps) gradient steps and
O(n sqrt(chi_1 chi_2) sqrt(L/mu) log 1/eps) communications, so the gradient count does not
depend on the graph and the communication count grows as sqrt(chi_1 chi_2). The experiment
runs DADAO (`gossip.dadao_simulate`) on the same heterogeneous quadratics (curvatures in
[1, 4], d = 4) over ring, 2-D torus, exponential and complete graphs with n nodes, and reads
off the gradient and communication events up to the first event after which
(1/n) sum_i ||x_i - x*||^2 <= eps ||x*||^2. D-SGD (ATC) and gradient tracking run on the same
problems to the same tolerance as `sweep.Loop`s (`gossip.quadratic_rounds`, refilled lanes)
over a grid of steps; each graph's best step is reported.

Counting: a DADAO communication is one edge exchange (one vector each way, y + z); a
D-SGD round is |E| such exchanges (x over every edge), a gradient-tracking round 2 |E|
(x and y). A DADAO gradient event is one local gradient; a D-SGD or GT round is n.
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from experiments._experiment import (
    Options,
    experiment,
    format_exponent,
    integer_axis,
    power_law,
    run_simulation,
    save_both,
)
from experiments._gossip_stats import mean_interval
from experiments._specs import DADAO as SPEC
from theorytk import gossip, plot, sweep

NAME = "dadao"
GRAPHS = ("ring", "torus", "exponential", "complete")
DIM, MU, SMOOTHNESS = 4, 1.0, 4.0


def chi(graph: str, n: int) -> float:
    """sqrt(chi_1 chi_2) of the graph (`gossip.graph_rates`)."""
    rates = gossip.graph_rates(gossip.named_graph(graph, n))
    return float(np.sqrt(rates.chi_1 * rates.chi_2))


def run_dadao(n: int, tolerance: float, options: Options) -> xr.Dataset:
    """Gradient and communication events of DADAO to tolerance, per graph and seed."""
    horizon = 25.0 * np.log(1 / tolerance)  # the measured decay e^(-0.07 t) reaches eps by ~0.6 T
    parts = []
    for graph in GRAPHS:
        rate = n + gossip.graph_rates(gossip.named_graph(graph, n)).comm_rate
        events = int(rate * horizon + 6 * np.sqrt(rate * horizon)) + 1
        config = gossip.DadaoConfig(
            graph=graph,
            n_nodes=n,
            dim=DIM,
            mu=MU,
            smoothness=SMOOTHNESS,
            events=events,
            tolerance=tolerance,
        )
        grid = sweep.Grid(horizon=[horizon], comm_scale=[1.0], seed=range(options.seeds))
        ds = run_simulation(
            gossip.dadao_simulate, grid, options, f"{NAME}_{graph}_{n}", config=config
        )
        parts.append(ds.squeeze(("horizon", "comm_scale"), drop=True))
    return xr.concat(parts, dim=xr.DataArray(list(GRAPHS), dims="graph"))


def run_baselines(n: int, lrs: np.ndarray, setting: dict, options: Options) -> dict:
    """D-SGD and GT rounds to tolerance over (graph, step), as refilled `sweep.Loop`s."""
    out = {}
    for method in gossip.METHODS:
        config = gossip.QuadraticConfig(
            method=method,
            n_nodes=n,
            dim=DIM,
            steps=setting["budget"],
            topologies=GRAPHS,
            mu=MU,
            smoothness=SMOOTHNESS,
            tolerance=setting["tolerance"],
        )
        gaps = np.sort(config.family()[0])
        grid = sweep.Grid(spectral_gap=gaps, lr=lrs)
        out[method] = run_simulation(
            gossip.quadratic_rounds, grid, options, f"{NAME}_{method}_{n}", config=config
        )
    return out


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    sizes = integer_axis(axes, "n", least=4)
    for n in sizes:
        for graph in GRAPHS:
            gossip.named_graph(graph, int(n))  # torus needs a square n: refused here
    setting = {**SPEC.settings(options.quick), **options.settings}
    rows, baselines = [], {}
    with jax.enable_x64(True):
        for n in sizes:
            dadao = run_dadao(int(n), setting["tolerance"], options)
            baselines[int(n)] = run_baselines(int(n), axes["lr"], setting, options)
            rows.append(counts(int(n), dadao, baselines[int(n)]))
    table = xr.concat(rows, dim=xr.DataArray(sizes, dims="n"))
    paths = save_both(table, options.out, NAME)
    figure(table, baselines[int(sizes[-1])], int(sizes[-1]), options.out / f"{NAME}.png")
    return summary(table, setting["tolerance"], paths + [options.out / f"{NAME}.png"])


def counts(n: int, dadao: xr.Dataset, baselines: dict) -> xr.Dataset:
    """Per graph: sqrt(chi_1 chi_2), DADAO mean counts (95% half-widths), best D-SGD/GT counts."""
    data = {"chi": ("graph", [chi(g, n) for g in GRAPHS])}
    for var in ("grads_to_tol", "comms_to_tol", "time_to_tol"):
        mean, half = mean_interval(dadao[var].transpose("graph", "seed").values)
        data[f"dadao_{var}"], data[f"dadao_{var}_ci"] = ("graph", mean), ("graph", half)
    for method, ds in baselines.items():
        for var in ("rounds", "gradients", "messages"):
            data[f"{method}_{var}"] = ("graph", [best(ds, g, n, var) for g in GRAPHS])
    return xr.Dataset(data, coords={"graph": list(GRAPHS)})


def best(ds: xr.Dataset, graph: str, n: int, var: str) -> float:
    """The smallest `var` over the steps that reached eps on `graph` (NaN if none did)."""
    cell = ds.sel(spectral_gap=gossip.spectral_gap(gossip.named_mixing(graph, n)), method="nearest")
    return float(cell[var].where(cell["status"] == sweep.Status.OK).min())


def figure(table: xr.Dataset, baselines: dict, n_last: int, path) -> None:
    """Counts to eps against sqrt(chi_1 chi_2); D-SGD and GT rounds-to-eps phase diagrams."""
    fig = Figure(figsize=(14, 8.5), layout="constrained")
    axes = fig.subplots(2, 2)
    styles = {
        "dadao": ("o", "DADAO"),
        "dsgd": ("s", "D-SGD (best step)"),
        "gt": ("^", "GT (best step)"),
    }
    for col, (what, dvar, bvar) in enumerate(
        (
            ("gradient steps", "grads_to_tol", "gradients"),
            ("communications (edge exchanges)", "comms_to_tol", "messages"),
        )
    ):
        ax = axes[0, col]
        for k, n in enumerate(table.n.values):
            row = table.sel(n=n).sortby("chi")
            x = row["chi"].values
            ax.errorbar(
                x,
                row[f"dadao_{dvar}"],
                yerr=row[f"dadao_{dvar}_ci"],
                fmt="o-",
                color=f"C{k}",
                capsize=3,
                label=f"DADAO, n = {int(n)}",
            )
            for method in gossip.METHODS:
                marker, label = styles[method]
                ax.plot(
                    x,
                    row[f"{method}_{bvar}"],
                    marker=marker,
                    ls="--",
                    color=f"C{k}",
                    alpha=0.7,
                    label=f"{label}, n = {int(n)}",
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sqrt(chi_1 chi_2) of the graph (ring, torus, exponential, complete)")
        ax.set_ylabel(f"{what} to eps")
        ax.set_title(f"{what} to eps")
        ax.legend(fontsize=7, ncol=2)
    names = {"dsgd": "D-SGD (ATC)", "gt": "gradient tracking"}
    for col, (method, ds) in enumerate(baselines.items()):
        ds = ds.assign_coords(
            spectral_gap=ds.spectral_gap.assign_attrs(long_name="spectral gap 1 - rho of W"),
            lr=ds.lr.assign_attrs(long_name="step size"),
        )
        ds["rounds"].attrs["long_name"] = "rounds to eps"
        plot.phase_diagram(
            ds,
            "rounds",
            x="spectral_gap",
            y="lr",
            ax=axes[1, col],
            log_color=True,
            title=f"{names[method]}: rounds to eps, n = {n_last} (hatched: not reached)",
        )
    fig.savefig(path, dpi=110)


def summary(table: xr.Dataset, tolerance: float, paths: list) -> str:
    parts = []
    for n in table.n.values:
        row = table.sel(n=n)
        x = row["chi"].values
        slopes = {
            "DADAO gradients": power_law(x, row["dadao_grads_to_tol"], None),
            "DADAO communications": power_law(x, row["dadao_comms_to_tol"], None),
            "D-SGD messages": power_law(x, row["dsgd_messages"], None),
            "GT messages": power_law(x, row["gt_messages"], None),
        }
        ring, complete = row.sel(graph="ring"), row.sel(graph="complete")
        parts.append(
            f"n = {int(n)}: log-log slope on sqrt(chi_1 chi_2) (unweighted least squares, "
            "4 graphs): "
            + ", ".join(f"{k} {format_exponent(v)}" for k, v in slopes.items())
            + f"; ring vs complete: DADAO gradients {float(ring.dadao_grads_to_tol):.0f} vs "
            f"{float(complete.dadao_grads_to_tol):.0f}, communications "
            f"{float(ring.dadao_comms_to_tol):.0f} vs {float(complete.dadao_comms_to_tol):.0f}; "
            f"GT gradients {float(ring.gt_gradients):.0f} vs {float(complete.gt_gradients):.0f}"
        )
    return f"wrote {', '.join(str(p) for p in paths)}\ndadao (eps = {tolerance:g}): " + "; ".join(
        parts
    )


EXPERIMENT = experiment(SPEC, run)
