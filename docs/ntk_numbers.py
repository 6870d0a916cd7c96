"""Prints the NTK numbers quoted in docs/ntk.md that no experiment or benchmark prints.

    python docs/ntk_numbers.py

Float64, with the setups of tests/kernels/ntk_setups.py that the tests run. 1. relu at
large depth (tests/kernels/test_infinite_depth.py): (1 - rho_L) L^2 from rho_0 = 0 at
L = 1024 and 4096 against 9 pi^2 / 2, L (K_L(0.99) - K_L(0)) and the range of the normalised
NTK at rho in {-0.5, 0, 0.5, 0.9, 0.99}. 2. A width-2048 relu network trained by full-batch
gradient descent against `gd_predictions` with the analytic NTK
(tests/kernels/test_predictions.py: 8 training and 4 test points, half the stability limit,
300 steps; depth 1 with seeds 0-3 and depth 2 with seeds 0-1): the largest gap at
t = 10, 100, 300 relative to the initial residual (train) and to the distance the predicted
test outputs travel plus that residual (test). 3. The empirical NTK of 128 one-hidden-layer
relu networks at widths 2048 and 4096 against the analytic NTK
(tests/kernels/test_mlp_kernels.py: 5 inputs, keys 1 and 2): the mean relative Frobenius
deviation +- its standard error, and their ratio (width^-1/2 predicts sqrt(2) = 1.41).
"""

import math
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "kernels"))

from ntk_setups import (  # noqa: E402
    RELU_DEPTHS,
    deep_relu_ntk,
    gd_gaps,
    one_layer_ntk_deviations,
    relu_correlations,
)

rhos = relu_correlations(4096)
for depth in RELU_DEPTHS:
    print(
        f"relu, L = {depth}: (1 - rho_L) L^2 = {float((1 - rhos[depth - 1]) * depth**2):.2f} "
        f"(9 pi^2 / 2 = {9 * math.pi**2 / 2:.2f})"
    )
for depth, row in zip(RELU_DEPTHS, deep_relu_ntk(), strict=True):
    print(
        f"relu, L = {depth}: L (K_L(0.99) - K_L(0)) = {depth * (row[-1] - row[1]):.3f}, "
        f"normalised NTK {row.min():.4f}..{row.max():.4f} (3 log L / L = "
        f"{3 * math.log(depth) / depth:.4f})"
    )

for depth, seeds in ((1, range(4)), (2, range(2))):
    for seed in seeds:
        train, test = gd_gaps(depth, seed)
        print(
            f"width 2048, depth {depth}, seed {seed}: largest gap train {train.max():.3f}, "
            f"test {test.max():.3f}"
        )

(small, small_se), (large, large_se) = one_layer_ntk_deviations()
ratio = small / large
ratio_se = ratio * math.hypot(small_se / small, large_se / large)
print(
    f"empirical NTK, one hidden layer, 128 networks: deviation {small:.4f} +- {small_se:.4f} "
    f"(width 2048), {large:.4f} +- {large_se:.4f} (4096), ratio {ratio:.2f} +- {ratio_se:.2f}"
)
