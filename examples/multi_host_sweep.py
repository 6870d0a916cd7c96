# %% [markdown]
# # A multi-host sweep with `jax.distributed`: two processes on one machine
#
# On a cluster every host runs the same script after `jax.distributed.initialize(...)`;
# `sweep.run` then splits each chunk over all processes' devices and gathers the results,
# so every process returns the full Dataset. Here the two "hosts" are two processes on this
# machine (coordinator 127.0.0.1), started by this script with the command lines it prints.
# The model is ridge regression (Hastie et al., Ann. Stat. 2022); the two-process result
# must equal a one-process run bit for bit.

# %%
import os
import socket
import subprocess
import sys
from pathlib import Path

SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))


def sweep_ridge(path, process_id=None, num_processes=None, port=None):
    """What each host runs: initialise the distributed runtime, then the ordinary sweep."""
    import jax

    if num_processes:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives
        jax.distributed.initialize(f"127.0.0.1:{port}", num_processes, process_id)
    from theorytk import regression, sweep

    grid = sweep.Grid(n=sweep.linspace(10, 120, 12), lam=sweep.geomspace(1e-3, 1, 4), seed=range(8))
    config = regression.RidgeConfig(d=30, n_max=120, noise=0.5)
    ds = sweep.run(
        regression.simulate_ridge, grid, key=jax.random.key(0), config=config, chunk_size=64
    )
    if jax.process_index() == 0:
        sweep.save(ds, path)
    return ds


if len(sys.argv) > 1:  # a worker: python multi_host_sweep.py PATH PROCESS_ID NUM_PROCESSES PORT
    sweep_ridge(sys.argv[1], *map(int, sys.argv[2:]))
    sys.exit(0)

# %% [markdown]
# Start the two processes (on a cluster: one per host, with the coordinator's address).

# %%
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
path = OUT / "multi_host.nc"
commands = [[sys.executable, __file__, str(path), str(i), "2", str(port)] for i in range(2)]
for c in commands:
    print("$", " ".join(["python", *c[1:]]))
workers = [subprocess.Popen(c) for c in commands]
assert [w.wait(timeout=600) for w in workers] == [0, 0], "a worker failed"

# %% [markdown]
# Compare with one process, and draw the learning curves.

# %%
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from theorytk import sweep  # noqa: E402

two = sweep.load(path)
one = sweep_ridge(OUT / "single.nc")
fig, ax = plt.subplots(figsize=(5, 3.5))
for lam in two["lam"].values:
    ax.plot(two["n"], two["test_mse"].sel(lam=lam).mean("seed"), "o-", label=f"lam = {lam:.2g}")
ax.set(xlabel="training set size n (d = 30)", ylabel="test error (seed mean)", yscale="log")
ax.set_title("ridge regression swept by two processes")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "multi_host_sweep.png", dpi=120)
same = np.array_equal(two["test_mse"].values, one["test_mse"].values, equal_nan=True)
print(f"two-process result == one-process result, bit for bit: {same}")
assert same
print("check passed: the sweep over two jax.distributed processes equals the one-process sweep")
