"""Prints the NTK numbers quoted in docs/ntk.md that no experiment or benchmark prints.

    python docs/ntk_numbers.py

Float64. 1. relu at large depth (tests/kernels/test_infinite_depth.py): (1 - rho_L) L^2
from rho_0 = 0 at L = 1024 and 4096 against 9 pi^2 / 2, L (K_L(0.99) - K_L(0)) and the range
of the normalised NTK at rho in {-0.5, 0, 0.5, 0.9, 0.99}. 2. A width-2048 relu network
trained by full-batch gradient descent against `gd_predictions` with the analytic NTK
(tests/kernels/test_predictions.py: 8 training and 4 test points, half the stability limit,
300 steps; depth 1 with seeds 0-3 and depth 2 with seeds 0-1): the largest gap at
t = 10, 100, 300 relative to the initial residual (train) and to the distance the predicted
test outputs travel plus that residual (test). 3. The empirical NTK of 128 one-hidden-layer
relu networks at widths 2048 and 4096 against the analytic NTK
(tests/kernels/test_mlp_kernels.py: 5 inputs, the same keys): the mean relative Frobenius
deviation +- its standard error, and their ratio (width^-1/2 predicts sqrt(2) = 1.41).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from theorytk import kernels  # noqa: E402

dual = kernels.dual_activation("relu")
_, rhos = jax.lax.scan(lambda r, _: (dual(r)[0],) * 2, jnp.zeros(()), None, length=4096)
for depth in (1024, 4096):
    print(
        f"relu, L = {depth}: (1 - rho_L) L^2 = {float((1 - rhos[depth - 1]) * depth**2):.2f} "
        f"(9 pi^2 / 2 = {9 * math.pi**2 / 2:.2f})"
    )
rho = jnp.array([-0.5, 0.0, 0.5, 0.9, 0.99])
k = np.asarray(kernels.deep_ntk(rho, "relu", [1024, 4096]))
for depth, row in zip((1024, 4096), k, strict=True):
    print(
        f"relu, L = {depth}: L (K_L(0.99) - K_L(0)) = {depth * (row[-1] - row[1]):.3f}, "
        f"normalised NTK {row.min():.4f}..{row.max():.4f} (3 log L / L = "
        f"{3 * math.log(depth) / depth:.4f})"
    )

CFG = dict(activation="relu", sigma_w=1.4, sigma_b=0.2)
net = functools.partial(kernels.apply_mlp, **CFG)
rng = np.random.default_rng(6)
x, xt = rng.standard_normal((8, 3)), rng.standard_normal((4, 3))
y = np.sin(x[:, 0]) + 0.5 * x[:, 1]
STEPS, TIMES = 300, (10, 100, 300)


def gaps(depth: int, seed: int) -> tuple[float, float]:
    theta = kernels.mlp_kernels(x, depth=depth, **CFG).ntk
    theta_test = kernels.mlp_kernels(xt, x, depth=depth, **CFG).ntk
    lr = y.size / np.linalg.eigvalsh(theta).max()  # half the stability limit
    params = kernels.init_mlp(jax.random.key(seed), 3, width=2048, depth=depth)

    def step(p, _):
        grad = jax.grad(lambda q: 0.5 * jnp.mean((net(q, x) - y) ** 2))(p)
        p = jax.tree_util.tree_map(lambda a, g: a - lr * g, p, grad)
        return p, (net(p, x), net(p, xt))

    f_train, f_test = jax.jit(lambda p: jax.lax.scan(step, p, None, length=STEPS)[1])(params)
    pred = kernels.gd_predictions(
        theta, theta_test, y, np.arange(1, STEPS + 1), lr, method="gd",
        fx_train_0=net(params, x), fx_test_0=net(params, xt),
    )  # fmt: skip
    residual = np.linalg.norm(y - net(params, x))
    train = max(np.linalg.norm(f_train[t - 1] - pred.train[t - 1]) / residual for t in TIMES)
    test = max(
        np.linalg.norm(f_test[t - 1] - pred.test[t - 1])
        / (np.linalg.norm(pred.test[t - 1] - pred.test[0]) + residual)
        for t in TIMES
    )
    return float(train), float(test)


for depth, seeds in ((1, range(4)), (2, range(2))):
    for seed in seeds:
        train, test = gaps(depth, seed)
        print(
            f"width 2048, depth {depth}, seed {seed}: largest gap train {train:.3f}, "
            f"test {test:.3f}"
        )


def mean_deviation(width: int, key) -> tuple[float, float]:
    """Mean and standard error of ||Theta_emp - Theta|| / ||Theta|| over 128 networks."""
    points = jnp.asarray(np.random.default_rng(0).standard_normal((5, 3)))
    cfg = dict(sigma_w=1.4, sigma_b=0.2)
    theta = kernels.mlp_kernels(points, depth=1, activation="relu", **cfg).ntk
    f = functools.partial(kernels.apply_mlp, activation="relu", **cfg)

    def deviation(k):
        params = kernels.init_mlp(k, 3, width=width, depth=1)
        empirical = kernels.empirical_ntk(f, params, points)
        return jnp.linalg.norm(empirical - theta) / jnp.linalg.norm(theta)

    values = np.asarray(jax.lax.map(jax.jit(deviation), jax.random.split(key, 128)))
    return float(values.mean()), float(values.std() / math.sqrt(values.size))


(small, small_se), (large, large_se) = (
    mean_deviation(2048, jax.random.key(1)),
    mean_deviation(4096, jax.random.key(2)),
)
ratio = small / large
ratio_se = ratio * math.hypot(small_se / small, large_se / large)
print(
    f"empirical NTK, one hidden layer, 128 networks: deviation {small:.4f} +- {small_se:.4f} "
    f"(width 2048), {large:.4f} +- {large_se:.4f} (4096), ratio {ratio:.2f} +- {ratio_se:.2f}"
)
