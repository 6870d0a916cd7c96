# %% [markdown]
# # Random features: more is better, and the optimal ridge by gradient descent
#
# Simon, Karkada, Ghosh & Belkin, *More is better in modern machine learning* (2023):
# at the optimal ridge, the test error of random-feature ridge regression falls as the
# number of features N grows. `rf_risk` is the eigenframework's deterministic equivalent;
# it is differentiable, so `jax.grad` finds the optimal ridge by gradient descent, which
# we check against `optimal_ridge` (bisection on the exact derivative).

# %%
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from theorytk import regression

jax.config.update("jax_enable_x64", True)
SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))
P = 1000 if SMALL else 10_000
i = np.arange(1, P + 1)
eigenvalues, target = i**-1.5, i**-1.2  # power-law spectrum and target (v_i^2)
n, N, noise = 200.0, 400.0, 0.05

# %% [markdown]
# Gradient descent on log ridge with optax's Adam; `jax.grad` goes through `rf_risk`'s
# fixed point by implicit differentiation.


# %%
def risk(log_ridge):
    return regression.rf_risk(
        eigenvalues, target, n=n, n_features=N, ridge=jnp.exp(log_ridge), noise=noise
    )["test_mse"]


opt = optax.adam(0.1)


@jax.jit
def descend(log_ridge):
    def step(carry, _):
        x, state = carry
        updates, state = opt.update(jax.grad(risk)(x), state)
        return (optax.apply_updates(x, updates), state), None

    return jax.lax.scan(step, (log_ridge, opt.init(log_ridge)), length=200)[0][0]


log_ridge = descend(jnp.asarray(0.0))
best = regression.optimal_ridge(eigenvalues, target, n=n, n_features=N, noise=noise)
for name, ridge in [("gradient descent", jnp.exp(log_ridge)), ("optimal_ridge", best["ridge"])]:
    print(f"{name:>16}: ridge = {float(ridge):.4g}, test_mse = {float(risk(jnp.log(ridge))):.5g}")

# %% [markdown]
# More is better: the optimal test error over (n, N), with kernel ridge regression (N = inf).

# %%
ns = np.array([50.0, 200.0, 800.0])
feats = np.geomspace(10, 5000, 8 if SMALL else 24)
mib = regression.more_is_better(eigenvalues, target, n=ns, n_features=feats, noise=noise)
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for nk in ns:
    (line,) = ax.plot(feats, mib["test_mse"].sel(n=nk), "o-", label=f"n = {nk:g}")
    krr = "dashed: N = inf (kernel ridge)" if nk == ns[0] else None
    ax.axhline(float(mib["test_mse_krr"].sel(n=nk)), ls="--", color=line.get_color(), label=krr)
ax.set(
    xscale="log",
    yscale="log",
    xlabel="number of random features N",
    ylabel="test error at the optimal ridge",
    title="More is better (theory)",
)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "rf_optimal_ridge.png", dpi=120)

# %%
rel_ridge = abs(float(jnp.exp(log_ridge)) / float(best["ridge"]) - 1)
mono = bool((np.diff(mib["test_mse"].values, axis=1) <= 1e-12).all())
above_krr = bool((mib["test_mse"] >= mib["test_mse_krr"] - 1e-12).all())
print(
    f"relative ridge difference {rel_ridge:.2e}; error non-increasing in N: {mono}; "
    f"kernel ridge below every N: {above_krr}"
)
assert rel_ridge < 1e-2 and mono and above_krr
print("check passed: jax.grad descent finds optimal_ridge's ridge; more features never hurt")
