# %% [markdown]
# # The wide-and-deep classifier's depth limits for two activations
#
# Radhakrishnan, Belkin & Uhler, *Wide and deep neural networks achieve optimality for
# classification* (2023): as the depth L grows, the NTK classifier sign(K_L(x, X) K_L(X, X)^-1 y)
# becomes a classifier fixed by the activation's Hermite coefficients (`depth_limit`):
# a singular kernel classifier for erf, 1-nearest neighbour for a mixture of the Hermite
# polynomials h2 and h3 (any user activation works: a `Hermite` series or a callable).
# We follow the agreement of the depth-L classifier with its predicted limit
# (`limit_classifier`) on a two-class problem on the sphere S^2. (The ReLU's majority-vote
# limit is reached only far deeper; see the `ntk_depth` experiment.)

# %%
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

from theorytk import kernels

jax.config.update("jax_enable_x64", True)  # the normalised kernels span many decades
SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))
x = jax.random.normal(jax.random.key(0), (60 + (300 if SMALL else 2000), 3))
x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
y = jnp.where(x[:, 0] + x[:, 1] ** 2 > 0.3, 1.0, -1.0)  # a curved class boundary
x_train, y_train, x_test, y_test = x[:60], y[:60], x[60:], y[60:]
# activation -> depths (the h2/h3 kernel underflows in float64 beyond L = 8)
ACTIVATIONS = {
    "erf": ("erf", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]),
    "h2/h3 mixture": (kernels.Hermite(jnp.array([0.0, 0.0, 0.8, 0.6])), [1, 2, 3, 4, 6, 8]),
}

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.8))
agreement = {}
for label, (activation, depths) in ACTIVATIONS.items():
    limit = kernels.depth_limit(activation)
    decisions = kernels.ntk_classifier(x_train, y_train, x_test, activation, depths)
    predicted = kernels.limit_classifier(x_train, y_train, x_test, activation)
    agree = jnp.mean(jnp.sign(decisions) == predicted, axis=-1)
    errors = jnp.mean(jnp.sign(decisions) != y_test, axis=-1)
    agreement[label] = float(agree[-1])
    name = limit.classifier.replace("_", " ")
    ax.plot(
        depths, agree, "o-", label=f"{label}: agrees with its limit ({name}), L <= {depths[-1]}"
    )
    ax.plot(depths, errors, "s:", label=f"{label}: test error", color=ax.lines[-1].get_color())
    print(
        f"{label}: limit {limit.classifier}, exponent {limit.exponent:.2f}; "
        f"test error {float(errors[0]):.3f} at L = 1, {float(errors[-1]):.3f} at L = {depths[-1]}; "
        f"limit's own error {float(jnp.mean(predicted != y_test)):.3f}"
    )
ax.set(
    xscale="log", xlabel="depth L (hidden layers)", ylabel="fraction of test points", ylim=(0, 1.05)
)
ax.set_xscale("log", base=2)
ax.set_title("NTK classifiers tend to their infinite-depth limits")
ax.legend(fontsize=7, loc="center right")
fig.tight_layout()
fig.savefig(OUT / "depth_limits.png", dpi=120)

# %%
print("agreement with the predicted limit at the deepest L:", agreement)
assert all(a > 0.95 for a in agreement.values())
print("check passed: the deepest erf and h2/h3 NTK classifiers agree with their limits on > 95%")
