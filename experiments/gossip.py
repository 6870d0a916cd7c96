"""Decentralized optimization: D-SGD vs gradient tracking over (spectral gap, step), and
DFedSAM-MGS test accuracy against the number of gossip steps Q on non-IID digits.

Part 1 sweeps D-SGD (ATC) and gradient tracking (DIGing) on heterogeneous quadratics over a
family of 16-node topologies (their spectral gaps are the x axis) and the step size; the
exact linear-system theory (`gossip.quadratic_theory`) draws the stability boundary (the
iteration's spectral radius = 1). Part 2 runs DFedSAM-MGS (an equinox MLP per node, 16
nodes on a ring, independent initialisations) on scikit-learn's digits split by
Dirichlet(beta), with plain and variance-corrected gossip averaging.
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from experiments._experiment import Options, experiment, run_simulation, save_both
from experiments._gossip_stats import mean_interval
from experiments._specs import GOSSIP as SPEC
from theorytk import gossip, plot, sweep

NAME = "gossip"
GAP_FLOOR = 1e-16  # float64 rounding: smaller optimality gaps are drawn at this floor


def configs(quick: bool, axes: dict[str, np.ndarray]):
    """(D-SGD config, GT config, digits config) of the default or quick run."""
    topologies = (
        ("lazy_ring", "ring", "torus", "exponential", "complete")
        if quick
        else (
            "lazy_ring",
            "ring",
            "star",
            "lazy_torus",
            "lazy_exponential",
            "torus",
            "exponential",
            "complete",
        )
    )
    steps = 300 if quick else 1000
    quad = [
        gossip.QuadraticConfig(method=m, steps=steps, topologies=topologies) for m in ("dsgd", "gt")
    ]
    digits = gossip.DigitsConfig(
        betas=tuple(float(b) for b in axes["beta"]),
        rounds=20 if quick else 60,
        max_gossip_steps=int(axes["Q"].max()),
    )
    return quad[0], quad[1], digits


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    dsgd_config, gt_config, digits_config = configs(options.quick, axes)
    gaps = np.sort(dsgd_config.family()[0])
    grid = sweep.Grid(spectral_gap=gaps, lr=axes["lr"])
    results = {}
    with jax.enable_x64(True):  # GT converges to the exact optimum: float64 shows it
        for name, config in (("dsgd", dsgd_config), ("gt", gt_config)):
            sim = run_simulation(
                gossip.quadratic_simulate, grid, options, f"{NAME}_{name}", config=config
            )
            theory = sweep.run(gossip.quadratic_theory, grid, config=config, progress=False)
            results[name] = (sim, theory, config.steps)
    digits = run_simulation(
        gossip.digits_simulate,
        sweep.Grid(beta=axes["beta"], Q=axes["Q"], corrected=[0.0, 1.0], seed=range(options.seeds)),
        options,
        f"{NAME}_digits",
        config=digits_config,
    )
    combined = xr.Dataset(
        {
            f"{m}_{kind}_{var}": ds[var]
            for m, triple in results.items()
            for kind, ds in zip(("sim", "theory"), triple[:2], strict=True)
            for var in ds.data_vars
        }
    )
    paths = save_both(combined, options.out, NAME)
    paths += save_both(digits, options.out, f"{NAME}_digits")
    figure(results, digits, options.out / f"{NAME}.png")
    return summary(results, digits, paths + [options.out / f"{NAME}.png"])


def figure(results: dict, digits: xr.Dataset, path) -> None:
    """Four phase diagrams (gap and consensus for D-SGD and GT) and accuracy vs Q panels."""
    fig = Figure(figsize=(17, 9.5), layout="constrained")
    axes = fig.subplots(2, 3)
    titles = {"dsgd": "D-SGD (ATC)", "gt": "gradient tracking"}
    labels = {"gap": "F(xbar) - F*", "consensus": "consensus error"}
    for col, (name, (sim, theory, _)) in enumerate(results.items()):
        for row, var in enumerate(("gap", "consensus")):
            shown = sim.assign({var: np.maximum(sim[var], GAP_FLOOR)}).assign_coords(
                spectral_gap=sim.spectral_gap.assign_attrs(long_name="spectral gap 1 - rho of W"),
                lr=sim.lr.assign_attrs(long_name="step size"),
            )
            shown[var].attrs["long_name"] = labels[var]
            plot.phase_diagram(
                shown,
                var,
                x="spectral_gap",
                y="lr",
                ax=axes[row, col],
                log_color=True,
                contour=theory["spectral_radius"],
                levels=[1.0],
                contour_label="theory: spectral radius = 1",
                title=f"{titles[name]}: final {labels[var]}",
            )
    kinds = {0.0: "plain", 1.0: "variance-corrected"}
    digits = digits.assign_coords(Q=digits.Q.assign_attrs(long_name="gossip steps per round Q"))
    digits["accuracy"].attrs["long_name"] = "test accuracy of the average model"
    for row, corrected in enumerate((0.0, 1.0)):
        plot.overlay(
            None,
            digits.sel(corrected=corrected),
            x="Q",
            var="accuracy",
            hue="beta",
            ax=axes[row, 2],
            xscale="linear",
            title=f"DFedSAM-MGS, digits: {kinds[corrected]}",
        )
        axes[row, 2].margins(y=0.15)
    fig.savefig(path, dpi=120)


def stability_agreement(sim: xr.Dataset, theory: xr.Dataset, steps: int) -> tuple[int, int]:
    """(cells where simulation and theory agree on stability, cells compared).

    Compared: theory-stable cells (radius < 1) and cells whose radius^steps exceeds the
    divergence factor 100-fold (so the simulation must have been flagged DIVERGED).
    """
    radius = theory["spectral_radius"]
    grows = radius**steps > 100 * gossip.DIVERGED_FACTOR
    stable = radius < 1
    diverged = sim["status"] == sweep.Status.DIVERGED
    agree = (stable & ~diverged) | (grows & diverged)
    return int(agree.sum()), int((stable | grows).sum())


def summary(results: dict, digits: xr.Dataset, paths: list) -> str:
    parts = []
    for name, (sim, theory, steps) in results.items():
        agree, total = stability_agreement(sim, theory, steps)
        parts.append(f"{name}: stability matches theory in {agree}/{total} cells")
    stable = (results["dsgd"][1]["spectral_radius"] < 1) & (results["gt"][1]["spectral_radius"] < 1)
    med = {n: float(results[n][0]["gap"].where(stable).median()) for n in results}
    acc = digits["accuracy"]
    gain_q = mean_interval((acc.isel(Q=-1) - acc.isel(Q=0)).values.ravel())
    gain_vc = mean_interval((acc.sel(corrected=1.0) - acc.sel(corrected=0.0)).values.ravel())
    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"gossip: {'; '.join(parts)}; median final gap where both are stable: D-SGD "
        f"{med['dsgd']:.2e} vs GT {med['gt']:.2e}; DFedSAM-MGS test accuracy "
        f"{float(acc.min()):.3f}-{float(acc.max()):.3f}, Q = {int(acc.Q[-1])} minus "
        f"{int(acc.Q[0])}: {float(gain_q[0]):+.3f} +- {float(gain_q[1]):.3f}, variance-corrected "
        f"minus plain: {float(gain_vc[0]):+.3f} +- {float(gain_vc[1]):.3f} (paired over seeds "
        "and cells, 95% t intervals; the dfedsam and vanishing_variance experiments measure "
        "these effects with more seeds)"
    )


EXPERIMENT = experiment(SPEC, run)
