# %% [markdown]
# # Kernel ridge learning curves on your own data pool
#
# The eigenframework (Simon, Karkada, Ghosh & Belkin, *The eigenlearning framework*, 2023;
# Canatar, Bordelon & Pehlevan, Nat. Commun. 2021) predicts the test error of kernel ridge
# regression from the kernel's eigenvalues and the target's coefficients. On a finite data
# pool these come from the pool's Gram matrix (`pool_eigensystem`). Here the pool is
# scikit-learn's diabetes data (442 patients, 10 features, a disease-progression target);
# any (x, y) arrays work the same way.

# %%
import os
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes

from theorytk import kernels, regression, sweep

jax.config.update("jax_enable_x64", True)
SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))
x, y = load_diabetes(return_X_y=True)
x = (x - x.mean(0)) / x.std(0)
x *= np.sqrt(x.shape[1]) / np.linalg.norm(x, axis=1, keepdims=True)  # inputs on the sphere
y = (y - y.mean()) / y.std()
pool, kernel, ridge = regression.DataPool(x, y), kernels.RBFKernel(1.0), 1e-2

# %% [markdown]
# The eigensystem of the kernel on the pool, and the theory's learning curve from it.

# %%
eig = regression.pool_eigensystem(kernel(x, x), y)
print(f"{len(eig.eigenvalues)} modes; top eigenvalues {np.asarray(eig.eigenvalues[:3]).round(3)}")
ns = np.geomspace(8, 256, 6 if SMALL else 12).round()
fine = np.geomspace(ns[0], ns[-1], 60)


@jax.vmap
def theory(n):
    risk = regression.krr_risk(
        eig.eigenvalues, eig.target_coeffs_sq, n=n, ridge=ridge, noise=eig.noise
    )
    return risk["test_mse"]


# %% [markdown]
# The simulation: KRR on n points drawn from the pool (with replacement, the theory's own
# setting), tested on the whole pool, over many random training sets.

# %%
seeds = 32 if SMALL else 128
config = regression.KRRConfig(pool=pool, kernel=kernel, n_max=int(ns.max()))
grid = sweep.Grid(n=ns, ridge=[ridge], seed=range(seeds))
sim = sweep.run(regression.simulate_krr, grid, key=jax.random.key(0), config=config)
mean = sim["test_mse"].mean("seed").squeeze("ridge")
sem = sim["test_mse"].std("seed").squeeze("ridge") / np.sqrt(seeds)

fig, ax = plt.subplots(figsize=(5, 3.6))
ax.plot(fine, theory(fine), "k-", label="eigenframework theory")
ax.errorbar(ns, mean, 2 * sem, fmt="o", label="KRR simulation (mean, 2 SE)")
ax.set(xscale="log", yscale="log", xlabel="training set size n", ylabel="test error (MSE)")
ax.set_title("RBF kernel ridge regression on the diabetes data")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "krr_learning_curves.png", dpi=120)

# %% [markdown]
# The pool eigensystem estimates the population one well only for modes of index << M, so
# the theory is checked where n <= M / 8; beyond, the figure shows it drifting (by 10-20%).

# %%
rel = np.abs(mean.values / theory(ns) - 1)
print("n:              ", ns.astype(int).tolist())
print("|sim/theory - 1|:", rel.round(3).tolist())
small_n = ns <= len(y) / 8
assert rel[small_n].max() < 0.1
print(f"check passed: theory within {rel[small_n].max():.1%} of KRR for n <= M/8 (bound 10%)")
