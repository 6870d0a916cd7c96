"""Variance-reduced Halpern's sqrt(n) advantage as a scaling law: epochs to eps against n.

The claim (Cai, Alacaoglu and Diakonikolas 2024): Algorithms 1 and 2 reach a residual eps in
O~(n + sqrt(n) L / eps) oracle calls, the deterministic methods in O(n L / eps). In epochs
(calls / n) the deterministic methods are flat in n and the variance-reduced ones fall like
n^(-1/2) until the n term (one epoch) dominates.

Families whose L_avg and ||z0 - z*|| stay fixed as n grows: each problem of
`monotone.random_cocoercive_linear` (d = 10, condition 10^4, heterogeneity 0.5; for
Algorithm 1) and of `monotone.random_monotone_linear` (d = 10, heterogeneity 0.5; monotone,
not cocoercive, for Algorithm 2) is rescaled to L_avg = 1 and ||z*|| = 1 (z0 = 0). Each
(n, seed) draws its own problem. A deterministic method only evaluates F, so it runs on the
one-component problem with the same F (same iterates, same epochs: n calls per F either way).

Every method runs with its default (theory) step until residual <= 1e-3 or the budget; the
epochs at which the residual first drops below each eps are recorded on the way (monitoring,
not counted as oracle calls). Outputs: `halpern_scaling.nc` (epochs per method, eps, family,
n, seed), `halpern_scaling.png` (median and interquartile band against n, log-log, with the
predictions), and a summary with each method's fitted slope (ordinary least squares of
log epochs on log n over all (n, seed) runs, 95% t-interval) and the crossover n.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jaxtyping import Array
from matplotlib.figure import Figure
from scipy import stats

from experiments._experiment import Options, experiment, integer_axis, save_both
from experiments._specs import HALPERN_DIMENSION as DIMENSION
from experiments._specs import HALPERN_SCALING as SPEC
from theorytk import monotone, sweep

NAME = "halpern_scaling"
CONDITION, HETEROGENEITY = 1e4, 0.5
EPS = (1e-2, 1e-3)
DETERMINISTIC = ("halpern", "extragradient", "eag_c", "eag_v")
VARIANCE_REDUCED = {
    "cocoercive": ("vr_extragradient", "vr_halpern", "inexact_vr_halpern"),
    "monotone": ("vr_extragradient", "inexact_vr_halpern"),
}
LABELS = {
    "halpern": "Halpern",
    "extragradient": "EG",
    "eag_c": "EAG-C",
    "eag_v": "EAG-V",
    "vr_extragradient": "VR-EG",
    "vr_halpern": "Alg. 1 (VR-Halpern)",
    "inexact_vr_halpern": "Alg. 2 (inexact VR-Halpern)",
}
THEORY_BAND = 0.1
"""Half-width of Algorithm 1's slope band around `theory_slope` of its prediction: twice the
95% half-width (0.05) of its fitted slope at --quick (4 n x 5 seeds, common random numbers)."""


def budget(quick: bool) -> float:
    """The oracle budget in epochs (a run that has not reached 1e-3 by then counts as BUDGET)."""
    return 4000.0 if quick else 20000.0


def family(name: str, key: Array, n: int) -> monotone.LinearProblem:
    """A problem of the family rescaled to L_avg = 1 and ||z*|| = 1 (z0 = 0)."""
    if name == "cocoercive":
        problem = monotone.random_cocoercive_linear(
            key, DIMENSION, n=n, condition=CONDITION, heterogeneity=HETEROGENEITY
        )
    else:
        problem = monotone.random_monotone_linear(key, DIMENSION, n=n, heterogeneity=HETEROGENEITY)
    scale = problem.mean_lipschitz()
    radius = jnp.linalg.norm(problem.solution)
    return monotone.LinearProblem(
        problem.matrices / scale,
        problem.offsets / (scale * radius),
        solution=problem.solution / radius,
    )


def one_component(problem: monotone.LinearProblem) -> monotone.LinearProblem:
    """The problem with the same F as a single component (what a deterministic method sees)."""
    return monotone.LinearProblem(
        problem.matrix[None], problem.offset[None], solution=problem.solution
    )


class Recorded(NamedTuple):
    """A method's state with the epochs at which the residual first fell below each eps."""

    z: Array
    oracle: Array
    inner: Any
    hits: Array


def recorded(method: monotone.Method) -> monotone.Method:
    """`method` that also records the epochs of its first residual <= eps for each of EPS."""
    eps = jnp.asarray(EPS)

    def hit(problem, state, hits):
        below = problem.residual(state.z) <= eps
        return jnp.where(jnp.isnan(hits) & below, state.oracle / problem.n, hits)

    def init(problem, z0):
        state = method.init(problem, z0)
        nan = jnp.full(len(EPS), jnp.nan, z0.dtype)
        return Recorded(state.z, state.oracle, state, hit(problem, state, nan))

    def update(problem, state, key):
        new = method.update(problem, state.inner, key)
        return Recorded(new.z, new.oracle, new, hit(problem, new, state.hits))

    return monotone.Method(init, update, method.min_cost, method.max_cost)


def epochs_to_eps(
    problems: monotone.LinearProblem,
    methods: tuple[str, ...],
    keys: Array,
    max_epochs: float,
    step_scales: Array | None = None,
) -> np.ndarray:
    """Epochs to each eps, shape (method, point, eps), NaN where the budget ran out first.

    `problems`, `keys` and `step_scales` (multipliers of the default steps, default 1) carry a
    leading point axis. One compilation: every method's run to
    min(EPS) (`monotone.solve_loop`, the loop of `monotone.solve`), mapped over the points
    with `lax.map` when n > 1 (a vmapped refresh `lax.cond` would evaluate the full F at
    every update of every point), vmapped for the one-component problems.
    """
    n = problems.matrices.shape[1]

    def first_hits(problem, key, scale, name):
        loop = monotone.solve_loop(
            lambda params, key: problem,
            lambda params: recorded(monotone.METHODS[name](step_scale=scale)),
            n=n,
            eps=min(EPS),
            max_epochs=max_epochs,
        )
        loop = loop._replace(finish=lambda data, result: {"hits": result.state.hits})
        hits = sweep.run_loop(loop, {}, key)["hits"]
        return jnp.where(hits <= max_epochs, hits, jnp.nan)

    def run(problem, key, scale):
        return jnp.stack([first_hits(problem, key, scale, name) for name in methods])

    scales = jnp.ones(keys.shape[0]) if step_scales is None else jnp.asarray(step_scales)
    mapped = jax.vmap(run) if n == 1 else (lambda *a: jax.lax.map(lambda b: run(*b), a))
    return np.moveaxis(np.asarray(jax.jit(mapped)(problems, keys, scales)), 0, 1)


def problem_keys(seeds: int) -> Array:
    """The problem key of seed s = 0 .. seeds - 1: fold_in(key(0), s), the same for every n."""
    return jax.vmap(lambda s: jax.random.fold_in(jax.random.key(0), s))(jnp.arange(seeds))


def simulate(ns: np.ndarray, seeds: int, quick: bool) -> xr.Dataset:
    """Epochs to eps of every method on both families, dims (family, algorithm, n, seed, eps).

    Common random numbers: seed s draws its problem from `problem_keys` at every n, so F's
    matrix M and z* are those of seed s whatever n (only the n components and the rescaling
    to L_avg = 1 change with n), and the n-dependence is not buried in problem-to-problem
    spread. The method's sampling key is fold_in(problem key, n) (update t draws
    fold_in(key, t + 1), as in `monotone.solve`). Compilations: one problem generator per
    (family, n), one run of the variance-reduced methods per (family, n), one run of the
    deterministic methods per family for every (n, seed) at once.
    """
    methods = (*DETERMINISTIC, *VARIANCE_REDUCED["cocoercive"])
    out = np.full((2, len(methods), len(ns), seeds, len(EPS)), np.nan)
    max_epochs = budget(quick)
    for f, name in enumerate(("cocoercive", "monotone")):
        singles, keys = [], []
        for i, n in enumerate(ns):
            draw = jax.jit(jax.vmap(lambda k, n=int(n), name=name: family(name, k, n)))
            problems = draw(problem_keys(seeds))
            key = jax.vmap(lambda k, n=int(n): jax.random.fold_in(k, n))(problem_keys(seeds))
            singles.append(jax.vmap(one_component)(problems))
            keys.append(key)
            vr = VARIANCE_REDUCED[name]
            runs = epochs_to_eps(problems, vr, key, max_epochs)
            for j, method in enumerate(vr):
                out[f, methods.index(method), i] = runs[j]
        stacked = jax.tree.map(lambda *leaves: jnp.concatenate(leaves), *singles)
        det = epochs_to_eps(stacked, DETERMINISTIC, jnp.concatenate(keys), max_epochs)
        out[f, : len(DETERMINISTIC)] = det.reshape(len(DETERMINISTIC), len(ns), seeds, len(EPS))
    return xr.Dataset(
        {"epochs": (("family", "algorithm", "n", "seed", "eps"), out)},
        coords={
            "family": ["cocoercive", "monotone"],
            "algorithm": list(methods),
            "n": ns.astype(float),
            "seed": np.arange(seeds),
            "eps": list(EPS),
        },
    )


def cost_per_epoch(n: np.ndarray) -> np.ndarray:
    """Algorithm 1's expected oracle calls per update over n, once p_k = 4/(sqrt(n) + 5).

    (1 - p) 2 floor(sqrt(n)) + p n calls per update, about 6/sqrt(n) of an epoch at large n.
    """
    p = 4.0 / (np.sqrt(n) + 5.0)
    return ((1.0 - p) * 2.0 * np.floor(np.sqrt(n)) + p * n) / n


def slope(n: np.ndarray, epochs: np.ndarray) -> tuple[float, float, float]:
    """OLS slope of log epochs on log n over every finite (n, seed) run, with its 95% t-interval.

    `epochs` has shape (n, seed); NaN (budget) runs are left out; NaN slope if < 3 runs or
    fewer than 2 distinct n remain.
    """
    x = np.log(np.broadcast_to(np.asarray(n, float)[:, None], epochs.shape))
    keep = np.isfinite(epochs) & (epochs > 0)
    x, y = x[keep], np.log(epochs[keep])
    if y.size < 3 or np.unique(x).size < 2:
        return math.nan, math.nan, math.nan
    centred = x - x.mean()
    b = float(centred @ (y - y.mean()) / (centred @ centred))
    residual = y - y.mean() - b * centred
    se = math.sqrt(float(residual @ residual) / (y.size - 2) / float(centred @ centred))
    half = float(stats.t.ppf(0.975, y.size - 2)) * se
    return b, b - half, b + half


def predictions(ds: xr.Dataset) -> xr.Dataset:
    """Predicted epochs per family, algorithm, n and eps; constants fitted to the medians.

    Variance-reduced methods: 1 + K cost_per_epoch(n), i.e. the paper's 1 + c L_avg / (sqrt(n)
    eps) with Algorithm 1's exact expected cost per update (about 6/sqrt(n) epochs); K
    fitted by least squares of log(median - 1) (K = c L_avg ||z0 - z*|| / eps, L_avg =
    ||z0 - z*|| = 1 here). Deterministic methods: c' L / eps, a constant in n (the mean of
    the medians over n).
    """
    median = ds["epochs"].median("seed")
    n = ds["n"].values
    shape = cost_per_epoch(n)
    out = xr.full_like(median, np.nan)
    for family in ds["family"].values:
        for algorithm in ds["algorithm"].values:
            for eps in ds["eps"].values:
                where = {"family": family, "algorithm": algorithm, "eps": eps}
                m = median.sel(where).values
                if np.isnan(m).all():
                    continue
                if algorithm in DETERMINISTIC:
                    out.loc[where] = np.nanmean(m)
                else:
                    ok = np.isfinite(m) & (m > 1)
                    if ok.any():
                        k = np.exp(np.mean(np.log(m[ok] - 1.0) - np.log(shape[ok])))
                        out.loc[where] = 1.0 + k * shape
    return out.to_dataset(name="predicted_epochs")


def theory_slope(n: np.ndarray, predicted: np.ndarray) -> float:
    """The OLS log-log slope of a predicted curve over the n grid (one point per n)."""
    return slope(n, np.asarray(predicted)[:, None])[0]


def crossover(n: np.ndarray, vr: np.ndarray, best: np.ndarray) -> float:
    """The n (log-interpolated) where vr first drops below best; NaN if never, n[0] if always."""
    gap = np.log(vr) - np.log(best)
    ok = np.isfinite(gap)
    n, gap = np.asarray(n, float)[ok], gap[ok]
    if gap.size == 0 or (gap >= 0).all():
        return math.nan
    first = int(np.argmax(gap < 0))
    if first == 0:
        return float(n[0])
    x0, x1 = np.log(n[first - 1]), np.log(n[first])
    return float(np.exp(x0 + (x1 - x0) * gap[first - 1] / (gap[first - 1] - gap[first])))


def analyse(ds: xr.Dataset) -> xr.Dataset:
    """Slopes with intervals, predictions, Algorithm 1's theory band and the crossovers."""
    n = ds["n"].values
    ds = ds.merge(predictions(ds))
    fits = np.full((ds.sizes["family"], ds.sizes["algorithm"], ds.sizes["eps"], 4), np.nan)
    for f, family in enumerate(ds["family"].values):
        for a, algorithm in enumerate(ds["algorithm"].values):
            for e, eps in enumerate(ds["eps"].values):
                where = {"family": family, "algorithm": algorithm, "eps": eps}
                fits[f, a, e, :3] = slope(n, ds["epochs"].sel(where).values)
                fits[f, a, e, 3] = theory_slope(n, ds["predicted_epochs"].sel(where).values)
    names = ("slope", "slope_low", "slope_high", "predicted_slope")
    for i, name in enumerate(names):
        ds[name] = (("family", "algorithm", "eps"), fits[..., i])
    ds["slope"].attrs["long_name"] = "OLS slope of log epochs on log n (all runs)"
    ds["predicted_slope"].attrs["long_name"] = "log-log slope of the predicted epochs"
    median = ds["epochs"].median("seed")
    deterministic = median.sel(algorithm=list(DETERMINISTIC)).min("algorithm")
    predicted_det = ds["predicted_epochs"].sel(algorithm=list(DETERMINISTIC)).min("algorithm")
    cross = np.full((ds.sizes["family"], ds.sizes["eps"], 2), np.nan)
    for f, family in enumerate(ds["family"].values):
        vr = "vr_halpern" if family == "cocoercive" else "inexact_vr_halpern"
        for e, eps in enumerate(ds["eps"].values):
            where = {"family": family, "eps": eps}
            cross[f, e, 0] = crossover(
                n, median.sel({**where, "algorithm": vr}).values, deterministic.sel(where).values
            )
            cross[f, e, 1] = crossover(
                n,
                ds["predicted_epochs"].sel({**where, "algorithm": vr}).values,
                predicted_det.sel(where).values,
            )
    ds["crossover_n"] = (("family", "eps"), cross[..., 0])
    ds["predicted_crossover_n"] = (("family", "eps"), cross[..., 1])
    ds["crossover_n"].attrs["long_name"] = "smallest n where VR-Halpern beats every deterministic"
    return ds


def figure(ds: xr.Dataset, path) -> Figure:
    """Epochs to eps against n (log-log): median and interquartile band, predictions dashed."""
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    n = ds["n"].values
    colours = dict(zip(ds["algorithm"].values, [f"C{i}" for i in range(10)], strict=False))
    for row, family in enumerate(ds["family"].values):
        for col, eps in enumerate(ds["eps"].values):
            ax = axes[row, col]
            for algorithm in ds["algorithm"].values:
                where = {"family": family, "algorithm": algorithm, "eps": eps}
                runs = ds["epochs"].sel(where).values
                if np.isnan(runs).all():
                    continue
                q1, med, q3 = np.nanpercentile(runs, [25, 50, 75], axis=1)
                b = float(ds["slope"].sel(where))
                colour = colours[algorithm]
                fitted = "too few runs" if np.isnan(b) else f"{b:+.2f}"
                ax.plot(n, med, "o-", color=colour, label=f"{LABELS[algorithm]}: {fitted}")
                ax.fill_between(n, q1, q3, color=colour, alpha=0.2, lw=0)
                ax.plot(n, ds["predicted_epochs"].sel(where).values, "--", color=colour, lw=1)
            ax.set(xscale="log", yscale="log")
            ax.set_title(f"{family} family, epochs to residual {eps:g}", fontsize=10)
            ax.legend(fontsize=7, title="method: fitted slope", title_fontsize=7)
            if row == 1:
                ax.set_xlabel("number of components n")
            if col == 0:
                ax.set_ylabel("epochs (oracle calls / n)")
    fig.suptitle(
        "median and interquartile band over seeds; dashed: predicted (VR: 1 + K cost(n)/n, "
        "deterministic: constant; constants fitted)",
        fontsize=9,
    )
    fig.savefig(path, dpi=130)
    return fig


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    ns = integer_axis(axes, "n", least=2)
    # unrolled threefry: the same draws, compiled faster (docs/sweep.md, Randomness)
    with jax.enable_x64(True), sweep.unrolled_threefry():
        ds = analyse(simulate(np.sort(ns), options.seeds, options.quick))
    paths = save_both(ds, options.out, NAME)
    figure(ds, options.out / f"{NAME}.png")
    return summary(ds, paths + [options.out / f"{NAME}.png"])


def summary(ds: xr.Dataset, paths: list) -> str:
    lines = [f"wrote {', '.join(str(p) for p in paths)}"]
    for family in ds["family"].values:
        for eps in ds["eps"].values:
            where = {"family": family, "eps": eps}
            parts = []
            for algorithm in ds["algorithm"].values:
                b = ds["slope"].sel({**where, "algorithm": algorithm})
                if np.isnan(float(b)):
                    continue
                lo = float(ds["slope_low"].sel({**where, "algorithm": algorithm}))
                hi = float(ds["slope_high"].sel({**where, "algorithm": algorithm}))
                parts.append(f"{LABELS[algorithm]} {float(b):+.2f} [{lo:+.2f}, {hi:+.2f}]")
            cross = float(ds["crossover_n"].sel(where))
            pred = float(ds["predicted_crossover_n"].sel(where))
            vr = LABELS["vr_halpern" if family == "cocoercive" else "inexact_vr_halpern"]
            wins = "never" if np.isnan(cross) else f"from n = {cross:.0f}"
            predicted = "never" if np.isnan(pred) else f"from n = {pred:.0f}"
            lines.append(
                f"{family}, eps {eps:g}: slopes (95% CI) {'; '.join(parts)}; {vr} beats every "
                f"deterministic method {wins} (predicted {predicted})"
            )
    return "\n".join(lines)


EXPERIMENT = experiment(SPEC, run)
