"""Optimal learning rate against batch size: final loss over (lr, B), lr_opt ~ B^gamma.

A fixed small model and data set: a one-hidden-layer tanh MLP of width 32 (equinox) on the
digits parity task (`theorytk.datasets.digits`, 1200 training / 597 held-out examples), trained
by plain SGD (optax) on the logistic loss for a fixed number of epochs, minibatches of B
examples drawn without replacement within each epoch. The batch size is a static axis (it sets
the minibatch shape and the number of steps, epochs x 1200 / B), the learning rate a dynamic
one, seeds averaged. The final training loss over (B, lr) is the phase diagram; the optimal
learning rate per batch size is the argmin over the lr grid refined by a parabola in log lr
through the three points around it, and lr_opt = c B^gamma is fitted in log space
(`theorytk.fit.fit_power_law(..., space="log")`, 95% Student-t interval), together with a
log-log fit with a curvature term that gives the local exponent at the smallest and the largest B
(the curve bends where a fixed epoch budget leaves large batches too few steps). The SGD
temperature lines T = lr / B = const (the T of the perceptron experiment) are overlaid: along
them SGD has the same noise scale, and the linear scaling rule (gamma = 1) follows them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from experiments._experiment import (
    Options,
    end_slopes,
    experiment,
    format_exponent,
    run_simulation,
    save_both,
)
from experiments._specs import LR_BATCH as SPEC
from theorytk import datasets, fit, plot, sweep

NAME = "lr_batch"
N_TRAIN = 1200
WIDTH = 32


class LrBatchTask(eqx.Module):
    """The fixed recipe: `epochs` passes of SGD over the training set (static)."""

    epochs: int = eqx.field(static=True)


def batch_sizes(quick: bool) -> list[int]:
    return [8, 16, 32, 64, 128] if quick else [4, 8, 16, 32, 64, 128, 256]


def _data() -> tuple[jax.Array, ...]:
    return tuple(jnp.asarray(a) for a in datasets.digits_split("parity", n_train=N_TRAIN))


BATCH = sweep.integers_in(1, N_TRAIN)


@sweep.domain(lr=sweep.POSITIVE, B=BATCH)
def simulate(params: dict, key: jax.Array, *, config: LrBatchTask) -> dict[str, jax.Array]:
    """SGD at learning rate params["lr"] with batch size params["B"]; final losses."""
    x_train, y_train, x_test, y_test = _data()
    batch = int(params["B"])
    per_epoch = N_TRAIN // batch
    k_init, k_order = jax.random.split(key)
    model = eqx.nn.MLP(64, "scalar", WIDTH, 1, activation=jnp.tanh, key=k_init)
    optimizer = optax.sgd(params["lr"])
    weights, structure = eqx.partition(model, eqx.is_array)

    def loss(w: eqx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.mean(jax.nn.softplus(-y * jax.vmap(eqx.combine(w, structure))(x)))

    def step(carry: tuple, rows: jax.Array) -> tuple:
        w, state = carry
        grads = jax.grad(loss)(w, x_train[rows], y_train[rows])
        updates, state = optimizer.update(grads, state, w)
        return (optax.apply_updates(w, updates), state), None

    def epoch(carry: tuple, k: jax.Array) -> tuple:
        order = jax.random.permutation(k, N_TRAIN)[: per_epoch * batch]
        carry, _ = jax.lax.scan(step, carry, order.reshape(per_epoch, batch))
        return carry, None

    keys = jax.random.split(k_order, config.epochs)
    (weights, _), _ = jax.lax.scan(epoch, (weights, optimizer.init(weights)), keys)
    return {
        "train_loss": loss(weights, x_train, y_train),
        "test_loss": loss(weights, x_test, y_test),
    }


def optimal_lr(loss: xr.DataArray) -> np.ndarray:
    """Per batch size: argmin over lr of `loss` (dims B, lr), refined by a parabola in log lr.

    Non-finite losses (diverged runs) count as +inf. At an edge of the lr grid the grid value
    is returned (the optimum may lie beyond it).
    """
    log_lr = np.log(loss["lr"].values)
    values = np.where(np.isfinite(loss.values), loss.values, np.inf)
    out = []
    for row in values:
        i = int(np.argmin(row))
        if 0 < i < len(row) - 1 and np.all(np.isfinite(row[i - 1 : i + 2])):
            c2, c1, _ = np.polyfit(log_lr[i - 1 : i + 2], row[i - 1 : i + 2], 2)
            out.append(np.exp(-c1 / (2 * c2)) if c2 > 0 else np.exp(log_lr[i]))
        else:
            out.append(np.exp(log_lr[i]))
    return np.asarray(out)


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    config = LrBatchTask(epochs=4 if options.quick else 8)
    grid = sweep.Grid(
        B=sweep.static(batch_sizes(options.quick)), lr=axes["lr"], seed=range(options.seeds)
    )
    ds = run_simulation(simulate, grid, options, NAME, config=config)
    mean = sweep.seed_mean(ds)
    B = mean["B"].values.astype(float)
    loss = mean["train_loss"].where(mean["status"] == sweep.Status.OK)
    lr_opt = optimal_lr(loss.transpose("B", "lr"))
    law = fit.fit_power_law(B, lr_opt, with_constant=False, space="log")
    lower, upper = law.ci(0.95)
    gamma = (-float(law.b), -float(upper[1]), -float(lower[1]))
    ds = ds.assign(lr_opt=("B", lr_opt))
    ds.attrs["gamma"] = gamma[0]
    ds.attrs["gamma_ci95"] = [gamma[1], gamma[2]]
    ds.attrs["gamma_estimator"] = law.estimator
    bends = end_slopes(B, lr_opt)
    if bends is not None:
        names = ("gamma_at_smallest_B", "gamma_at_largest_B", "gamma_curvature")
        for name, slope in zip(names, bends, strict=True):
            ds.attrs[name] = [slope.value, slope.low, slope.high]
    paths = save_both(ds, options.out, NAME)
    figure = _figure(mean, B, lr_opt, law, gamma, options)
    del figure
    return summary(B, lr_opt, gamma, law.estimator, bends, paths + [options.out / f"{NAME}.png"])


def _figure(mean: xr.Dataset, B: np.ndarray, lr_opt: np.ndarray, law, gamma, options: Options):
    lr = mean["lr"].values
    b_line = np.geomspace(B.min(), B.max(), 50)
    temperatures = np.geomspace(lr.min() / B.min(), lr.max() / B.max(), 4)
    lines = [
        (b_line, t * b_line, f"T = {t:.2g}", {"color": "white", "lw": 0.8})
        for t in temperatures[1:-1]
    ]
    lines.append((B, lr_opt, "measured optimal lr", {"marker": "o", "ls": "none", "color": "red"}))
    fitted = float(law.a) * b_line ** (-float(law.b))
    lines.append((b_line, fitted, f"fit ~ B^{gamma[0]:.2f} [{gamma[1]:.2f}, {gamma[2]:.2f}]"))
    mean = mean.copy()
    mean["train_loss"].attrs["long_name"] = "final training loss (seed mean)"
    mean["B"].attrs["long_name"] = "batch size B"
    mean["lr"].attrs["long_name"] = "learning rate lr"
    return plot.phase_diagram(
        mean,
        "train_loss",
        x="B",
        y="lr",
        log_color=True,
        lines=lines,
        title=f"SGD on digits, MLP width {WIDTH}; white lines: T = lr/B",
        path=options.out / f"{NAME}.png",
    )


def summary(
    B: np.ndarray,
    lr_opt: np.ndarray,
    gamma: tuple,
    estimator: str,
    bends: tuple | None,
    paths: list,
) -> str:
    pairs = ", ".join(f"{int(b)}: {lr:.3g}" for b, lr in zip(B, lr_opt, strict=True))
    out = (
        f"wrote {', '.join(str(p) for p in paths)}\n"
        f"lr_batch: optimal learning rate per batch size ({pairs}); "
        f"lr_opt ~ B^gamma with gamma = {gamma[0]:.3f} [95% CI {gamma[1]:.3f}, {gamma[2]:.3f}; "
        f"{estimator}] (linear scaling rule, constant T = lr/B: gamma = 1)"
    )
    if bends is not None:
        small, large, curvature = bends
        out += (
            f"\n  with a curvature term: local gamma at B = {B.min():g}: {format_exponent(small)}; "
            f"at B = {B.max():g}: {format_exponent(large)}; curvature {format_exponent(curvature)}"
        )
    return out


EXPERIMENT = experiment(SPEC, run)
