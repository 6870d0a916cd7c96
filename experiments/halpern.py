"""Variance-reduced Halpern vs deterministic methods: epochs to eps over (n, heterogeneity).

Problem: the finite-sum cocoercive family `monotone.random_cocoercive_linear` (d = 10,
condition 10^4): F(z) = M (z - z*) is the same for every n and heterogeneity h (only the
components M_i = M^1/2 (I + h R_i) M^1/2 change), so a deterministic method's epochs to eps
do not depend on (n, h) (exactly: it only ever evaluates F); they are computed once per seed
and compared with variance-reduced Halpern (Algorithm 1 of Cai, Alacaoglu and Diakonikolas
2024) on every (n, h, seed). The theory predicts a gain of about
n / (2 sqrt(n) + 4 n / (sqrt(n) + 5)) / beta_avg(h) per epoch (the cost of an update against
n, times the step ratio), so variance reduction wins at large n and small h.

Figures: `halpern.png`, the phase diagram of log10(best deterministic epochs / VR-Halpern
epochs) with the predicted break-even line and the measured region where VR wins outlined;
`halpern_convergence.png`, residual vs epochs for every method (median and quartile band over
seeds) at the largest n and the smallest h.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from experiments._experiment import Experiment, Options, check_positive, run_simulation, save_both
from theorytk import monotone, plot, sweep

NAME = "halpern"
DIMENSION, CONDITION, EPS = 10, 1e4, 1e-2
DETERMINISTIC = ("halpern", "extragradient", "eag_c", "eag_v")
TRACED = (*DETERMINISTIC, "vr_extragradient", "vr_halpern", "inexact_vr_halpern")


def default_axes(quick: bool) -> dict[str, np.ndarray]:
    if quick:
        return {"n": np.array([16.0, 64.0, 256.0]), "heterogeneity": np.geomspace(0.05, 5.0, 4)}
    return {"n": 2.0 ** np.arange(4, 11), "heterogeneity": np.geomspace(0.03, 10.0, 9)}


def config(method: str, n: int, quick: bool) -> monotone.RunConfig:
    return monotone.RunConfig(
        problem="cocoercive",
        method=method,
        n=n,
        d=DIMENSION,
        eps=EPS,
        max_epochs=1500.0 if quick else 3000.0,
        condition=CONDITION,
    )


def vr_sweep(axes: dict[str, np.ndarray], options: Options) -> xr.Dataset:
    """VR-Halpern epochs to eps on every (n, heterogeneity, seed); n is looped (static)."""
    parts = []
    for n in axes["n"].astype(int):
        grid = sweep.Grid(heterogeneity=axes["heterogeneity"], seed=range(options.seeds))
        ds = run_simulation(
            monotone.simulate,
            grid,
            options,
            f"{NAME}_n{n}",
            config=config("vr_halpern", int(n), options.quick),
        )
        parts.append(ds.expand_dims(n=[float(n)]))
    return xr.concat(parts, dim="n", combine_attrs="drop_conflicts")


def deterministic(options: Options) -> xr.Dataset:
    """Epochs to eps of each deterministic method per seed (independent of n and h)."""
    runs = {}
    for method in DETERMINISTIC:
        grid = sweep.Grid(seed=range(options.seeds))
        ds = run_simulation(
            monotone.simulate,
            grid,
            options,
            f"{NAME}_{method}",
            config=config(method, 1, options.quick),
        )
        runs[method] = ds["epochs"].where(ds["status"] == sweep.Status.OK)
    return xr.Dataset(runs)


def predicted_gain(n: np.ndarray, beta_avg: np.ndarray) -> np.ndarray:
    """n / (expected calls per VR-Halpern update) / beta_avg (beta = 1 for F itself)."""
    per_update = 2 * np.floor(np.sqrt(n)) + 4 * n / (np.sqrt(n) + 5)
    return n / per_update / beta_avg


def mean_cocoercivity(axes: dict[str, np.ndarray]) -> np.ndarray:
    """beta_avg of the seed-0 problem on the (n, heterogeneity) grid."""
    out = np.empty((len(axes["n"]), len(axes["heterogeneity"])))
    for i, n in enumerate(axes["n"].astype(int)):
        beta = jax.jit(
            lambda h, n=int(n): monotone.random_cocoercive_linear(
                jax.random.fold_in(jax.random.key(0), 0),
                DIMENSION,
                n=n,
                condition=CONDITION,
                heterogeneity=h,
            ).mean_cocoercivity()
        )
        out[i] = [float(beta(jnp.asarray(h))) for h in axes["heterogeneity"]]
    return out


def convergence(axes: dict[str, np.ndarray], options: Options) -> dict[str, np.ndarray]:
    """Residual on a common epochs grid for every method and seed (linear interpolation)."""
    n, h = int(axes["n"].max()), float(axes["heterogeneity"].min())
    epochs = np.linspace(0, 400 if options.quick else 1000, 201)
    curves = {}
    for method in TRACED:
        per_update = monotone.METHODS[method]().min_cost(n)
        expected = {"vr_halpern": 2 * math.isqrt(n) + 4 * n / (math.sqrt(n) + 5)}.get(
            method, per_update if method in DETERMINISTIC else 3
        )
        updates = int(epochs[-1] * n / expected * 1.3) // 10 * 10 + 10

        def one(key, method=method, updates=updates):
            problem = monotone.random_cocoercive_linear(
                jax.random.fold_in(key, 0), DIMENSION, n=n, condition=CONDITION, heterogeneity=h
            )
            out = monotone.trace(
                problem, monotone.METHODS[method](), key, updates=updates, record_every=10
            )
            return out.epochs, out.residual

        keys = jax.random.split(jax.random.key(1), options.seeds)
        ep, res = (np.asarray(a) for a in jax.jit(jax.vmap(one))(keys))
        curves[method] = np.stack(
            [
                np.exp(np.interp(epochs, e, np.log(r), right=np.nan))
                for e, r in zip(ep, res, strict=True)
            ]
        )
    curves["epochs"] = epochs
    return curves


def convergence_figure(curves: dict[str, np.ndarray], n: int, h: float, path) -> Figure:
    """Residual vs epochs: median over seeds with the interquartile band, one line per method."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    epochs = curves["epochs"]
    for method in TRACED:
        q1, med, q3 = np.nanpercentile(curves[method], [25, 50, 75], axis=0)
        (line,) = ax.plot(epochs, med, label=method.replace("_", "-"), lw=1.8)
        ax.fill_between(epochs, q1, q3, color=line.get_color(), alpha=0.25, lw=0)
    ax.axhline(EPS, color="k", ls=":", lw=1)
    ax.set(yscale="log", xlabel="epochs (oracle calls / n)", ylabel="residual ||F(z)||")
    ax.set_title(f"cocoercive finite sum, n = {n}, heterogeneity = {h:g}, d = {DIMENSION}")
    ax.legend(fontsize=8, ncol=2)
    fig.savefig(path, dpi=150)
    return fig


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    check_positive(axes, ("n", "heterogeneity"))
    if np.any(axes["n"] % 1):
        raise ValueError(f"--grid n: values must be integers, got {axes['n'].tolist()}")
    with jax.enable_x64(True):
        vr = vr_sweep(axes, options)
        det = deterministic(options)
        beta = mean_cocoercivity(axes)
        curves = convergence(axes, options)
    best = det.to_array("method").min("method")  # per seed
    best_name = str(det.to_array("method").mean("seed").idxmin("method").values)
    vr_epochs = vr["epochs"].where(vr["status"] == sweep.Status.OK)
    vr_mean = vr_epochs.mean("seed")
    ratio = xr.Dataset(
        {
            "log10_ratio": np.log10(float(best.mean()) / vr_mean),
            "status": vr["status"].max("seed"),
            "predicted_log10_ratio": (
                ("n", "heterogeneity"),
                np.log10(predicted_gain(axes["n"][:, None], beta)),
            ),
        }
    )
    ratio["log10_ratio"].attrs["long_name"] = (
        f"log10(best deterministic / VR-Halpern) epochs to {EPS:g}"
    )
    data = vr.assign(
        best_deterministic_epochs=best,
        log10_ratio=ratio["log10_ratio"],
        mean_cocoercivity=(("n", "heterogeneity"), beta),
    )
    paths = save_both(data, options.out, NAME)
    _phase(ratio, best_name, options)
    n, h = int(axes["n"].max()), float(axes["heterogeneity"].min())
    convergence_figure(curves, n, h, options.out / f"{NAME}_convergence.png")
    return summary(ratio, det, paths + [options.out / f"{NAME}.png"])


def _phase(ratio: xr.Dataset, best_name: str, options: Options) -> None:
    fig = plot.phase_diagram(
        ratio,
        "log10_ratio",
        x="n",
        y="heterogeneity",
        cmap="RdBu",
        vmin=-1.5,
        vmax=1.5,
        contour="predicted_log10_ratio",
        levels=[0.0],
        contour_label="predicted break-even",
        title=f"VR-Halpern vs {best_name}, epochs to {EPS:g}\n"
        "thick black: measured break-even (VR wins below/right)",
    )
    ax = fig.axes[0]
    ax.contour(
        ratio["n"],
        ratio["heterogeneity"],
        ratio["log10_ratio"].fillna(-9).T,
        levels=[0.0],
        colors="k",
        linewidths=2.5,
    )
    fig.savefig(options.out / f"{NAME}.png", dpi=150)


def summary(ratio: xr.Dataset, det: xr.Dataset, paths: list) -> str:
    lr = ratio["log10_ratio"]
    wins = int((lr > 0).sum())
    top = lr.isel(n=-1, heterogeneity=0)
    det_means = ", ".join(f"{k} {float(v.mean()):.0f}" for k, v in det.items())
    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"halpern: deterministic epochs to {EPS:g}: {det_means}; VR-Halpern wins on {wins} of "
        f"{lr.size} (n, h) cells; at n = {int(top['n'])}, h = {float(top['heterogeneity']):g} "
        f"it needs {10 ** float(top):.2f}x fewer epochs than the best deterministic method"
    )


EXPERIMENT = Experiment(
    name=NAME,
    summary="variance-reduced Halpern vs deterministic methods: epochs to eps over (n, h)",
    axes=default_axes,
    run=run,
    default_seeds=lambda quick: 2 if quick else 6,
)
