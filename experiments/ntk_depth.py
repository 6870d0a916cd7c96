"""Infinite-depth limits of the NTK classifier: test error vs depth for three families.

Radhakrishnan, Belkin & Uhler ("Wide and deep neural networks achieve optimality for
classification") show that the NTK classifier sign(K_L(x, X) K_L(X, X)^-1 y) of a network of
depth L -> infinity becomes one of three classifiers, fixed by the activation's Hermite
coefficients (`theorytk.kernels.depth_limit`): majority vote (relu), a singular kernel
classifier (erf; and the activation of `singular_activation` whose kernel has the singular
exponent alpha = 2 of the Hilbert kernel of the data's dimension), or 1-nearest neighbour (a
mix of the Hermite polynomials h_2 and h_3). On a synthetic two-class problem on a cap of the
sphere S^2 (a curved class boundary, about 60/40 classes; one draw of training and test data
per seed) the test error of the depth-L classifier is swept over L and drawn against the
error of its predicted limit (dashed).

Each family's depths stop before its normalised kernel underflows in float64 (docs/ntk.md,
"Numerics"): depths of a family beyond its last are not run (NaN in the data).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from jaxtyping import Array, Float

from experiments._experiment import Options, experiment, integer_axis, save_both
from experiments._specs import NTK_DEPTH as SPEC
from theorytk import kernels

NAME = "ntk_depth"
# family -> (label, the deepest depth before the normalised kernel underflows in float64)
FAMILIES = {
    "relu": ("majority vote (relu)", 2048),
    "erf": ("singular kernel (erf, alpha = 0.89)", 1024),
    "singular": ("singular kernel (alpha = 2 = dimension)", 256),
    "nearest": ("1-nearest neighbour (h2/h3 mixture)", 8),
}
COLOURS = {"relu": "C0", "erf": "C1", "singular": "C3", "nearest": "C2"}
# A training Gram whose condition number exceeds 1/eps is singular to float64 rounding: its
# classifier's decisions are rounding noise (measured on 60 points: the h2/h3 and h1+h3
# kernels at L = 1-2, 1e17-6e19; h1+h3 at L = 256, 1e80), so those depths are NaN.
MAX_CONDITION = 1 / float(np.finfo(np.float64).eps)


@functools.cache
def activation(family: str) -> str | kernels.Hermite:
    """The family's activation, its Hermite coefficients in float64 however JAX is set
    (build it outside any trace: its limit is read from concrete coefficients)."""
    with jax.enable_x64(True):
        return {
            "relu": lambda: "relu",
            "erf": lambda: "erf",
            "singular": lambda: kernels.singular_activation(2.0, degree=3),
            "nearest": lambda: kernels.Hermite(jnp.array([0.0, 0.0, 0.8, 0.6])),
        }[family]()


class DepthTask(eqx.Module):
    """The two-class problem and the activation family.

    Inputs: z ~ N(e_1, 0.16 I_3) projected to the unit sphere (a cap around e_1); labels
    y = sign(x_2 + 2 x_3^2 - 0.05) (a curved boundary). One draw of `n_train` training and
    `n_test` test points per seed.
    """

    family: str = eqx.field(static=True)
    n_train: int = eqx.field(static=True, default=60)
    n_test: int = eqx.field(static=True, default=1000)

    def __check_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {list(FAMILIES)}, got {self.family!r}")

    def data(self, key: Array) -> tuple[Float[Array, "n 3"], Float[Array, " n"]]:
        """`n_train + n_test` points on the cap and their labels (training points first)."""
        z = 0.4 * jax.random.normal(key, (self.n_train + self.n_test, 3))
        x = z.at[:, 0].add(1.0)
        x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
        return x, jnp.where(x[:, 1] + 2 * x[:, 2] ** 2 > 0.05, 1.0, -1.0)


def errors(
    task: DepthTask, key: Array, *, act: str | kernels.Hermite, depths: Sequence[int]
) -> dict[str, Array]:
    """Test errors of the NTK classifier at every depth (one pass) and of the limit.

    Returns:
        `error` of shape (len(depths),), NaN where the training Gram's condition number
        exceeds `MAX_CONDITION`, and the scalar `limit_error`.
    """
    x, y = task.data(key)
    x_train, y_train, x_test = x[: task.n_train], y[: task.n_train], x[task.n_train :]
    y_test = y[task.n_train :]
    decisions = kernels.ntk_classifier(x_train, y_train, x_test, act, depths)
    limit = kernels.limit_classifier(x_train, y_train, x_test, act)
    gram = jnp.clip(x_train @ x_train.T, -1.0, 1.0)  # the data are on the unit sphere
    condition = jnp.linalg.cond(kernels.deep_ntk(gram, kernels.dual_activation(act), depths))
    error = jnp.mean(jnp.sign(decisions) != y_test, axis=-1)
    return {
        "error": jnp.where(condition <= MAX_CONDITION, error, jnp.nan),
        "limit_error": jnp.mean(limit != y_test),
    }


def run(axes: dict[str, np.ndarray], options: Options) -> str:
    depths = np.sort(integer_axis(axes, "depth"))
    n_test = 400 if options.quick else 1000
    keys = jax.random.split(jax.random.key(0), options.seeds)  # the same data for every family
    families = []
    with jax.enable_x64(True):  # the normalised kernels span hundreds of orders of magnitude
        for family, (_, deepest) in FAMILIES.items():
            run_depths = depths[depths <= deepest].tolist()
            task = DepthTask(family, n_test=n_test)
            out = jax.jit(
                jax.vmap(functools.partial(errors, task, act=activation(family), depths=run_depths))
            )(keys)
            error = np.full((depths.size, options.seeds), np.nan)
            error[: len(run_depths)] = np.asarray(out["error"]).T
            families.append(
                xr.Dataset(
                    {
                        "error": (("depth", "seed"), error),
                        "limit_error": ("seed", np.asarray(out["limit_error"])),
                    }
                )
            )
    ds = xr.concat(families, dim="family").assign_coords(
        family=list(FAMILIES), depth=depths, seed=np.arange(options.seeds)
    )
    ds.attrs["note"] = (
        "NaN: depths beyond a family's deepest (float64 underflow) are not run, and a depth "
        f"whose training Gram has condition number > {MAX_CONDITION:g} is rounding noise"
    )
    paths = save_both(ds, options.out, NAME)
    png = options.out / f"{NAME}.png"
    mean = seed_statistics(ds)
    figure(mean, png)
    return summary(mean, paths + [png])


def seed_statistics(ds: xr.Dataset) -> xr.Dataset:
    """Mean over seeds of each variable and its standard error (`<name>_sem`)."""
    sem = ds.std("seed", ddof=1) / np.sqrt(ds.sizes["seed"]) if ds.sizes["seed"] > 1 else ds * 0
    mean = ds.mean("seed")
    return mean.assign({f"{name}_sem": sem[name] for name in ds.data_vars})


def figure(mean: xr.Dataset, path: object) -> None:
    """Test error vs depth per family (seed mean +- SE), the limits dashed."""
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    for family, (label, _) in FAMILIES.items():
        at = mean.sel(family=family).dropna("depth", subset=["error"])
        colour = COLOURS[family]
        last = int(at["depth"].max())
        if last < int(mean["depth"].max()):
            label = f"{label}; ends at L = {last} (kernel underflows in float64 beyond)"
        ax.errorbar(
            at["depth"], at["error"], yerr=at["error_sem"], fmt="o-", ms=4, color=colour,
            label=label, capsize=2,
        )  # fmt: skip
        limit = float(at["limit_error"])
        ax.axhline(limit, color=colour, ls="--", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("depth L (hidden layers)")
    ax.set_ylabel("test error of the depth-L NTK classifier")
    ax.set_title("NTK classifiers approach their infinite-depth limits (dashed)", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(mean: xr.Dataset, paths: list) -> str:
    """Per family: the error at its deepest depth and the limit's error."""
    parts = []
    for family in FAMILIES:
        at = mean.sel(family=family).dropna("depth", subset=["error"])
        last = at.isel(depth=-1)
        parts.append(
            f"{family}: error {float(last['error']):.3f} +- {float(last['error_sem']):.3f} at "
            f"L = {int(last['depth'])} (limit {float(at['limit_error']):.3f})"
        )
    return f"wrote {', '.join(str(p) for p in paths)}\n" + "; ".join(parts)


EXPERIMENT = experiment(SPEC, run)
