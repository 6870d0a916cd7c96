"""The vanishing variance problem (Tian et al., 2024): averaging n independently initialised
models divides the weight variance by about n and delays training; variance-corrected
averaging (`gossip.variance_corrected_gossip`) removes the delay.

n nodes on the complete graph (each averages its own and its n - 1 neighbours' models, W =
11^T/n) train an MLP each on scikit-learn's digits split by Dirichlet(beta), with
independent Xavier initialisations, K local SGD steps per round and one gossip step (plain
or corrected, the authors' eps = 1e-4). Per round the experiment records the mean test
accuracy of the nodes' models and their weight variance relative to the initial one, over
n = 2 ... 32 and several seeds (the same initialisations and minibatches for plain and
corrected, so the differences are paired), and the rounds until the mean node accuracy
first reaches a target.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from experiments._experiment import Options, experiment, integer_axis, save_both
from experiments._gossip_stats import mean_interval
from experiments._specs import VANISHING_VARIANCE as SPEC
from theorytk import gossip

NAME = "vanishing_variance"


def curves(n: int, setting: dict, seeds: int) -> xr.Dataset:
    """Per-round node accuracy and weight variance, plain and corrected, over seeds."""
    config = gossip.DigitsConfig(
        n_nodes=n,
        betas=(float(setting["beta"]),),
        topology="complete",
        rounds=int(setting["rounds"]),
        local_steps=int(setting["local_steps"]),
        max_gossip_steps=1,
        lr=float(setting["lr"]),
        radius=0.0,
    )

    def one(corrected, key):
        params = {"beta": config.betas[0], "Q": 1.0, "corrected": corrected}
        return gossip.digits_curves(params, key, config=config)

    keys = jax.random.split(jax.random.key(n), seeds)
    both = jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))(jnp.array([0.0, 1.0]), keys)
    coords = {
        "corrected": [0.0, 1.0],
        "seed": np.arange(seeds),
        "round": np.arange(1, config.rounds + 1),
    }
    return xr.Dataset(
        {k: (("corrected", "seed", "round"), np.asarray(v)) for k, v in both.items()}, coords=coords
    )


def rounds_to(accuracy: xr.DataArray, target: float) -> xr.DataArray:
    """First round at which the accuracy reaches `target` (NaN if never)."""
    reached = accuracy >= target
    first = reached.argmax("round") + 1
    return first.where(reached.any("round")).astype(float)


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    sizes = integer_axis(axes, "n", least=2)
    setting = {**SPEC.settings(options.quick), **options.settings}
    ds = xr.concat(
        [curves(int(n), setting, options.seeds) for n in sizes],
        dim=xr.DataArray(sizes, dims="n"),
    )
    ds["rounds_to_target"] = rounds_to(ds["node_accuracy"], setting["target"])
    ds = ds.assign_attrs(target=setting["target"])
    paths = save_both(ds, options.out, NAME)
    figure(ds, options.out / f"{NAME}.png")
    return summary(ds, paths + [options.out / f"{NAME}.png"])


def delay(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per n: mean paired (plain - corrected) rounds to target, 95% t half-width."""
    diff = ds["rounds_to_target"].sel(corrected=0.0) - ds["rounds_to_target"].sel(corrected=1.0)
    return mean_interval(diff.transpose("n", "seed").values)


def figure(ds: xr.Dataset, path) -> None:
    """Accuracy and weight variance against rounds (bands: 95% t intervals), rounds to target."""
    fig = Figure(figsize=(17, 5), layout="constrained")
    acc_ax, var_ax, rt_ax = fig.subplots(1, 3)
    rounds = ds["round"].values
    styles = {0.0: ("--", "plain"), 1.0: ("-", "corrected")}
    for k, n in enumerate(ds.n.values):
        for corrected, (ls, label) in styles.items():
            for ax, var in ((acc_ax, "node_accuracy"), (var_ax, "weight_variance")):
                sel = ds[var].sel(n=n, corrected=corrected).transpose("round", "seed").values
                mean, half = mean_interval(sel)
                ax.plot(rounds, mean, ls=ls, color=f"C{k}", label=f"n = {int(n)}, {label}")
                ax.fill_between(rounds, mean - half, mean + half, color=f"C{k}", alpha=0.15)
    acc_ax.axhline(ds.attrs["target"], color="grey", lw=0.8, label="target accuracy")
    acc_ax.set_ylabel("mean test accuracy of the nodes' models")
    var_ax.set_yscale("log")
    var_ax.set_ylabel("weight variance / initial variance")
    for ax in (acc_ax, var_ax):
        ax.set_xlabel("round")
        ax.legend(fontsize=7, ncol=2)
    acc_ax.set_title("test accuracy (bands: 95% t intervals over seeds)")
    var_ax.set_title("weight variance: plain averaging shrinks it ~ 1/n")
    for corrected, (ls, label) in styles.items():
        mean, half = mean_interval(
            ds["rounds_to_target"].sel(corrected=corrected).transpose("n", "seed").values
        )
        rt_ax.errorbar(ds.n.values, mean, yerr=half, fmt="o" + ls, capsize=4, label=label)
    rt_ax.set_xscale("log", base=2)
    rt_ax.set_xlabel("number of models averaged n")
    rt_ax.set_ylabel(f"rounds to accuracy {ds.attrs['target']:g}")
    rt_ax.set_title("rounds to target (95% t intervals)")
    rt_ax.legend(fontsize=8)
    rt_ax.margins(x=0.1, y=0.15)
    fig.savefig(path, dpi=110)


def summary(ds: xr.Dataset, paths: list) -> str:
    extra, half = delay(ds)
    variance = ds["weight_variance"].isel(round=0).mean("seed")
    parts = [
        f"n = {int(n)}: variance after round 1 plain {float(variance.sel(n=n, corrected=0.0)):.3f} "
        f"(1/n = {1 / n:.3f}) corrected {float(variance.sel(n=n, corrected=1.0)):.3f}, "
        f"plain needs {m:+.1f} +- {h:.1f} rounds more"
        for n, m, h in zip(ds.n.values, extra, half, strict=True)
    ]
    return (
        f"wrote {', '.join(str(p) for p in paths)}\nvanishing_variance (target accuracy "
        f"{ds.attrs['target']:g}, {ds.sizes['seed']} seeds, paired 95% t intervals): "
        + "; ".join(parts)
    )


EXPERIMENT = experiment(SPEC, run)
