"""SGD noise in a deep network: the (alpha, T) phase diagram and T_c(P), chi-data and digits.

A fully connected GELU network (`theorytk.perceptron.simulate_network`; by default depth 3,
width 32, hidden layers 1/sqrt(fan_in), readout 1/h, centred output, hinge loss with margin
1/alpha) trained by SGD with batches of B = 16 until it fits P training points, on chi-data
(chi = 0, d = 16) and on the scikit-learn digits (parity labels), as in Sclocchi, Geiger &
Wyart (ICML 2023, Fig. 1 and 3) at CPU scale. Width, depth, batch, the lazy alpha, the P list
and the rest are settings (`--set width=128 --set depth=5 ...`).

1. Phase diagram at P = `diagram_P` over (alpha, T = eta / (h B)): test error and NTK change
   as colour, with the lazy/feature boundary alpha*(T) (relative NTK change = 1/2) and the
   plateau-ratio T_c(alpha) (||w - w_0|| / ||w_0|| twice its smallest-T value). Hatched:
   diverged or step budget.
2. T_c(P) at the lazy `alpha`, the paper's criterion: the T at which ||w - w_0|| / ||w_0||
   (and the NTK change) reaches fixed levels, each fitted as T_c ~ P^-a; the exponent a that
   collapses ||w - w_0|| / ||w_0|| against T P^a (bootstrap over seeds); and, labelled as an
   alternative, the plateau-ratio T_c(P). The digits give one decade of P at most (1797
   images, 512 of them held out), so P > 1285 runs on chi-data only.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from experiments import _sgd_noise_figure as figure
from experiments._experiment import (
    Options,
    end_slopes,
    experiment,
    format_exponent,
    format_local,
    local_power_laws,
    power_law,
    run_simulation,
    save_both,
)
from experiments._specs import DIGITS_TEST, DIGITS_TRAIN, data_sets
from experiments._specs import SGD_NOISE as SPEC
from theorytk import fit, perceptron, sweep

NAME = "sgd_noise"
LAZY_LEVEL = 0.5  # lazy/feature boundary: relative NTK change = 1/2
TC_FACTOR = 2.0  # plateau-ratio T_c: ||w - w0|| reaches TC_FACTOR times its smallest-T value


def config(settings: dict, data: str, size: int, budget: int) -> perceptron.NetworkConfig:
    """The network task on `size` rows; the check of the stopping rule every ~1/4 epoch."""
    return perceptron.NetworkConfig(
        h=settings["width"],
        L=settings["depth"],
        P=size,
        B=settings["batch"],
        data=data,
        d=settings["d"] if data == "chi" else None,
        chi=settings["chi"],
        budget=budget,
        P_test=DIGITS_TEST if data == "digits" else 2048,
        n_ntk=32,
        check_every=check_interval(settings, size),
    )


def lazy_budget(settings: dict, T: np.ndarray, size: int) -> int:
    """Steps for the T_c(P) sweep: lazy training took 2500 (T = 1e-4) and 1700 (T = 1e-3)
    steps at P = 1024, alpha = 4096, and ~95 times more at P = 16384 (~P^1.65, measured):
    4x that, scaled as 1 / (alpha T) below T = 1e-4; at least 30000."""
    steps = 1000 / (settings["alpha"] * T.min()) * (size / 1024) ** 1.7
    return max(30_000, int(np.ceil(4 * steps)))


def check_interval(settings: dict, size: int) -> int:
    """SGD steps between checks of the stopping rule: ~1/4 epoch, at least 32."""
    return max(32, size // settings["batch"] // 4)


def sizes_for(settings: dict, data: str) -> np.ndarray:
    """The sorted sizes of the `P` setting that `data` has rows for (checked by the spec)."""
    sizes = np.sort(np.asarray(settings["P"], int))
    limit = DIGITS_TRAIN if data == "digits" else np.inf
    return sizes[sizes <= limit]


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    settings = options.settings
    datas = data_sets(settings)
    diagrams = {d: diagram(d, axes, settings, options) for d in datas if settings["diagram_P"]}
    scalings = {data: lazy_sweep(data, axes, settings, options) for data in datas}
    means = {data: sweep.seed_mean(ds) for data, ds in diagrams.items()}
    lines = {data: boundaries(mean) for data, mean in means.items()}
    results = {data: critical(ds, settings) for data, ds in scalings.items()}
    combined = merge(diagrams, scalings, results, settings)
    paths = save_both(combined, options.out, NAME)
    figure_path = options.out / f"{NAME}.png"
    figure.draw(means, lines, scalings, results, settings, figure_path)
    return summary(means, results, settings, paths + [figure_path])


def diagram(data: str, axes: dict, settings: dict, options: Options) -> xr.Dataset:
    size = int(settings["diagram_P"])
    grid = sweep.Grid(T=axes["T"], alpha=axes["alpha"], P=[size], seed=range(options.seeds))
    budget = 8_000 if options.quick else 60_000
    task = config(settings, data, size, budget)
    ds = run_simulation(perceptron.simulate_network, grid, options, f"{NAME}_{data}", config=task)
    return ds.isel(P=0, drop=True)


def lazy_sweep(data: str, axes: dict, settings: dict, options: Options) -> xr.Dataset:
    """(P, T, seed) at the lazy alpha: one compiled task (P traced, padded to the group's
    largest) per check interval; the same seeds for every P (nested data sets)."""
    sizes = sizes_for(settings, data)
    intervals = np.array([check_interval(settings, size) for size in sizes])
    parts = []
    for interval in np.unique(intervals):
        group = sizes[intervals == interval]
        largest = int(sizes.max() if data == "digits" else group.max())  # digits: one test set
        budget = lazy_budget(settings, axes["T_lazy"], int(group.max()))
        task = config(settings, data, largest, budget)
        grid = sweep.Grid(
            T=axes["T_lazy"],
            P=group.astype(float),
            alpha=[settings["alpha"]],
            seed=range(options.seeds),
        )
        store = f"{NAME}_{data}_lazy_{int(group.max())}"
        parts.append(run_simulation(perceptron.simulate_network, grid, options, store, config=task))
    return xr.concat(parts, "P").isel(alpha=0, drop=True)


def critical(ds: xr.Dataset, settings: dict) -> dict:
    """T_c(P) at fixed levels of dw_rel and ntk_change, the collapse exponent, and the
    plateau-ratio T_c(P), with their power-law fits."""
    ok = ds["status"] == sweep.Status.OK
    per_seed = {
        name: ds[name].where(ok).transpose("seed", "P", "T") for name in ("dw_rel", "ntk_change")
    }
    mean = {name: value.mean("seed") for name, value in per_seed.items()}
    sizes, T = ds["P"].values, ds["T"].values
    levels = {}
    for name, key in (("dw_rel", "dw_levels"), ("ntk_change", "ntk_levels")):
        for level in settings[key]:
            tc = perceptron.level_temperatures(mean[name].values, T, level)
            levels[(name, level)] = (tc, power_law(sizes, tc, None))
    # The noise-induced weight change: dw_rel minus its value at the smallest T (the T -> 0
    # reference), seed by seed, with the standard error of the seed mean.
    excess = per_seed["dw_rel"] - per_seed["dw_rel"].isel(T=0)
    n_ok = excess.count("seed")
    excess_mean = excess.mean("seed")
    excess_sem = excess.std("seed", ddof=1) / np.sqrt(n_ok)
    noise_levels = {}
    rows = np.arange(sizes.size, dtype=float)
    for level in settings["dw_levels"]:
        # interpolated linearly in the excess (it starts at 0) and in log T
        def crossing(curve: xr.DataArray, level: float = level) -> np.ndarray:
            return fit.critical_line(rows, T, curve.values, level)

        tc = crossing(excess_mean)
        # the crossings of mean +- sem bracket T_c (an upper curve crosses at a lower T)
        low, high = crossing(excess_mean + excess_sem), crossing(excess_mean - excess_sem)
        noise_levels[level] = (tc, low, high, power_law(sizes, tc, None))
    collapse = perceptron.collapse_exponent(
        per_seed["dw_rel"].values, T, sizes, floor=settings["collapse_floor"]
    )
    ratio = mean["dw_rel"] / mean["dw_rel"].isel(T=0)
    plateau = fit.critical_line(sizes, T, ratio.values, TC_FACTOR)
    return {
        "levels": levels,
        "noise_levels": noise_levels,
        "baseline": (mean["dw_rel"].isel(T=0), excess_sem.isel(T=-1)),
        "collapse": collapse,
        "plateau": (plateau, power_law(sizes, plateau, None)),
        "mean": mean,
        "sem": ds["dw_rel"].where(ok).std("seed") / np.sqrt(ds.sizes["seed"]),
    }


def boundaries(mean: xr.Dataset) -> dict[str, xr.DataArray]:
    """alpha*(T) where the NTK change crosses LAZY_LEVEL (in log), and the plateau-ratio
    T_c(alpha)."""
    ok = mean["status"] == sweep.Status.OK
    change = np.log(mean["ntk_change"].where(ok)).transpose("T", "alpha")
    lazy = fit.critical_line("T", "alpha", change, np.log(LAZY_LEVEL))
    weights = mean["dw_rel"].where(ok).transpose("alpha", "T")
    ratio = weights / weights.isel(T=0)
    tc = fit.critical_line("alpha", "T", ratio, TC_FACTOR)
    return {
        "alpha_star": xr.DataArray(lazy, coords={"T": mean["T"]}, dims=("T",)),
        "T_c": xr.DataArray(tc, coords={"alpha": mean["alpha"]}, dims=("alpha",)),
    }


def merge(diagrams: dict, scalings: dict, results: dict, settings: dict) -> xr.Dataset:
    """One dataset: each sweep's variables prefixed, and the T_c(P) of every criterion."""
    combined = xr.Dataset()
    for kind, group in (("diagram", diagrams), ("lazy", scalings)):
        for data, ds in group.items():
            for name in ds.data_vars:
                dims = {dim: f"{data}_{kind}_{dim}" for dim in ds[name].dims}
                combined[f"{data}_{kind}_{name}"] = ds[name].rename(dims)
    for data, result in results.items():
        dims = (f"{data}_lazy_P",)
        for (name, level), (tc, _) in result["levels"].items():
            combined[f"{data}_T_c_{name}_{level:g}"] = (dims, tc)
        for level, (tc, low, high, _) in result["noise_levels"].items():
            combined[f"{data}_T_c_dw_noise_{level:g}"] = (dims, tc)
            combined[f"{data}_T_c_dw_noise_{level:g}_low"] = (dims, low)
            combined[f"{data}_T_c_dw_noise_{level:g}_high"] = (dims, high)
        combined[f"{data}_T_c_plateau_ratio"] = (dims, result["plateau"][0])
        combined.attrs[f"{data}_collapse_a"] = list(result["collapse"])
    combined.attrs.update({k: str(v) for k, v in settings.items()})
    return combined


def bends(sizes: np.ndarray, tc: np.ndarray) -> list[str]:
    """Lines on how log T_c(log P) bends: log-space exponents per decade of P (with two or
    more decades) and the local exponents at both ends of a fit with a curvature term (with
    six or more P)."""
    if np.sum(np.isfinite(tc)) < 6:
        return []
    out = []
    windows = local_power_laws(sizes, tc)
    if len(windows) > 1:
        out.append(f"    per decade: {format_local(windows, 'P')}")
    ends = end_slopes(sizes, tc)
    if ends is not None:
        first, last, curvature = ends
        out.append(
            f"    with a curvature term: local exponent at P = {np.nanmin(sizes):g}: "
            f"{format_exponent(first)}; at P = {np.nanmax(sizes):g}: {format_exponent(last)}; "
            f"curvature {format_exponent(curvature)}"
        )
    return out


def summary(means: dict, results: dict, settings: dict, paths: list) -> str:
    out = [f"wrote {', '.join(str(p) for p in paths)}"]
    for data, mean in means.items():
        ok = mean["status"] == sweep.Status.OK
        best = mean["test_error"].where(ok)
        where = best.argmin(...)
        out.append(
            f"{data} diagram: best test error {float(best.min()):.3f} at alpha = "
            f"{float(mean['alpha'][where['alpha']]):g}, T = {float(mean['T'][where['T']]):.2g}; "
            f"{int((~ok).sum())} cells hatched"
        )
    for data, result in results.items():
        sizes = result["mean"]["dw_rel"]["P"].values
        listed = ", ".join(f"{p:g}" for p in sizes)
        rows = [f"{data} T_c(P = {listed}) at alpha = {settings['alpha']:g}:"]
        for (name, level), (tc, law) in result["levels"].items():
            values = ", ".join(f"{v:.2g}" for v in tc)
            rows.append(f"  {name} = {level:g}: T_c = {values}; T_c ~ P^{format_exponent(law)}")
            rows.extend(bends(sizes, tc))
        baseline = ", ".join(f"{v:.2g}" for v in result["baseline"][0].values)
        rows.append(
            f"  noise-induced dw_rel - dw_rel(T = {result['mean']['dw_rel']['T'].values[0]:.2g}) "
            f"(baseline dw_rel there: {baseline}):"
        )
        for level, (tc, low, high, law) in result["noise_levels"].items():
            values = ", ".join(
                f"{v:.2g} [{lo:.2g}, {hi:.2g}]" for v, lo, hi in zip(tc, low, high, strict=True)
            )
            rows.append(
                f"  noise part = {level:g}: T_c [+-1 SE] = {values}; T_c ~ P^{format_exponent(law)}"
            )
            rows.extend(bends(sizes, tc))
        a, low, high = result["collapse"]
        resolved = bool(np.isfinite([a, low, high]).all() and 0 < low <= a <= high)
        verdict = "" if resolved else " (not resolved: the interval includes 0)"
        rows.append(
            f"  collapse of dw_rel vs T P^a: a = {a:.3f} [95% bootstrap {low:.3f}, {high:.3f}]"
            f"{verdict}"
        )
        plateau = format_exponent(result["plateau"][1])
        rows.append(f"  (alternative) plateau ratio {TC_FACTOR:g}: T_c ~ P^{plateau}")
        out.extend(rows)
    return "\n".join(out)


EXPERIMENT = experiment(SPEC, run)
