"""Where the NTK regime ends: the finite-width deviation of the empirical NTK of the finite
NTK-parameterised MLP (`init_mlp`, `apply_mlp`) from the analytic one, and its drift under
gradient descent."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from theorytk._validation import check_integer

from ._activations import get_activation
from ._empirical import empirical_ntk
from ._finite_mlp import MLPParams, apply_mlp, init_mlp
from ._mlp import mlp_kernels


class NTKRegimeTask(eqx.Module):
    """The static task of `simulate_ntk_regime`: data, network hyperparameters, training run.

    Inputs x_i (i < n) are uniform on the sphere of radius sqrt(d) (so x.x / d = 1), targets
    y_i = sin(x_i . u) with u ~ N(0, I_d / d), both drawn from `data_seed` (the same task for
    every seed: the seeds vary the initialisation). The network has `depth` hidden layers of
    width `width` and a scalar readout, z = sigma_w W h / sqrt(fan_in) + sigma_b b with W, b ~
    N(0, 1) (NTK parameterisation, `apply_mlp`). Training: `steps` steps of full-batch
    gradient descent on L = (1/2n) sum_i (f(x_i) - y_i)^2 with learning rate
    lr_fraction * 2n / lambda_max, the fraction `lr_fraction` of the stability limit of the
    linearised dynamics, lambda_max the largest eigenvalue of the analytic NTK on the
    training inputs.

    Args:
        n: number of training points.
        d: input dimension.
        activation: activation name known to `mlp_kernels` (e.g. "relu").
        sigma_w, sigma_b: weight and bias scales.
        steps: gradient-descent steps.
        lr_fraction: learning rate as a fraction of 2n / lambda_max, in (0, 1).
        data_seed: seed of the data.
    """

    n: int = eqx.field(static=True, default=32)
    d: int = eqx.field(static=True, default=8)
    activation: str = eqx.field(static=True, default="relu")
    sigma_w: float = eqx.field(static=True, default=math.sqrt(2.0))
    sigma_b: float = eqx.field(static=True, default=0.1)
    steps: int = eqx.field(static=True, default=200)
    lr_fraction: float = eqx.field(static=True, default=0.5)
    data_seed: int = eqx.field(static=True, default=0)

    def __check_init__(self) -> None:
        for name in ("n", "d", "steps"):
            check_integer(name, getattr(self, name))
        if not 0.0 < self.lr_fraction < 1.0:
            raise ValueError(f"lr_fraction must be in (0, 1), got {self.lr_fraction!r}")
        get_activation(self.activation)  # ValueError naming the allowed activations

    def data(self, dtype: Any) -> tuple[Float[Array, "n d"], Float[Array, " n"]]:
        """Training inputs on the sphere of radius sqrt(d) and targets sin(x . u)."""
        kx, ku = jax.random.split(jax.random.key(self.data_seed))
        x = jax.random.normal(kx, (self.n, self.d), dtype)
        x = x / jnp.linalg.norm(x, axis=1, keepdims=True) * jnp.sqrt(jnp.asarray(self.d, dtype))
        u = jax.random.normal(ku, (self.d,), dtype) / jnp.sqrt(jnp.asarray(self.d, dtype))
        return x, jnp.sin(x @ u)


def simulate_ntk_regime(
    params: Mapping[str, ArrayLike], key: Array, *, config: NTKRegimeTask
) -> dict[str, Array]:
    """Relative deviation from the analytic NTK at init and relative NTK change under GD.

        ntk_deviation = ||Theta_0 - Theta_inf||_F / ||Theta_inf||_F    at initialisation
        ntk_change    = ||Theta_T - Theta_0||_F / ||Theta_0||_F        after `steps` GD steps

    with Theta the empirical NTK of the finite network (`empirical_ntk`) and Theta_inf the
    analytic infinite-width NTK (`mlp_kernels`). Both vanish as width -> inf at fixed depth,
    ~ width^(-1/2) (Jacot et al. 2018; Lee et al. 2019), and grow with depth / width (Hanin &
    Nica, "Finite depth and width corrections to the neural tangent kernel", ICLR 2020).

    Args:
        params: "width" and "depth", concrete integers >= 1 (static sweep axes).
        key: PRNG key of the initialisation.
        config: the task.

    Returns:
        Scalars `ntk_deviation`, `ntk_change` and `train_loss` (L after training, relative to
        L at initialisation), in the default float dtype.
    """
    width, depth = _read_shape(params)
    dtype = jnp.result_type(float)
    x, y = config.data(dtype)
    analytic = mlp_kernels(
        x,
        depth=depth,
        activation=config.activation,
        sigma_w=config.sigma_w,
        sigma_b=config.sigma_b,
    ).ntk
    f = functools.partial(
        apply_mlp, activation=config.activation, sigma_w=config.sigma_w, sigma_b=config.sigma_b
    )
    theta0 = init_mlp(key, config.d, width=width, depth=depth, dtype=dtype)

    def loss(theta: MLPParams) -> Array:
        return 0.5 * jnp.mean((f(theta, x) - y) ** 2)

    lr = config.lr_fraction * 2.0 * config.n / jnp.linalg.eigvalsh(analytic)[-1]

    def step(theta: MLPParams, _: None) -> tuple[MLPParams, None]:
        grads = jax.grad(loss)(theta)
        return jax.tree.map(lambda p, g: p - lr * g, theta, grads), None

    theta_t, _ = jax.lax.scan(step, theta0, None, length=config.steps)
    # both kernels in one vmapped call: one compiled NTK instead of two
    pair = jax.tree.map(lambda a, b: jnp.stack([a, b]), theta0, theta_t)
    ntk0, ntk_t = jax.vmap(lambda theta: empirical_ntk(f, theta, x))(pair)
    return {
        "ntk_deviation": _relative(ntk0, analytic),
        "ntk_change": _relative(ntk_t, ntk0),
        "train_loss": loss(theta_t) / loss(theta0),
    }


def _relative(a: Array, b: Array) -> Array:
    """||a - b||_F / ||b||_F."""
    return jnp.linalg.norm(a - b) / jnp.linalg.norm(b)


def _read_shape(params: Mapping[str, ArrayLike]) -> tuple[int, int]:
    """(width, depth) as positive Python integers; ValueError otherwise."""
    shape = []
    for name in ("width", "depth"):
        if name not in params:
            raise ValueError(f"params must contain 'width' and 'depth', missing {name!r}")
        value = params[name]
        if isinstance(value, jax.core.Tracer) or float(value) != round(float(value)) or value < 1:
            raise ValueError(
                f"params[{name!r}] must be a concrete integer >= 1 (a static sweep axis), "
                f"got {value!r}"
            )
        shape.append(int(round(float(value))))
    return shape[0], shape[1]
