"""Epochs to 1e-3 of every monotone method at its best step, and VR-Halpern's n-slope.

Problem: the cocoercive family of `experiments.halpern_scaling` (d = 10, condition 10^4,
heterogeneity 0.5, rescaled to L_avg = 1 and ||z0 - z*|| = 1) at n = 1000, three problem
seeds. Fair steps: every method gets the same search, its default (theory) step times
step_scale in {0.25, 0.5, 1, 2, 4}; the scale with the smallest median epochs to 1e-3 over
the seeds is kept (a run that does not reach 1e-3 within the budget counts as infinite).
Then VR-Halpern's epochs to 1e-3 at its best scale are measured at n = 100, 316, 1000 and
their log-log slope (OLS over all runs) is printed. Epochs count every oracle call (one
component = 1/n epoch); the ratio printed last is best deterministic / VR-Halpern epochs.

    python benchmarks/halpern_oracles.py [--budget 4000]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from experiments import halpern_scaling as hs
from theorytk import sweep

jax.config.update("jax_enable_x64", True)

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
SEEDS = 3
EPS_INDEX = hs.EPS.index(1e-3)


def problems(n: int) -> tuple:
    """The SEEDS problems of size n and their method keys (as in the experiment)."""
    keys = hs.problem_keys(SEEDS)
    batch = jax.jit(jax.vmap(lambda k: hs.family("cocoercive", k, n)))(keys)
    return batch, jax.vmap(lambda k: jax.random.fold_in(k, n))(keys)


def search(n: int, budget: float) -> dict[str, tuple[float, float]]:
    """Each method's (best scale, median epochs to 1e-3 at it) over SCALES x SEEDS."""
    batch, keys = problems(n)
    single = jax.vmap(hs.one_component)(batch)
    repeat = len(SCALES)
    tile = lambda tree: jax.tree.map(lambda x: jnp.repeat(x, repeat, axis=0), tree)  # noqa: E731
    scales = jnp.tile(jnp.asarray(SCALES), SEEDS)
    out = {}
    for names, probs in ((hs.DETERMINISTIC, single), (hs.VARIANCE_REDUCED["cocoercive"], batch)):
        runs = hs.epochs_to_eps(tile(probs), names, tile(keys), budget, scales)
        for name, epochs in zip(names, runs, strict=True):
            per_scale = np.nan_to_num(epochs[:, EPS_INDEX], nan=np.inf).reshape(SEEDS, repeat)
            median = np.median(per_scale, axis=0)
            best = int(np.argmin(median))
            out[name] = (SCALES[best], float(median[best]))
    return out


def vr_runs(ns: np.ndarray, scale: float, budget: float) -> np.ndarray:
    """VR-Halpern's epochs to 1e-3 at step_scale `scale`, shape (n, seed)."""
    runs = []
    for n in ns:
        batch, keys = problems(int(n))
        scales = jnp.full(SEEDS, scale)
        runs.append(hs.epochs_to_eps(batch, ("vr_halpern",), keys, budget, scales)[0, :, EPS_INDEX])
    return np.stack(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=4000.0)
    budget = parser.parse_args().budget
    ns = np.array([100, 316, 1000])
    # unrolled threefry: the same draws, compiled faster (docs/sweep.md, Randomness)
    with sweep.unrolled_threefry():
        best = search(1000, budget)
        runs = vr_runs(ns, best["vr_halpern"][0], budget)
    print(f"n = 1000, epochs to 1e-3 (median of {SEEDS} seeds) at the best step_scale:")
    for name, (scale, epochs) in best.items():
        print(f"  {hs.LABELS[name]:30s} scale {scale:<5g} {epochs:10.1f}")
    slope, low, high = hs.slope(ns, runs)
    print(
        f"VR-Halpern n-slope of epochs to 1e-3 over n = {ns.tolist()}: {slope:+.3f} "
        f"[95% CI {low:+.3f}, {high:+.3f}] (theory: -0.5 once sqrt(n) L / eps dominates n)"
    )
    deterministic = min(best[m][1] for m in hs.DETERMINISTIC)
    winner = min(hs.DETERMINISTIC, key=lambda m: best[m][1])
    ratio = deterministic / best["vr_halpern"][1]
    print(
        f"best deterministic ({hs.LABELS[winner]}) / VR-Halpern epochs to 1e-3 at n = 1000: "
        f"{deterministic:.0f} / {best['vr_halpern'][1]:.0f} = {ratio:.2f}x"
    )


if __name__ == "__main__":
    main()
