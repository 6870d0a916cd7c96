"""NTK setups whose numbers the tests check and docs/ntk_numbers.py prints.

The tests import this module from their own folder (pytest puts it on the path); the script
puts tests/kernels on the path first. Both run in float64.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from theorytk import kernels

RELU_DEPTHS = (1024, 4096)
RELU_RHO = (-0.5, 0.0, 0.5, 0.9, 0.99)


def relu_correlations(length: int = 4096) -> jax.Array:
    """rho_1, ..., rho_length of the normalised relu dual iterated from rho_0 = 0."""
    dual = kernels.dual_activation("relu")
    _, rhos = jax.lax.scan(lambda r, _: (dual(r)[0],) * 2, jnp.zeros(()), None, length=length)
    return rhos


def deep_relu_ntk() -> np.ndarray:
    """The normalised relu NTK at depths RELU_DEPTHS (rows) and correlations RELU_RHO."""
    return np.asarray(kernels.deep_ntk(jnp.array(RELU_RHO), "relu", list(RELU_DEPTHS)))


SIGMAS = dict(sigma_w=1.4, sigma_b=0.2)
relu_net = functools.partial(kernels.apply_mlp, activation="relu", **SIGMAS)


def regression_inputs(seed: int, n: int = 8, m: int = 4) -> tuple[np.ndarray, ...]:
    """n training and m test inputs in d = 3 and the smooth targets y = sin(x_1) + x_2 / 2."""
    rng = np.random.default_rng(seed)
    x, xt = rng.standard_normal((n, 3)), rng.standard_normal((m, 3))
    return x, xt, np.sin(x[:, 0]) + 0.5 * x[:, 1]


def train_wide_network(depth: int, width: int, seed: int, steps: int):
    """Full-batch GD on (1/2N) sum (f - y)^2 of a finite relu network and its analytic
    prediction (`gd_predictions` with the NTK, from the network's outputs at initialisation).

    8 training and 4 test inputs (`regression_inputs(6)`), learning rate at half the
    stability limit, N / lambda_max(Theta). Returns the network's train and test outputs
    after every step, the prediction at steps 1..`steps` and the initial residual y - f_0.
    """
    x, xt, y = regression_inputs(6)
    cfg = dict(activation="relu", depth=depth, **SIGMAS)
    theta = kernels.mlp_kernels(x, **cfg).ntk
    theta_test = kernels.mlp_kernels(xt, x, **cfg).ntk
    lr = y.size / np.linalg.eigvalsh(theta).max()  # half the stability limit
    params = kernels.init_mlp(jax.random.key(seed), 3, width=width, depth=depth)

    def step(p, _):
        grad = jax.grad(lambda q: 0.5 * jnp.mean((relu_net(q, x) - y) ** 2))(p)
        p = jax.tree_util.tree_map(lambda a, g: a - lr * g, p, grad)
        return p, (relu_net(p, x), relu_net(p, xt))

    f_train, f_test = jax.jit(lambda p: jax.lax.scan(step, p, None, length=steps)[1])(params)
    pred = kernels.gd_predictions(
        theta, theta_test, y, np.arange(1, steps + 1), lr, method="gd",
        fx_train_0=relu_net(params, x), fx_test_0=relu_net(params, xt),
    )  # fmt: skip
    return f_train, f_test, pred, y - relu_net(params, x)


GD_STEPS, GD_TIMES = 300, (10, 100, 300)


def gd_gaps(depth: int, seed: int, width: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The gap between the trained network and the prediction at steps GD_TIMES, relative to
    the initial residual (train) and to the distance the predicted test outputs travel plus
    that residual (test): two arrays (len(GD_TIMES),)."""
    f_train, f_test, pred, residual0 = train_wide_network(depth, width, seed, GD_STEPS)
    residual = np.linalg.norm(residual0)
    train, test = [], []
    for t in GD_TIMES:
        moved = np.linalg.norm(pred.test[t - 1] - pred.test[0]) + residual
        train.append(np.linalg.norm(f_train[t - 1] - pred.train[t - 1]) / residual)
        test.append(np.linalg.norm(f_test[t - 1] - pred.test[t - 1]) / moved)
    return np.array(train), np.array(test)


def empirical_ntk(key, x, width, depth, sigma_w, sigma_b):
    """Theta_ij = sum over all parameters of df(x_i)/dp df(x_j)/dp, by jax.jacrev."""
    params = kernels.init_mlp(key, x.shape[1], width=width, depth=depth, dtype=x.dtype)
    f = functools.partial(kernels.apply_mlp, activation="relu", sigma_w=sigma_w, sigma_b=sigma_b)
    jac = jax.jacrev(f)(params, x)
    return sum(
        jnp.tensordot(j, j, axes=(tuple(range(1, j.ndim)),) * 2)
        for j in jax.tree_util.tree_leaves(jac)
    )


def mean_ntk_error(x, width, depth, seeds, key) -> tuple[float, float]:
    """Mean and standard error of ||Theta_emp - Theta|| / ||Theta|| over `seeds` relu
    networks (keys split from `key`) against the analytic NTK."""
    theta = kernels.mlp_kernels(x, depth=depth, activation="relu", **SIGMAS).ntk
    theta = jnp.asarray(theta, x.dtype)

    def error(k):
        emp = empirical_ntk(k, x, width, depth, **SIGMAS)
        return jnp.linalg.norm(emp - theta) / jnp.linalg.norm(theta)

    errors = jax.lax.map(jax.jit(error), jax.random.split(key, seeds))
    return float(errors.mean()), float(errors.std() / math.sqrt(seeds))


def one_layer_ntk_deviations() -> tuple[tuple[float, float], tuple[float, float]]:
    """`mean_ntk_error` of 128 one-hidden-layer networks at width 2048 (key 1) and 4096
    (key 2), on 5 standard normal inputs in d = 3 (`default_rng(0)`)."""
    x = jnp.asarray(np.random.default_rng(0).standard_normal((5, 3)))
    return (
        mean_ntk_error(x, 2048, 1, 128, jax.random.key(1)),
        mean_ntk_error(x, 4096, 1, 128, jax.random.key(2)),
    )
