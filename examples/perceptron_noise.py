# %% [markdown]
# # The perceptron under SGD noise: an (alpha T, P) diagram and fitted exponents
#
# Sclocchi, Geiger & Wyart, *Dissecting the effects of SGD noise in distinct regimes of deep
# learning* (ICML 2023): a perceptron on chi-data trained by SGD until it fits its P points.
# At small temperature T (the ratio of learning rate to batch size, times the output scale
# alpha) training ends as gradient descent: the weight change along the informative
# direction grows as alpha dw_1 ~ P^(1/(1+chi)). At large alpha T, noise dominates and
# dw_1 / T grows with P. We draw the test error over (alpha T, P) and fit the GD exponent.

# %%
import os
from pathlib import Path

import jax
import numpy as np

from theorytk import fit, perceptron, plot, sweep

SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))
CHI, D, SEEDS = 1.0, 16, 4 if SMALL else 16
sizes = np.array([64.0, 128.0, 256.0] if SMALL else [64.0, 128.0, 256.0, 512.0, 1024.0])


def sgd(params, key, *, config):
    """SGD at alpha = 1 and T = alpha T (every alpha-rescaled observable depends on alpha T)."""
    return perceptron.simulate(
        {"alpha": 1.0, "T": params["alpha_T"], "P": params["P"]}, key, config=config
    )


def gradient_descent(params, key, *, config):
    """Full-batch GD with the small step that stands in for gradient flow."""
    t = perceptron.gradient_flow_temperature(params["P"], d=D, chi=CHI)
    return perceptron.simulate({"alpha": 1.0, "T": t, "P": params["P"]}, key, config=config)


# %%
P = int(sizes.max())
noisy = perceptron.PerceptronConfig(d=D, P=P, B=2, chi=CHI, budget=200_000)
full = perceptron.PerceptronConfig(d=D, P=P, B=None, chi=CHI, budget=2_000_000)
alpha_T = np.geomspace(0.1, 1e3, 5 if SMALL else 9)
sim = sweep.run(
    sgd,
    sweep.Grid(P=sizes, alpha_T=alpha_T, seed=range(SEEDS)),
    key=jax.random.key(0),
    config=noisy,
)
gd = sweep.run(
    gradient_descent, sweep.Grid(P=sizes, seed=range(SEEDS)), key=jax.random.key(1), config=full
)

mean = sweep.seed_mean(sim)
mean["alpha_T"].attrs["long_name"] = "alpha T (output scale x temperature)"
mean["P"].attrs["long_name"] = "training set size P"
mean["test_error_theory"].attrs["long_name"] = "test error (closed form at the trained w)"
fig = plot.phase_diagram(
    mean,
    "test_error_theory",
    x="alpha_T",
    y="P",
    log_color=True,
    title=f"perceptron on chi-data, chi = {CHI:g}, d = {D}, batch 2",
)
fig.savefig(OUT / "perceptron_noise.png", dpi=120)

# %% [markdown]
# The gradient-descent exponent, fitted in log space (`fit_power_law` without constant) with
# its standard error, against the prediction 1 / (1 + chi).

# %%
dw1 = gd["dw1"].mean("seed")
law = fit.fit_power_law(sizes, dw1.values, with_constant=False)
growth, se = -float(law.b), float(np.sqrt(law.cov[1, 1]))
predicted = perceptron.predicted_exponents(CHI)["gd_dw1_vs_P"]
noise_growth = mean["dw1"].isel(alpha_T=-1).values / alpha_T[-1]
print(f"alpha dw_1 ~ P^{growth:.2f} +- {se:.2f} under GD (predicted {predicted:.2f})")
print(f"dw_1 / T at alpha T = {alpha_T[-1]:g}: {np.round(noise_growth, 3).tolist()} (grows with P)")
assert abs(growth - predicted) < 0.15 and np.all(np.diff(noise_growth) > 0)
print(f"check passed: GD exponent {growth:.2f} within 0.15 of 1/(1+chi) = {predicted:.2f}")
