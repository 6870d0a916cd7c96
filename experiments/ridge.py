"""Ridge regression double descent: test error over (n/d, lam), theory beside simulation.

lam is the mean-loss ridge of (1/n) ||X w - y||^2 + lam ||w||^2 (delta = n lam on the Gram
matrix). The eigenframework theory (`theorytk.regression.ridge_theory`) and the seed-averaged
simulation (`theorytk.regression.simulate_ridge`) are swept over the same grid; the figure
shows both with a shared colour scale, their relative difference, and the interpolation line
n = d where the ridgeless test error diverges.
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr

from experiments._experiment import (
    Options,
    experiment,
    integer_sizes,
    run_simulation,
    save_both,
    with_ratio_axis,
)
from experiments._specs import RIDGE as SPEC
from experiments._specs import ridge_dimension
from theorytk import plot, regression, sweep

NAME = "ridge"


def task(quick: bool, n_over_d: np.ndarray) -> regression.RidgeConfig:
    d = ridge_dimension(quick)
    n_max = int(np.ceil(n_over_d.max() * d))
    return regression.RidgeConfig(d=d, n_max=n_max, noise=0.25, signal=1.0)


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    config = task(options.quick, axes["n_over_d"])
    n = integer_sizes(axes["n_over_d"], config.d)
    with jax.enable_x64(True):  # lam down to 1e-4 near n = d needs float64 solves
        simulation = run_simulation(
            regression.simulate_ridge,
            sweep.Grid(n=n.astype(float), lam=axes["lam"], seed=range(options.seeds)),
            options,
            NAME,
            config=config,
        )
        theory = sweep.run(
            regression.ridge_theory, sweep.Grid(n=n.astype(float), lam=axes["lam"]), config=config
        )
    simulation, theory = (
        with_ratio_axis(ds, "n", config.d, "n_over_d", "n / d") for ds in (simulation, theory)
    )
    for ds in (simulation, theory):
        ds["lam"].attrs["long_name"] = "lam (mean-loss ridge)"
    mean = sweep.seed_mean(simulation)
    for ds in (mean, theory):
        ds["test_mse"].attrs["long_name"] = "test MSE"
    combined = simulation.assign(
        {f"theory_{name}": theory[name] for name in ("test_mse", "train_mse", "kappa")}
    )
    paths = save_both(combined, options.out, NAME)
    figure = plot.compare(
        theory,
        mean,
        "test_mse",
        x="n_over_d",
        y="lam",
        log_color=True,
        lines=[([1.0, 1.0], [axes["lam"].min(), axes["lam"].max()], "n = d")],
        title=f"ridge regression, d = {config.d}, noise = {config.noise}: test MSE",
        path=options.out / f"{NAME}.png",
    )
    del figure
    return summary(theory, mean, paths + [options.out / f"{NAME}.png"])


def summary(theory: xr.Dataset, mean: xr.Dataset, paths: list) -> str:
    ok = (mean["status"] == sweep.Status.OK) & np.isfinite(theory["test_mse"])
    z = np.abs(mean["test_mse"] - theory["test_mse"]) / mean["test_mse_sem"]
    rel = np.abs(mean["test_mse"] / theory["test_mse"] - 1)
    smallest = theory["test_mse"].isel(lam=0)
    peak = float(smallest["n_over_d"][int(smallest.argmax("n_over_d"))])
    failed = int((~ok).sum())
    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"ridge: theory vs simulation over {int(ok.sum())} cells: median |rel. diff| "
        f"{float(rel.where(ok).median()):.1%}, median |diff|/SEM {float(z.where(ok).median()):.2f}"
        f"; {failed} cells not compared (failed points); at the smallest lam the test error "
        f"peaks at n/d = {peak:.2f} (double descent)"
    )


EXPERIMENT = experiment(SPEC, run)
