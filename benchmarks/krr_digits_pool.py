"""Why the pool-eigensystem prediction of KRR on the digits fails at n comparable to M.

Runs, side by side on the M = 1797 digits (parity labels, RBF kernel, bandwidth 1, delta = 1e-3,
16 seeds): the held-out protocol (n distinct digits, error on the other M - n) and i.i.d.
draws with replacement (error over the whole pool, i.e. the pool distribution is the exact
population), each against `krr_theory`; and the with-replacement simulation against the
theory at the expected number of distinct points n_eff = M (1 - exp(-n / M)). Prints
simulation / theory - 1 per n; the last line is the held-out gap at the largest n.

    python benchmarks/krr_digits_pool.py            # n = 64, 256, 512, 1024 (~1-2 min)
"""

from __future__ import annotations

import jax
import numpy as np

from theorytk import datasets, kernels, regression, sweep

NS = np.array([64.0, 256.0, 512.0, 1024.0])
SEEDS = 16


def relative_gaps(pool: regression.DataPool, holdout: bool) -> tuple[np.ndarray, np.ndarray]:
    """simulation / theory - 1 and the seed-mean standard error over the theory, per n."""
    config = regression.KRRConfig(
        pool=pool, kernel=kernels.RBFKernel(1.0), n_max=int(NS.max()), holdout=holdout
    )
    grid = sweep.Grid(n=NS, ridge=[1e-3], seed=range(SEEDS))
    runs = sweep.run(regression.simulate_krr, grid, key=jax.random.key(0), config=config)
    sim = sweep.seed_mean(runs)
    theory = sweep.run(regression.krr_theory, sweep.Grid(n=NS, ridge=[1e-3]), config=config)
    mean, sem = (sim[name].values.ravel() for name in ("test_mse", "test_mse_sem"))
    if not holdout:  # repeated draws are wasted: compare with the distinct count as well
        size = len(pool.y)
        n_eff = size * (1 - np.exp(-NS / size))
        at_eff = sweep.run(regression.krr_theory, sweep.Grid(n=n_eff, ridge=[1e-3]), config=config)
        eff = at_eff["test_mse"].values.ravel()
        print("with replacement, theory at n_eff =", n_eff.round(0), ":", _fmt(mean / eff - 1))
    pred = theory["test_mse"].values.ravel()
    return mean / pred - 1, sem / pred


def _fmt(values: np.ndarray) -> str:
    return ", ".join(f"{v:+.1%}" for v in values)


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    x, y = datasets.digits("parity")
    pool = regression.DataPool(x, y)
    print(f"M = {len(y)}, n = {NS.astype(int).tolist()}, n / M = {(NS / len(y)).round(2)}")
    gaps, sems = relative_gaps(pool, holdout=False)
    print("with replacement, theory at n:", _fmt(gaps), "(SE", _fmt(sems), ")")
    gaps, sems = relative_gaps(pool, holdout=True)
    print("held out, theory at n:        ", _fmt(gaps), "(SE", _fmt(sems), ")")
    print(f"held-out simulation / theory at n = {int(NS[-1])}: {1 + gaps[-1]:.2f}x")


if __name__ == "__main__":
    main()
