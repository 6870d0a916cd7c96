# %% [markdown]
# # Resume a long sweep after Ctrl-C, change the chunk size, use several devices
#
# The sweep engine writes each finished chunk to a zarr store, so an interrupted sweep
# continues where it stopped: `sweep.run(..., store=path, resume=True)` computes only the
# missing chunks, with any chunk size and on any number of devices, and gives the same
# numbers bit for bit (point i always draws from `fold_in(key, i)`). The model is the
# ridge regression of Hastie, Montanari, Rosset & Tibshirani, *Surprises in
# high-dimensional ridgeless least squares interpolation* (Ann. Stat. 2022).

# %%
import os
import tempfile
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from theorytk import regression, sweep

# Four CPU devices, whatever XLA_FLAGS holds: set before JAX's first computation (a GPU/TPU
# machine has real ones).
jax.config.update("jax_num_cpu_devices", 4)
SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))
config = regression.RidgeConfig(d=40, n_max=160, noise=0.5)
grid = sweep.Grid(
    n=sweep.linspace(10, 160, 16), lam=sweep.geomspace(1e-3, 1.0, 4 if SMALL else 16), seed=range(8)
)
store = Path(tempfile.mkdtemp()) / "ridge.zarr"
print(f"{len(jax.devices())} devices, {grid.size} points")

# %% [markdown]
# Interrupt the sweep after two chunks, as Ctrl-C would (here from the `on_chunk` hook).


# %%
def stop_after_two(info):
    stop_after_two.chunks = getattr(stop_after_two, "chunks", 0) + 1
    if stop_after_two.chunks == 2:
        raise KeyboardInterrupt


common = dict(key=jax.random.key(0), config=config)
try:
    sweep.run(
        regression.simulate_ridge,
        grid,
        chunk_size=64,
        store=store,
        on_chunk=stop_after_two,
        **common,
    )
except KeyboardInterrupt:
    print("interrupted; partial store:", sorted(p.name for p in store.parent.iterdir()))

# %% [markdown]
# Resume with another chunk size on all four devices, then run the whole sweep in one go
# on a single device as the reference.

# %%
computed = []
resumed = sweep.run(
    regression.simulate_ridge,
    grid,
    chunk_size=96,
    store=store,
    resume=True,
    on_chunk=lambda info: computed.append(info.n_points),
    **common,
)
print(f"resume computed {sum(computed)} of {grid.size} points in {len(computed)} chunks")
one_device = jax.devices()[:1]
reference = sweep.run(regression.simulate_ridge, grid, devices=one_device, **common)
theory_grid = sweep.Grid(n=grid.axes[0].values, lam=grid.axes[1].values)
theory = sweep.run(regression.ridge_theory, theory_grid, config=config)

fig, ax = plt.subplots(figsize=(5, 3.5))
lam0 = float(grid.axes[1].values[0])
sim = resumed["test_mse"].sel(lam=lam0).mean("seed")
ax.plot(theory["n"], theory["test_mse"].sel(lam=lam0), "k-", label="theory")
ax.plot(sim["n"], sim, "o", label="simulation (resumed, 4 devices)")
ax.set(xlabel="training set size n", ylabel="test error", yscale="log")
ax.set_title(f"ridge regression, d = 40, lam = {lam0:g}")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "resume_and_devices.png", dpi=120)

# %%
same = np.array_equal(resumed["test_mse"].values, reference["test_mse"].values, equal_nan=True)
rel = np.abs(resumed["test_mse"].mean("seed") / theory["test_mse"] - 1).median()
print(f"resumed == uninterrupted single-device run, bit for bit: {same}")
print(f"median |simulation / theory - 1| over (n, lam): {float(rel):.3f}")
assert same and 0 < sum(computed) < grid.size and float(rel) < 0.25
print("check passed: the resumed 4-device sweep is bit-identical to one uninterrupted run")
