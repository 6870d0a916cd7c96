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
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jaxtyping import Array
from matplotlib.figure import Figure

from experiments._experiment import Options, experiment, integer_axis, run_simulation, save_both
from experiments._specs import HALPERN as SPEC
from experiments._specs import HALPERN_DIMENSION as DIMENSION
from theorytk import monotone, plot, sweep

NAME = "halpern"
CONDITION, EPS = 1e4, 1e-2
DETERMINISTIC = ("halpern", "extragradient", "eag_c", "eag_v")
TRACED = (*DETERMINISTIC, "vr_extragradient", "vr_halpern", "inexact_vr_halpern")


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
    """VR-Halpern epochs to eps on every (n, heterogeneity, seed), in one compilation.

    n is a traced parameter: every problem stores max(n) components and sums the first n
    (`monotone.simulate`'s padding), which equals the run at that n up to float rounding.
    """
    sizes = integer_axis(axes, "n")
    grid = sweep.Grid(
        n=sizes.astype(float), heterogeneity=axes["heterogeneity"], seed=range(options.seeds)
    )
    vr = config("vr_halpern", int(sizes.max()), options.quick)
    return run_simulation(monotone.simulate, grid, options, NAME, config=vr)


Runs = dict[str, tuple[int, int]]  # method -> (updates, record_every)


def _seed_traces(groups: list[tuple[Runs, int, float]]) -> Callable[[Array], dict[str, tuple]]:
    """seeds -> (epochs, residual) traces per method and seed, vmapped over the seeds.

    Each group (runs, n, h) runs its methods on the problem with n components and
    heterogeneity h. Seed s runs on the problem and with the method keys of the sweep's
    point s of a seed-only grid (point key fold_in(key(0), s), problem key fold_in(point key,
    0)), so a deterministic trace reproduces `monotone.simulate` on that point update by
    update. A group's problem and its constants are built once per seed for all its methods.
    """

    def one(seed: Array) -> dict[str, tuple]:
        key = jax.random.fold_in(jax.random.key(0), seed)
        out = {}
        for runs, n, h in groups:
            problem = monotone.random_cocoercive_linear(
                jax.random.fold_in(key, 0), DIMENSION, n=n, condition=CONDITION, heterogeneity=h
            )
            for method, (updates, every) in runs.items():
                t = monotone.trace(
                    problem, monotone.METHODS[method](), key, updates=updates, record_every=every
                )
                out[method] = (t.epochs, t.residual)
        return out

    return jax.vmap(one)


def epochs_to_eps(epochs: np.ndarray, residual: np.ndarray, budget: float) -> np.ndarray:
    """Per row: the epochs at the first record with residual <= EPS started within budget.

    With one record per update this is what the run to a tolerance (`monotone.solve`) stops
    at; NaN where the budget runs out first (status BUDGET).
    """
    started = np.concatenate([np.zeros_like(epochs[:, :1]), epochs[:, :-1]], axis=1) < budget
    hit = (residual <= EPS) & started
    first = np.argmax(hit, axis=1)
    return np.where(hit.any(axis=1), epochs[np.arange(len(epochs)), first], np.nan)


def traces_and_constants(
    axes: dict[str, np.ndarray], options: Options
) -> tuple[dict[str, tuple], np.ndarray]:
    """Every method's trace per seed, and beta_avg on the (n, h) grid: one compilation.

    F does not depend on (n, h), so a deterministic method runs once per seed on the
    one-component problem, recorded at every update over the whole budget: that gives its
    epochs to eps (`deterministic`) and its convergence curve at once. The variance-reduced
    methods run at the largest n and the smallest h, recorded every 10 updates, long enough
    for the curves (`convergence`).
    """
    budget = config("halpern", 1, options.quick).max_epochs
    lengths = {m: (math.ceil(budget / monotone.METHODS[m]().min_cost(1)), 1) for m in DETERMINISTIC}
    n, h = int(axes["n"].max()), float(axes["heterogeneity"].min())
    reduced = {}
    for method in TRACED[len(DETERMINISTIC) :]:
        expected = {"vr_halpern": 2 * math.isqrt(n) + 4 * n / (math.sqrt(n) + 5)}.get(method, 3)
        reduced[method] = (int(_curve_epochs(options)[-1] * n / expected * 1.3) // 10 * 10 + 10, 10)
    run_traces = _seed_traces([(lengths, 1, 0.0), (reduced, n, h)])
    sizes = integer_axis(axes, "n")
    hs = jnp.asarray(axes["heterogeneity"])
    traced, beta = jax.jit(lambda seeds: (run_traces(seeds), mean_cocoercivity(sizes, hs)))(
        jnp.arange(options.seeds)
    )
    traced = {m: (np.asarray(ep), np.asarray(res)) for m, (ep, res) in traced.items()}
    return traced, np.asarray(beta)


def deterministic(traces: dict[str, tuple], options: Options) -> xr.Dataset:
    """Epochs to eps of each deterministic method per seed, from its trace (`traces`)."""
    budget = config("halpern", 1, options.quick).max_epochs
    runs = {m: ("seed", epochs_to_eps(*traces[m], budget)) for m in DETERMINISTIC}
    return xr.Dataset(runs, coords={"seed": np.arange(options.seeds)})


def predicted_gain(n: np.ndarray, beta_avg: np.ndarray) -> np.ndarray:
    """n / (expected calls per VR-Halpern update) / beta_avg (beta = 1 for F itself)."""
    per_update = 2 * np.floor(np.sqrt(n)) + 4 * n / (np.sqrt(n) + 5)
    return n / per_update / beta_avg


def mean_cocoercivity(sizes: np.ndarray, heterogeneity: Array) -> Array:
    """beta_avg of the seed-0 problem on the (n, heterogeneity) grid (n padded to its largest)."""
    key = jax.random.fold_in(jax.random.key(0), 0)

    def beta(n: Array, h: Array) -> Array:
        problem = monotone.random_cocoercive_linear(
            key, DIMENSION, n=n, size=int(sizes.max()), condition=CONDITION, heterogeneity=h
        )
        return problem.mean_cocoercivity()

    return jax.vmap(jax.vmap(beta, (None, 0)), (0, None))(jnp.asarray(sizes), heterogeneity)


def _curve_epochs(options: Options) -> np.ndarray:
    return np.linspace(0, 400 if options.quick else 1000, 201)


def convergence(traces: dict[str, tuple], options: Options) -> dict[str, np.ndarray]:
    """Residual on a common epochs grid for every method and seed (linear interpolation).

    Variance-reduced methods ran at the largest n and the smallest h, the deterministic ones
    on the same F per seed (`traces`).
    """
    epochs = _curve_epochs(options)
    curves = {
        method: np.stack(
            [
                np.exp(np.interp(epochs, e, np.log(r), right=np.nan))
                for e, r in zip(*traces[method], strict=True)
            ]
        )
        for method in TRACED
    }
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
    # unrolled threefry: the same draws, compiled in half the time (docs/halpern.md, Cost)
    with jax.enable_x64(True), sweep.unrolled_threefry():
        vr = vr_sweep(axes, options)
        traced, beta = traces_and_constants(axes, options)
    det = deterministic(traced, options)
    curves = convergence(traced, options)
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
    ratio = ratio.assign_coords(n=ratio["n"].assign_attrs(long_name="components n"))
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


EXPERIMENT = experiment(SPEC, run)
