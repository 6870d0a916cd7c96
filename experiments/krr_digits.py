"""Kernel ridge regression learning curves on scikit-learn's digits: theory vs simulation.

The eigensystem of each kernel (RBF and the analytic ReLU NTK) on the whole pool of 1797
digits gives the eigenframework prediction of the test error vs the number of training
samples n (`theorytk.regression.krr_theory`, held-out form). The simulation trains KRR on
random subsets of n digits and tests on the held-out ones, averaged over seeds. The figure
shows both learning curves (log-log) and their relative difference.
"""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.ticker import NullFormatter

from experiments._experiment import Options, experiment, integer_axis, run_simulation, save_both
from experiments._specs import KRR_DIGITS as SPEC
from theorytk import datasets, kernels, plot, regression, sweep

NAME = "krr_digits"
RIDGE = 1e-3  # delta on the unnormalised Gram: nearly ridgeless (the Gram's diagonal is ~1)


# RBF with bandwidth 1 and the NTK of a one-hidden-layer ReLU network (sigma_w^2 = 2, no bias).
KERNELS = {
    "rbf": kernels.RBFKernel(1.0),
    "ntk": kernels.MLPKernel(depth=1, activation="relu", sigma_w=2**0.5),
}


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    x, y = datasets.digits("parity")
    pool = regression.DataPool(x, y)
    n = np.sort(integer_axis(axes, "n")).astype(float)
    fine = np.geomspace(n.min(), n.max(), 40)
    simulations, theories, curves = [], [], []
    with jax.enable_x64(True):
        for label, kernel in KERNELS.items():
            config = regression.KRRConfig(
                pool=pool, kernel=kernel, n_max=int(n.max()), holdout=True
            )
            sim = run_simulation(
                regression.simulate_krr,
                sweep.Grid(n=n, ridge=[RIDGE], seed=range(options.seeds)),
                options,
                f"{NAME}_{label}",
                config=config,
            )
            simulations.append(sim.squeeze("ridge", drop=True))
            both = np.union1d(n, fine)
            th = sweep.run(regression.krr_theory, sweep.Grid(n=both, ridge=[RIDGE]), config=config)
            th = th.squeeze("ridge", drop=True)
            theories.append(th.sel(n=n))
            curves.append(th.sel(n=fine))
    kernel_dim = xr.Variable("kernel", list(KERNELS))
    simulation = xr.concat(simulations, kernel_dim, combine_attrs="drop_conflicts")
    theory = xr.concat(theories, kernel_dim, combine_attrs="drop_conflicts")
    curve = xr.concat(curves, kernel_dim, combine_attrs="drop_conflicts")
    mean = sweep.seed_mean(simulation)
    combined = simulation.assign(
        {f"theory_{name}": theory[name] for name in ("test_mse", "train_mse", "kappa")}
    )
    paths = save_both(combined, options.out, NAME)
    png = options.out / f"{NAME}.png"
    figure(curve, mean, theory, png)
    return summary(theory, mean, paths + [png])


def figure(curve: xr.Dataset, mean: xr.Dataset, theory: xr.Dataset, path) -> None:
    """Learning curves (log-log, theory lines, simulation points) and relative differences."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    plot.overlay(
        curve, mean, x="n", var="test_mse", hue="kernel", ax=left, xscale="log", yscale="log"
    )
    left.set_title("digits parity, KRR (delta = 1e-3): test MSE on held-out digits")
    left.set_ylabel("test MSE")
    left.set_xlabel("n (training samples)")
    rel = mean["test_mse"] / theory["test_mse"] - 1
    err = mean["test_mse_sem"] / theory["test_mse"]
    for i, label in enumerate(rel["kernel"].values):
        right.errorbar(
            rel["n"],
            rel.sel(kernel=label),
            err.sel(kernel=label),
            marker="o",
            capsize=3,
            color=f"C{i}",
            label=label,
        )
    right.axhline(0, color="black", lw=0.8)
    right.axhspan(-0.1, 0.1, color="grey", alpha=0.15, label="+-10%")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(rel["n"].values, [str(int(v)) for v in rel["n"].values])
        ax.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel("n (training samples)")
    right.set_ylabel("simulation / theory - 1")
    right.set_title("relative difference (error bars: 1 SE)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def summary(theory: xr.Dataset, mean: xr.Dataset, paths: list) -> str:
    rel = np.abs(mean["test_mse"] / theory["test_mse"] - 1)
    parts = [
        f"{label}: max {float(rel.sel(kernel=label).max()):.1%}, "
        f"median {float(rel.sel(kernel=label).median()):.1%}"
        for label in rel["kernel"].values
    ]
    n = mean["n"].values
    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"krr_digits: held-out test MSE vs eigenframework theory from the pool eigensystem, "
        f"n = {int(n.min())}..{int(n.max())}, |rel. diff| {'; '.join(parts)}"
    )


EXPERIMENT = experiment(SPEC, run)
