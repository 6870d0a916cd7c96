"""Random-feature ridge regression: test error over (N/n, ridge), "more is better", overfitting.

Linear random features on Gaussian data with a power-law spectrum (lambda_i = v_i^2 = i^-1.5,
label noise 0.1; `theorytk.regression.simulate_linear_rf`) are swept over the number of
features N / n and the ridge delta, next to the eigenframework theory
(`theorytk.regression.linear_rf_theory`, i.e. `rf_risk`). The figure shows

- top: theory | seed-averaged simulation | their gap in standard errors, with the
  interpolation line N = n and the theory's optimal ridge delta*(N) (`optimal_ridge`);
- bottom left: "more is better" (Simon, Karkada, Ghosh & Belkin 2023): the optimal test error
  min_delta test_mse falls with N and with n (theory lines, dotted: N = infinity, i.e. kernel
  ridge regression; simulated points at the theory's delta*);
- bottom middle: test error against N / n at three ridges (double descent at small ridge);
- bottom right: "overfitting is obligatory": the train/test ratio at the optimal ridge of
  noiseless kernel ridge regression on power-law tasks lambda_i = i^-alpha, v_i^2 = i^-beta. For
  beta >= alpha the optimal ridge is 0 (the ratio is 0: interpolation is optimal); for
  beta < alpha it is positive and the ratio falls towards 0 as n grows.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from matplotlib import ticker
from matplotlib.figure import Figure

from experiments._experiment import (
    Experiment,
    Options,
    check_positive,
    integer_sizes,
    run_simulation,
    save_both,
    with_ratio_axis,
)
from theorytk import plot, regression, sweep

NAME = "rf"
DECAY = 1.5  # lambda_i = v_i^2 = i^-DECAY in the simulated task
NOISE = 0.1
# "More is better": feature counts simulated at delta*(N), as multiples of the task's n.
SIM_FEATURES = (0.25, 0.5, 1.0, 2.0, 8.0)
# "Overfitting is obligatory": alpha and the target exponents beta (two below, two above alpha).
ALPHA, BETAS = 1.5, (1.2, 1.4, 1.5, 2.0)


def default_axes(quick: bool) -> dict[str, np.ndarray]:
    size = 10 if quick else 18
    return {
        "n_features_over_n": np.geomspace(0.1, 10.0, size),
        "ridge": np.geomspace(1e-4, 1e2, size),
    }


def task(quick: bool, n_features: int) -> regression.LinearRFConfig:
    """The simulated task: d modes, n samples, up to `n_features` features."""
    d, n = (100, 50) if quick else (200, 100)
    return regression.LinearRFConfig(
        d=d,
        n=n,
        n_features_max=n_features,
        eigen_decay=DECAY,
        target_decay=DECAY,
        noise=NOISE,
    )


def ratio_axis(ds: xr.Dataset, n: int) -> xr.Dataset:
    """Relabel the n_features axis by N / n."""
    return with_ratio_axis(ds, "n_features", n, "n_features_over_n", "N / n (features per sample)")


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    check_positive(axes, ("ridge", "n_features_over_n"))  # N = n is singular at ridge 0
    n = task(options.quick, 1).n
    feats = integer_sizes(axes["n_features_over_n"], n)
    config = task(options.quick, int(feats.max()))
    with jax.enable_x64(True):  # ridges down to 1e-4 at N = n need float64 solves
        grid = {"n_features": feats.astype(float), "ridge": axes["ridge"]}
        simulation = run_simulation(
            regression.simulate_linear_rf,
            sweep.Grid(**grid, seed=range(options.seeds)),
            options,
            NAME,
            config=config,
        )
        theory, slices = theory_grids(config, feats, axes)
        more = more_is_better(config, options)
        overfit = fitting_ratios(options.quick)
    simulation, theory = (ratio_axis(ds, n) for ds in (simulation, theory))
    mean = sweep.seed_mean(simulation)
    combined = simulation.assign(
        {f"theory_{name}": theory[name] for name in ("test_mse", "train_mse")}
    )
    combined = xr.merge([combined, more, overfit], combine_attrs="override")
    paths = save_both(combined, options.out, NAME)
    png = options.out / f"{NAME}.png"
    figure(theory, mean, slices, more, overfit, config, png)
    return summary(theory, mean, more, overfit, paths + [png])


def theory_grids(
    config: regression.LinearRFConfig, feats: np.ndarray, axes: dict[str, np.ndarray]
) -> tuple[xr.Dataset, xr.Dataset]:
    """The theory on the simulated grid, and on a fine N grid at three ridges (smooth lines).

    One sweep (one compilation) over the union of both N grids and all ridges.
    """
    ratios = axes["n_features_over_n"]
    fine = np.geomspace(ratios.min(), ratios.max(), 121) * config.n
    every = np.union1d(fine, feats.astype(float))
    ds = sweep.run(
        regression.linear_rf_theory,
        sweep.Grid(n_features=every, ridge=axes["ridge"]),
        config=config,
        progress=False,
    )
    on_grid = ds.sel(n_features=feats.astype(float))
    slices = ds.sel(n_features=fine, ridge=slice_ridges(axes["ridge"]))
    return on_grid, ratio_axis(slices, config.n)


def slice_ridges(ridges: np.ndarray) -> np.ndarray:
    """Three ridges of the axis: the smallest and those at one and two thirds."""
    size = len(ridges)
    return np.unique(np.sort(ridges)[[0, size // 3, (2 * size) // 3]])


# N standing in for N = infinity (kernel ridge regression): rf_risk differs from krr_risk by
# O(n / N) relative, ~1e-7 here.
N_INFINITE = 1e9


@jax.jit
@jax.vmap
def _rf_optimum(
    lam: jax.Array, v2: jax.Array, n: jax.Array, n_features: jax.Array, noise: jax.Array
):
    return regression.optimal_ridge(lam, v2, n=n, n_features=n_features, noise=noise)


@jax.jit
@jax.vmap
def _krr_optimum(lam: jax.Array, v2: jax.Array, n: jax.Array):
    return regression.optimal_ridge(lam, v2, n=n)


def rf_optima(
    config: regression.LinearRFConfig, n: np.ndarray, n_features: np.ndarray
) -> dict[str, np.ndarray]:
    """`optimal_ridge` of the task's spectrum at each pair (n, N), in one compiled call."""
    n, n_features = np.broadcast_arrays(np.asarray(n, float), np.asarray(n_features, float))
    size = n.size
    out = _rf_optimum(
        jnp.broadcast_to(config.eigenvalues(), (size, config.d)),
        jnp.broadcast_to(config.target_coeffs_sq(), (size, config.d)),
        jnp.asarray(n.ravel()),
        jnp.asarray(n_features.ravel()),
        jnp.full(size, config.noise),
    )
    return {k: np.asarray(out[k]).reshape(n.shape) for k in ("ridge", "test_mse", "fitting_ratio")}


def more_is_better(config: regression.LinearRFConfig, options: Options) -> xr.Dataset:
    """Optimal ridge and test error vs N for n in {n/4, n/2, n, 2n} (theory; the last column is
    N = infinity), and simulations at the theory's delta* at n, N = SIM_FEATURES * n."""
    ns = np.array([config.n // 4, config.n // 2, config.n, 2 * config.n])
    fine = np.append(np.geomspace(5, 20 * config.n, 64), N_INFINITE)
    sim_feats = np.round(np.array(SIM_FEATURES) * config.n)
    # One compiled call: the lines (n x N) and then the simulated points (n, N = sim_feats).
    pairs_n = np.append(np.repeat(ns, fine.size), np.full(sim_feats.size, config.n))
    out = rf_optima(config, pairs_n, np.append(np.tile(fine, ns.size), sim_feats))
    best = {k: v[: -sim_feats.size].reshape(ns.size, fine.size) for k, v in out.items()}
    at_sims = {k: v[-sim_feats.size :] for k, v in out.items()}
    sim = _simulate_at(config, sim_feats, at_sims["ridge"], options)
    pair = ("best_n", "best_n_features")
    return xr.Dataset(
        {
            "best_test_mse": (pair, best["test_mse"][:, :-1]),
            "best_ridge": (pair, best["ridge"][:, :-1]),
            "best_fitting_ratio": (pair, best["fitting_ratio"][:, :-1]),
            "best_test_mse_krr": ("best_n", best["test_mse"][:, -1]),
            "sim_ridge": ("sim_n_features", at_sims["ridge"]),
            "sim_best_test_mse": ("sim_n_features", sim["test_mse"].values),
            "sim_best_test_mse_sem": ("sim_n_features", sim["test_mse_sem"].values),
            "sim_best_theory": ("sim_n_features", at_sims["test_mse"]),
        },
        coords={
            "best_n": ns,
            "best_n_features": fine[:-1],
            "sim_n_features": sim_feats,
            "sim_n": config.n,
        },
    )


def _simulate_at(
    config: regression.LinearRFConfig,
    n_features: np.ndarray,
    ridges: np.ndarray,
    options: Options,
) -> xr.Dataset:
    """Seed mean and standard error of the simulation at the pairs (N, ridge)."""
    config = regression.LinearRFConfig(
        d=config.d,
        n=config.n,
        n_features_max=int(n_features.max()),
        eigen_decay=config.eigen_decay,
        target_decay=config.target_decay,
        noise=config.noise,
    )
    table_n, table_ridge = jnp.asarray(n_features, float), jnp.asarray(ridges)

    def simulate(params: dict[str, jax.Array], key: jax.Array, *, config) -> dict[str, jax.Array]:
        ridge = jnp.interp(params["n_features"], table_n, table_ridge)  # exact at the nodes
        return regression.simulate_linear_rf(
            {"n_features": params["n_features"], "ridge": ridge}, key, config=config
        )

    ds = sweep.run(
        simulate,
        sweep.Grid(n_features=n_features.astype(float), seed=range(options.seeds)),
        key=jax.random.key(1),
        config=config,
        chunk_size=options.chunk_size,
        progress=False,
    )
    return sweep.seed_mean(ds)


def fitting_ratios(quick: bool) -> xr.Dataset:
    """train/test at the optimal ridge of noiseless kernel ridge regression vs n, for
    lambda_i = i^-ALPHA and v_i^2 = i^-beta (beta in BETAS), P modes (theory)."""
    modes = 2000 if quick else 5000
    ns = np.geomspace(10, modes / 5, 8 if quick else 14)
    i = np.arange(1, modes + 1, dtype=float)
    betas = np.array(BETAS)
    beta_, n_ = (a.ravel() for a in np.meshgrid(betas, ns, indexing="ij"))
    out = _krr_optimum(
        jnp.broadcast_to(i**-ALPHA, (beta_.size, modes)),
        jnp.asarray(i[None, :] ** -beta_[:, None]),
        jnp.asarray(n_),
    )
    dims, shape = ("beta", "fit_n"), (len(betas), len(ns))
    return xr.Dataset(
        {
            "optimal_fitting_ratio": (dims, np.asarray(out["fitting_ratio"]).reshape(shape)),
            "optimal_ridge_krr": (dims, np.asarray(out["ridge"]).reshape(shape)),
        },
        coords={"beta": betas, "fit_n": ns},
        attrs={"alpha": ALPHA, "modes": modes},
    )


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
    plot.phase_diagram(
        gap,
        "gap",
        x="n_features_over_n",
        y="ridge",
        ax=axes[0, 2],
        cmap="RdBu_r",
        vmin=-4,
        vmax=4,
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
        f"d = {config.d}, n = {config.n}, lambda_i = v_i^2 = i^-{DECAY:g}, noise {config.noise:g}"
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
    for beta, marker in zip(overfit["beta"].values, "os^x", strict=True):
        at = overfit.sel(beta=beta)
        relation = "<" if beta < ALPHA else ">="
        zero = bool(np.all(at["optimal_ridge_krr"].values == 0))
        note = ", optimal ridge 0" if zero else ""
        ax.plot(
            at["fit_n"],
            at["optimal_fitting_ratio"],
            marker=marker,
            markersize=7 if beta < ALPHA else 9,
            linestyle="-" if beta < ALPHA else "--",
            label=f"beta = {beta:g} {relation} alpha{note}",
        )
    ax.set_xscale("log")
    ax.set_ylim(bottom=-0.01)
    ax.set_xlabel("n (training samples)")
    ax.set_ylabel("train MSE / test MSE at the optimal ridge")
    ax.set_title(
        f"overfitting is obligatory: KRR, lambda_i = i^-{ALPHA:g}, v_i^2 = i^-beta,\n"
        f"no noise, {overfit.attrs['modes']} modes (theory)"
    )
    ax.legend(fontsize=8)


def summary(
    theory: xr.Dataset, mean: xr.Dataset, more: xr.Dataset, overfit: xr.Dataset, paths: list
) -> str:
    ok = (mean["status"] == sweep.Status.OK) & np.isfinite(mean["test_mse_sem"])
    z = np.abs(gap_in_sem(theory, mean)["gap"]).where(ok)
    rel = np.abs(mean["test_mse"] / theory["test_mse"] - 1).where(ok)
    rising = float(more["best_test_mse"].diff("best_n_features").max())
    sim_z = (
        np.abs(more["sim_best_test_mse"] - more["sim_best_theory"]) / more["sim_best_test_mse_sem"]
    )
    last = overfit.isel(fit_n=-1)
    ratios = ", ".join(
        f"beta {b:g}: {float(r):.3f}"
        for b, r in zip(last["beta"].values, last["optimal_fitting_ratio"].values, strict=True)
    )
    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"rf: theory vs simulation over {int(ok.sum())} cells: max |gap| {float(z.max()):.2f} SE "
        f"({float((z < 3).sum() / ok.sum()):.0%} within 3 SE), median |rel. diff| "
        f"{float(rel.median()):.1%}; {int((~ok).sum())} cells not compared; optimal test MSE "
        f"{'non-increasing' if rising <= 0 else f'rises by up to {rising:.2e}'} in N "
        f"(theory), simulated at delta* within {float(sim_z.max()):.2f} SE; fitting ratio at "
        f"n = {float(last['fit_n']):.0f} (alpha {ALPHA:g}, no noise): {ratios}"
    )


EXPERIMENT = Experiment(
    name=NAME,
    summary="random-feature ridge regression over (N/n, ridge): theory vs simulation, "
    "more is better, obligatory overfitting",
    axes=default_axes,
    run=run,
    default_seeds=lambda quick: 4 if quick else 8,
)
