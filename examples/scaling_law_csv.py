# %% [markdown]
# # Fit a scaling law to your own CSV of (N, D, loss)
#
# Hoffmann et al., *Training compute-optimal large language models* (2022), approach 3:
# L(N, D) = E + A / N^alpha + B / D^beta fitted jointly (Huber loss on log residuals, many
# starts), bootstrap intervals, and the compute-optimal frontier N_opt(C) ~ C^(beta/(alpha+beta)).
# Your CSV has one run per row; here we write one from a known law with 3% log-normal noise,
# so that the fit can be checked against the truth.

# %%
import os
from pathlib import Path

import jax
import numpy as np

from theorytk import fit, plot

jax.config.update("jax_enable_x64", True)
SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))
TRUE = {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}
rng = np.random.default_rng(0)
N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e9, 8), np.geomspace(1e8, 1e11, 8)))
loss = (TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]) * np.exp(
    0.03 * rng.standard_normal(N.size)
)
np.savetxt(OUT / "runs.csv", np.c_[N, D, loss], delimiter=",", header="N,D,loss", comments="")

# %% [markdown]
# Read the CSV and fit, with a bootstrap over the runs.

# %%
N, D, loss = np.loadtxt(OUT / "runs.csv", delimiter=",", skiprows=1).T
law = fit.fit_joint_law(N, D, loss, n_bootstrap=64 if SMALL else 400, key=jax.random.key(0))
print(law.summary())
lower, upper = law.ci(0.95)
budgets = np.geomspace(1e17, 1e22, 3)
optimal = law.compute_optimal(budgets)
for c, n_opt, tpp in zip(
    budgets, optimal["N_opt"]["value"], optimal["tokens_per_parameter"]["value"], strict=True
):
    print(f"C = {c:.0e} FLOPs: N_opt = {float(n_opt):.3g}, {float(tpp):.1f} tokens per parameter")

fig = plot.iso_loss_contours(law, N, D, loss=loss, title="iso-loss contours of the fitted law")
fig.savefig(OUT / "scaling_law_csv.png", dpi=120)

# %% [markdown]
# The check: each true exponent lies in its 95% bootstrap interval, and the fitted
# compute-optimal exponent a = beta / (alpha + beta) is within 0.05 of the truth.

# %%
covered = {k: bool(lower[k] <= TRUE[k] <= upper[k]) for k in ("alpha", "beta")}
a_true = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])
print(
    f"true exponents inside the 95% intervals: {covered}; a_opt {float(law.a_opt):.3f} "
    f"(true {a_true:.3f})"
)
assert all(covered.values()) and abs(float(law.a_opt) - a_true) < 0.05
print("check passed: the joint fit recovers the law's exponents within their bootstrap intervals")
