"""The perceptron under SGD noise: test error and weight change over (alpha T, P), for chi-data.

For chi in {0, 1, 3}: the perceptron of `theorytk.perceptron` trained by SGD (by default the
authors' batch size B = 2, d = 16; `--set batch=16` for larger batches) until it fits P
training points, swept over alpha T (at alpha = 1: every alpha-rescaled
observable depends on (alpha, T) only through alpha T) and P, several seeds per cell. A
full-batch gradient-descent sweep at a small step gives the noiseless (alpha T -> 0)
reference dw_1^GD(P). The crossover temperature T_c(P) is where the noise starts to change
the trained perceptron: the alpha T at which the seed-mean dw_1 reaches twice dw_1^GD(P).

The figure has one row per chi: the test error (closed form at the trained weights) and
alpha ||w - w_0|| as colour over (alpha T, P) with the T_c(P) line, and the scaling of
dw_1^GD, dw_1/T and ||dw_perp|| / (T sqrt(d)) in the noise-dominated regime (the largest
alpha T, where runs last many epochs) and T_c with P, with fitted exponents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from experiments._experiment import (
    Options,
    experiment,
    format_exponent,
    integer_axis,
    power_law,
    run_simulation,
    save_both,
)
from experiments._specs import P_TEST
from experiments._specs import PERCEPTRON as SPEC
from theorytk import fit, perceptron, plot, sweep

NAME = "perceptron"
TC_FACTOR = 2.0  # T_c: dw_1 reaches TC_FACTOR times its gradient-descent value


def sgd_config(sizes: np.ndarray, settings: dict) -> perceptron.PerceptronConfig:
    """SGD on up to max(P) points (P is a traced, padded axis: one compile)."""
    return perceptron.PerceptronConfig(
        d=settings["d"],
        P=int(sizes.max()),
        B=settings["batch"],
        budget=settings["budget"],
        P_test=P_TEST,
    )


def gd_config(sizes: np.ndarray, settings: dict) -> perceptron.PerceptronConfig:
    """Full-batch gradient descent on up to max(P) points, with a budget it never reaches."""
    return perceptron.PerceptronConfig(
        d=settings["d"], P=int(sizes.max()), B=None, budget=2_000_000, P_test=P_TEST
    )


def unit_alpha(params: Mapping[str, Any]) -> dict:
    """SGD at alpha = 1 and T = alpha T."""
    return {"alpha": 1.0, "T": params["alpha_T"], "P": params["P"], "chi": params["chi"]}


def gradient_flow(d: int) -> Any:
    """Full-batch GD at alpha = 1 with the small step of `gradient_flow_temperature`."""

    def params_of(params: Mapping[str, Any]) -> dict:
        chi, size = params["chi"], params["P"]
        temperature = perceptron.gradient_flow_temperature(size, d=d, chi=chi)
        return {"alpha": 1.0, "T": temperature, "P": size, "chi": chi}

    return sweep.domain(P=MODEL_DOMAIN["P"], chi=MODEL_DOMAIN["chi"])(
        sweep.reparametrise(perceptron.simulate, params_of)
    )


MODEL_DOMAIN = sweep.param_domain(perceptron.simulate)
sgd_at_unit_alpha = sweep.domain(
    alpha_T=sweep.POSITIVE, P=MODEL_DOMAIN["P"], chi=MODEL_DOMAIN["chi"]
)(sweep.reparametrise(perceptron.simulate, unit_alpha))


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    settings = options.settings
    sizes = np.sort(integer_axis(axes, "P")).astype(float)
    grid = sweep.Grid(chi=axes["chi"], P=sizes, alpha_T=axes["alpha_T"], seed=range(options.seeds))
    sgd = run_simulation(
        sgd_at_unit_alpha,
        grid,
        options,
        NAME,
        config=sgd_config(sizes, settings),
    )
    gd = run_simulation(
        gradient_flow(settings["d"]),
        sweep.Grid(chi=axes["chi"], P=sizes, seed=range(options.seeds)),
        options,
        f"{NAME}_gd",
        config=gd_config(sizes, settings),
    )
    mean, gd_mean = sweep.seed_mean(sgd), sweep.seed_mean(gd)
    mean["test_error_theory"].attrs["long_name"] = "test error (closed form)"
    mean["dw_norm"].attrs["long_name"] = "alpha ||w - w0||"
    mean["alpha_T"].attrs["long_name"] = "alpha T"
    mean["P"].attrs["long_name"] = "training set size P"
    critical = crossover(mean, gd_mean)
    combined = sgd.assign(
        {f"gd_{name}": gd[name] for name in ("dw1", "dw_perp", "test_error_theory", "steps")}
    )
    combined["alpha_T_c"] = critical
    paths = save_both(combined, options.out, NAME)
    figure_path = options.out / f"{NAME}.png"
    draw(mean, gd_mean, critical, settings, figure_path)
    fits = exponents(mean, gd_mean, critical, settings)
    return summary(mean, fits, settings, paths + [figure_path])


def crossover(mean: xr.Dataset, gd_mean: xr.Dataset) -> xr.DataArray:
    """alpha T_c(chi, P): where the seed-mean dw_1 reaches TC_FACTOR times dw_1^GD(P)."""
    ratio = (mean["dw1"] / gd_mean["dw1"]).where(mean["status"] == sweep.Status.OK)
    rows = [
        fit.critical_line("P", "alpha_T", ratio.sel(chi=chi), TC_FACTOR)
        for chi in mean["chi"].values
    ]
    return xr.DataArray(
        np.array(rows), coords={"chi": mean["chi"], "P": mean["P"]}, dims=("chi", "P")
    )


def exponents(
    mean: xr.Dataset, gd_mean: xr.Dataset, critical: xr.DataArray, settings: dict
) -> list:
    """Per chi, power-law fits against P (95% intervals) of dw_1^GD, and at the largest
    alpha T of dw_1/T and c = ||dw_perp|| / (T sqrt(d)) (flat in P: exponent 0), of T_c;
    c averaged over P; the epochs of the noisy runs (steps B / P) at the smallest P."""
    sizes = mean["P"].values
    rows = []
    for chi in mean["chi"].values:
        noisy = mean.sel(chi=chi).isel(alpha_T=-1)
        top, ok = float(noisy["alpha_T"]), noisy["status"] == sweep.Status.OK
        gd = gd_mean.sel(chi=chi)
        scale = top * np.sqrt(settings["d"])
        rows.append(
            {
                "gd": power_law(sizes, gd["dw1"], gd["dw1_sem"]),
                "noise": power_law(sizes, noisy["dw1"].where(ok) / top, noisy["dw1_sem"] / top),
                "perp": power_law(
                    sizes, noisy["dw_perp"].where(ok) / scale, noisy["dw_perp_sem"] / scale
                ),
                "tc": power_law(sizes, critical.sel(chi=chi), None),
                "c_perp": float((noisy["dw_perp"] / scale).where(ok).mean()),
                "epochs": noisy["steps"].values * settings["batch"] / sizes,
            }
        )
    return rows


def draw(
    mean: xr.Dataset, gd_mean: xr.Dataset, critical: xr.DataArray, settings: dict, path: Any
) -> None:
    """One row per chi: test error map, alpha ||w - w0|| map (with T_c), scaling panel."""
    chis = mean["chi"].values
    fig, axes = plt.subplots(len(chis), 3, figsize=(19, 4.6 * len(chis)), squeeze=False)
    sizes = mean["P"].values
    for row, chi in enumerate(chis):
        label = f"$T_c$: $w_1$ = {TC_FACTOR:g} $w_1^{{GD}}$"
        line = [(critical.sel(chi=chi).values, sizes, label, {"color": "w"})]
        for col, (var, label) in enumerate(
            (("test_error_theory", "test error"), ("dw_norm", r"$\alpha\,\|w - w_0\|$"))
        ):
            plot.phase_diagram(
                mean.sel(chi=chi),
                var,
                x="alpha_T",
                y="P",
                ax=axes[row, col],
                log_color=True,
                lines=line,
                title=f"chi = {chi:g}: {label}",
            )
        scaling_panel(
            axes[row, 2], mean.sel(chi=chi), gd_mean.sel(chi=chi), critical.sel(chi=chi), chi
        )
    fig.suptitle(
        f"perceptron, d = {settings['d']}, SGD with B = {settings['batch']} until zero hinge "
        "loss (alpha = 1; "
        "hatched: step budget reached)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling_panel(
    ax: Any, mean: xr.Dataset, gd_mean: xr.Dataset, critical: xr.DataArray, chi: float
) -> None:
    """dw_1^GD(P), dw_1/T at the largest alpha T, and alpha T_c(P) on log-log axes."""
    sizes = mean["P"].values
    top = float(mean["alpha_T"][-1])
    predicted = perceptron.predicted_exponents(chi)["gd_dw1_vs_P"]
    series = [
        (gd_mean["dw1"].values, gd_mean["dw1_sem"].values, r"$\alpha w_1^{GD}$", "o-"),
        (
            mean["dw1"].isel(alpha_T=-1).values / top,
            mean["dw1_sem"].isel(alpha_T=-1).values / top,
            rf"$w_1 / T$ at $\alpha T$ = {top:g}",
            "s-",
        ),
        (
            mean["dw_perp"].isel(alpha_T=-1).values / top,
            mean["dw_perp_sem"].isel(alpha_T=-1).values / top,
            rf"$\|w_\perp\| / T$ at $\alpha T$ = {top:g}",
            "d-",
        ),
        (critical.values, None, r"$\alpha T_c$", "^-"),
    ]
    for values, errors, label, style in series:
        ax.errorbar(sizes, values, yerr=errors, fmt=style, label=label, capsize=3)
    reference = gd_mean["dw1"].values[0] * (sizes / sizes[0]) ** predicted
    ax.plot(sizes, reference, "k:", label=rf"$P^{{{predicted:.3g}}}$ (GD prediction)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training set size P")
    ax.set_ylabel("alpha = 1 units")
    ax.set_title(f"chi = {chi:g}: scaling with P")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def summary(mean: xr.Dataset, fits: list[dict], settings: dict, paths: list) -> str:
    lines = [f"wrote {', '.join(str(p) for p in paths)}"]
    failed = int((mean["status"] != sweep.Status.OK).sum())
    for chi, row in zip(mean["chi"].values, fits, strict=True):
        predicted = perceptron.predicted_exponents(chi)["gd_dw1_vs_P"]
        lines.append(
            f"chi = {chi:g}: dw1_GD ~ P^{format_exponent(row['gd'])} (predicted {predicted:.3g}); "
            f"noise-dominated dw1/T ~ P^{format_exponent(row['noise'])}; "
            f"alpha T_c ~ P^{format_exponent(row['tc'])} "
            f"(T_c: dw1 = {TC_FACTOR:g} dw1_GD); ||dw_perp|| = {row['c_perp']:.2f} T sqrt(d), "
            f"||dw_perp|| / T ~ P^{format_exponent(row['perp'])} (flat: 0); noisy runs last "
            f"{row['epochs'].min():.0f}-{row['epochs'].max():.0f} epochs (B = {settings['batch']})"
        )
    lines.append(f"{failed} (chi, P, alpha T) cells with a seed at the step budget (hatched)")
    return "\n".join(lines)


EXPERIMENT = experiment(SPEC, run)
