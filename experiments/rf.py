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
  beta < alpha it is positive and the ratio falls towards 0 as n grows. Dotted: the paper's
  noisy case, label noise of variance RELATIVE_NOISE times the noiseless ridgeless test error
  at the same n (`regression.noisy_optima`): the optimal ridge is positive, but for
  beta >= alpha the train error stays a small fraction of the test error.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
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
from experiments._rf_figure import figure, gap_in_sem
from experiments._specs import RF as SPEC
from experiments._specs import rf_task
from theorytk import regression, sweep

NAME = "rf"
DECAY = 1.5  # lambda_i = v_i^2 = i^-DECAY in the simulated task
NOISE = 0.1
# "More is better": feature counts simulated at delta*(N), as multiples of the task's n.
SIM_FEATURES = (0.25, 0.5, 1.0, 2.0, 8.0)
# "Overfitting is obligatory": alpha and the target exponents beta (two below, two above alpha).
ALPHA, BETAS = 1.5, (1.2, 1.4, 1.5, 2.0)
RELATIVE_NOISE = 1.0  # noisy case: label-noise variance / noiseless ridgeless test error at n


def task(quick: bool, n_features: int) -> regression.LinearRFConfig:
    """The simulated task: d modes, n samples, up to `n_features` features."""
    d, n = rf_task(quick)
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


def more_is_better(config: regression.LinearRFConfig, options: Options) -> xr.Dataset:
    """The "more is better" panel: optimal ridge and test error vs N for n in {n/4, n/2, n, 2n}
    and at N = infinity (`regression.more_is_better`), and simulations at the theory's delta*
    at n, N = SIM_FEATURES * n."""
    lam, v2 = config.eigenvalues(), config.target_coeffs_sq()
    ns = np.array([config.n // 4, config.n // 2, config.n, 2 * config.n])
    fine = np.geomspace(5, 20 * config.n, 64)
    best = regression.more_is_better(lam, v2, n=ns, n_features=fine, noise=config.noise)
    sim_feats = np.round(np.array(SIM_FEATURES) * config.n)
    at_sims = regression.rf_optima(lam, v2, n=config.n, n_features=sim_feats, noise=config.noise)
    sim = _simulate_at(config, sim_feats, at_sims["ridge"], options)
    names = ("ridge", "test_mse", "fitting_ratio", "test_mse_krr")
    best = best[list(names)].rename({k: f"best_{k}" for k in (*names, "n", "n_features")})
    return best.assign(
        sim_ridge=("sim_n_features", at_sims["ridge"]),
        sim_best_test_mse=("sim_n_features", sim["test_mse"].values),
        sim_best_test_mse_sem=("sim_n_features", sim["test_mse_sem"].values),
        sim_best_theory=("sim_n_features", at_sims["test_mse"]),
    ).assign_coords(sim_n_features=sim_feats, sim_n=config.n)


def _simulate_at(
    config: regression.LinearRFConfig, n_features: np.ndarray, ridges: np.ndarray, options: Options
) -> xr.Dataset:
    """Seed mean and standard error of the simulation at the pairs (N, ridge)."""
    config = dataclasses.replace(config, n_features_max=int(n_features.max()))
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
    out = regression.rf_optima(i**-ALPHA, i ** -betas[:, None, None], n=ns)  # N = inf: KRR
    noisy = [
        regression.noisy_optima(i**-ALPHA, i**-beta, n=ns, relative_noise=[RELATIVE_NOISE])
        for beta in betas
    ]
    dims = ("beta", "fit_n")
    return xr.Dataset(
        {
            "optimal_fitting_ratio": (dims, out["fitting_ratio"]),
            "optimal_ridge_krr": (dims, out["ridge"]),
            "noisy_fitting_ratio": (dims, [ds["fitting_ratio"].values[0] for ds in noisy]),
        },
        coords={"beta": betas, "fit_n": ns},
        attrs={"alpha": ALPHA, "modes": modes, "relative_noise": RELATIVE_NOISE},
    )


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
        f"beta {b:g}: {float(r):.3f} ({float(q):.3f})"
        for b, r, q in zip(
            last["beta"].values,
            last["optimal_fitting_ratio"].values,
            last["noisy_fitting_ratio"].values,
            strict=True,
        )
    )
    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"rf: theory vs simulation over {int(ok.sum())} cells: max |gap| {float(z.max()):.2f} SE "
        f"({float((z < 3).sum() / ok.sum()):.0%} within 3 SE), median |rel. diff| "
        f"{float(rel.median()):.1%}; {int((~ok).sum())} cells not compared; optimal test MSE "
        f"{'non-increasing' if rising <= 0 else f'rises by up to {rising:.2e}'} in N "
        f"(theory), simulated at delta* within {float(sim_z.max()):.2f} SE; fitting ratio at "
        f"n = {float(last['fit_n']):.0f} (alpha {ALPHA:g}, no noise (relative noise "
        f"{RELATIVE_NOISE:g})): {ratios}"
    )


EXPERIMENT = experiment(SPEC, run)
