"""Optimal fitting ratio train/test of KRR with label noise: relative against fixed noise.

Theory only (`regression.noisy_optima`, `regression.rf_optima`): lambda_i = i^-1.5,
v_i^2 = i^-beta, P = 5000 modes. Prints the optimal fitting ratio for noise r * E_0(n)
(E_0 the noiseless ridgeless test error at n; the noisy case of Simon, Karkada, Ghosh &
Belkin, ICLR 2024) at n = 50 and 200, and, for contrast, with a fixed noise 0.1 from
n = 20 to 2000 (beta = 2); the last line is the fixed-noise ratio's rise.

    python benchmarks/noisy_fitting_ratio.py        # ~30 s
"""

from __future__ import annotations

import jax
import numpy as np

from theorytk import regression

ALPHA, MODES = 1.5, 5000
RELATIVE = [0.0, 0.25, 1.0, 4.0]


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    i = np.arange(1, MODES + 1, dtype=float)
    for beta in (1.5, 2.0):
        ds = regression.noisy_optima(i**-ALPHA, i**-beta, n=[50, 200], relative_noise=RELATIVE)
        cells = " | ".join(f"{a:.3f} / {b:.3f}" for a, b in ds["fitting_ratio"].values.round(3))
        print(f"beta {beta:g}, r = {RELATIVE}, n = 50 / 200: | {cells} |")
    ns = np.array([20.0, 200.0, 2000.0])
    fixed = regression.rf_optima(i**-ALPHA, i**-2.0, n=ns, noise=0.1)["fitting_ratio"]
    print(f"fixed noise 0.1, beta 2, n = {ns.astype(int).tolist()}: {fixed.round(3).tolist()}")
    print(f"fixed-noise fitting ratio from n = 20 to 2000: {fixed[-1] / fixed[0]:.0f}x")


if __name__ == "__main__":
    main()
