"""A real, small scaling law: MLPs on scikit-learn's digits over width x training-set size.

One recipe for every run: a one-hidden-layer tanh MLP (equinox) of width w, so
N = 66 w + 1 parameters, trained full-batch with Adam (optax, lr 3e-3) on the logistic loss
for a fixed number of steps on D training examples of the digits parity task
(`theorytk.datasets.digits`; D drawn per seed from a pool of 1200, 597 held out). The metric
is the held-out logistic loss, early-stopped (the least over checkpoints every 10 steps), as
in scaling studies that report the best loss of each run. Width is a static axis (one compile
per width), D a dynamic one (pad and mask), seeds averaged. The joint law
L(N, D) = E + A / N^alpha + B / D^beta is fitted to the seed means with
`theorytk.fit.fit_joint_law` (Huber on log residuals, bootstrap) with the irreducible loss E
fixed (setting `E`, default 0: the parity of a digit is a function of the image, and a fitted
E is driven to its bound 0 by these data), and the exponents are reported with 95% percentile
intervals conditional on that E.
"""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from experiments._experiment import (
    Options,
    UsageError,
    experiment,
    run_simulation,
    save_both,
)
from experiments._specs import SCALING as SPEC
from experiments._specs import SCALING_POOL as POOL
from experiments._specs import scaling_steps, scaling_widths
from theorytk import datasets, fit, plot, sweep

NAME = "scaling"
EVERY = 10  # steps between held-out evaluations
N_BOOTSTRAP = 200


class ScalingTask(eqx.Module):
    """The fixed recipe: steps of full-batch Adam at `lr` (static)."""

    steps: int = eqx.field(static=True)
    lr: float = eqx.field(static=True)


def n_params(width: int | np.ndarray) -> int | np.ndarray:
    """Parameters of the 64 -> width -> 1 MLP: weights and biases of both layers."""
    return 64 * width + width + width + 1


def _data() -> tuple[jax.Array, ...]:
    return tuple(jnp.asarray(a) for a in datasets.digits_split("parity", n_train=POOL))


TRAINING_SIZE = sweep.integers_in(1, POOL)


@sweep.domain(width=sweep.POSITIVE_INTEGER, n=TRAINING_SIZE)
def simulate(params: dict, key: jax.Array, *, config: ScalingTask) -> dict[str, jax.Array]:
    """Train one MLP of width params["width"] on params["n"] examples; held-out losses."""
    x_pool, y_pool, x_test, y_test = _data()
    k_data, k_init = jax.random.split(key)
    perm = jax.random.permutation(k_data, POOL)
    x_train, y_train = x_pool[perm], y_pool[perm]
    mask = (jnp.arange(POOL) < params["n"]).astype(x_train.dtype)
    model = eqx.nn.MLP(64, "scalar", int(params["width"]), 1, activation=jnp.tanh, key=k_init)
    optimizer = optax.adam(config.lr)
    weights, structure = eqx.partition(model, eqx.is_array)

    def loss(w: eqx.Module, x: jax.Array, y: jax.Array, rows: jax.Array) -> jax.Array:
        margins = y * jax.vmap(eqx.combine(w, structure))(x)
        return jnp.sum(rows * jax.nn.softplus(-margins)) / jnp.sum(rows)

    def step(carry: tuple, _: None) -> tuple:
        w, state = carry
        grads = jax.grad(loss)(w, x_train, y_train, mask)
        updates, state = optimizer.update(grads, state, w)
        return (optax.apply_updates(w, updates), state), None

    def block(carry: tuple, _: None) -> tuple:
        carry, _ = jax.lax.scan(step, carry, None, length=EVERY)
        return carry, loss(carry[0], x_test, y_test, jnp.ones_like(y_test))

    carry = (weights, optimizer.init(weights))
    (weights, _), test_losses = jax.lax.scan(block, carry, None, config.steps // EVERY)
    return {
        "test_loss": jnp.min(test_losses),
        "final_test_loss": test_losses[-1],
        "train_loss": loss(weights, x_train, y_train, mask),
    }


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    config = ScalingTask(steps=scaling_steps(options.quick), lr=3e-3)
    irreducible = float({**SPEC.settings(options.quick), **options.settings}["E"])
    grid = sweep.Grid(
        width=sweep.static(scaling_widths(options.quick)), n=axes["n"], seed=range(options.seeds)
    )
    ds = run_simulation(simulate, grid, options, NAME, config=config)
    mean = sweep.seed_mean(ds)
    ok = mean["status"] == sweep.Status.OK
    N = xr.broadcast(n_params(mean["width"]), mean["n"])
    N_flat, D_flat = (np.asarray(v.where(ok)).ravel() for v in N)
    loss = np.asarray(mean["test_loss"].where(ok)).ravel()
    keep = np.isfinite(loss)
    check_below_least_loss(irreducible, loss[keep], options.out)
    with jax.enable_x64(True):  # the fit's tolerances need float64
        result = fit.fit_joint_law(
            N_flat[keep],
            D_flat[keep],
            loss[keep],
            n_bootstrap=N_BOOTSTRAP,
            key=jax.random.key(1),
            E=irreducible,
        )
    ds = ds.assign_coords(N=("width", n_params(ds["width"].values)))
    ds.attrs["joint_fit"] = result.summary()
    lower, upper = result.ci(0.95)
    for name in ("E", "A", "B", "alpha", "beta", "a_opt"):
        ds.attrs[name] = float(getattr(result, name))
        ds.attrs[f"{name}_ci95"] = [float(lower[name]), float(upper[name])]
    problems = unidentified(result)
    ds.attrs["identified"] = int(not problems)
    ds.attrs["not_identified"] = "; ".join(problems)
    paths = save_both(ds, options.out, NAME)
    title = (
        None
        if not problems
        else "fit NOT identified, drawn for reference only:\n" + "\n".join(problems)
    )
    figure = plot.iso_loss_contours(
        result,
        N_flat[keep],
        D_flat[keep],
        loss=loss[keep],
        title=title,
        path=options.out / f"{NAME}.png",
    )
    del figure
    band = plot.loss_vs_compute(
        result,
        N_flat[keep],
        D_flat[keep],
        loss[keep],
        title=title,
        path=options.out / f"{NAME}_compute.png",
    )
    del band
    return summary(result, paths + [options.out / f"{NAME}.png"], int(keep.sum()), problems)


def check_below_least_loss(irreducible: float, loss: np.ndarray, out: Path) -> None:
    """UsageError unless the fixed E lies in `fit_joint_law`'s bound [0, min(loss))
    (`fit.check_fixed_irreducible_loss`), known only once the simulation has run and been
    stored."""
    try:
        fit.check_fixed_irreducible_loss(irreducible, loss)
    except ValueError as error:
        raise UsageError(
            f"--set {error}, below the least held-out loss measured (a mean over seeds); the "
            f"simulation is stored in {out / 'checkpoints'}: rerun with --resume and a lower "
            "--set E to reuse it"
        ) from None


def unidentified(result: fit.JointLawFit) -> list[str]:
    """Why the joint fit does not identify its exponents (empty if it does): an exponent
    whose 95% bootstrap interval spans more than a factor 2 (or reaches 0)."""
    problems = []
    lower, upper = result.ci(0.95)
    for name in ("alpha", "beta"):
        low, high = float(lower[name]), float(upper[name])
        if not (low > 0 and high < 2 * low):
            problems.append(f"{name} 95% CI [{low:.3g}, {high:.3g}] spans more than a factor 2")
    return problems


def summary(result: fit.JointLawFit, paths: list, cells: int, problems: list[str]) -> str:
    lower, upper = result.ci(0.95)

    def show(name: str) -> str:
        return (
            f"{name} = {float(getattr(result, name)):.3f} "
            f"[95% CI {float(lower[name]):.3f}, {float(upper[name]):.3f}]"
        )

    return (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"scaling: L(N, D) = E + A/N^alpha + B/D^beta fitted to {cells} (width, n) cells "
        f"(seed means, {float(result.converged_fraction):.0%} of {result.law.n_starts} starts "
        f"converged): {show('alpha')}, {show('beta')}, {show('a_opt')}, "
        f"E = {float(result.E):.3g}{' (fixed, --set E)' if result.E_fixed else ''} "
        f"(Huber on log residuals, bootstrap percentile intervals)"
        + ("" if not problems else f"\n  NOT identified: {'; '.join(problems)}")
    )


EXPERIMENT = experiment(SPEC, run)
