# %% [markdown]
# # The NTK: a traced sigma_w, and finite flax / equinox networks approaching it
#
# Jacot, Gabriel & Hongler, *Neural tangent kernel* (NeurIPS 2018). `mlp_kernels` gives the
# NTK of an infinitely wide ReLU network; sigma_w is traced, so it is vmapped over a grid
# and differentiated. The empirical NTK (`empirical_ntk`) of the same network written in
# flax and in equinox then approaches it as the width grows, as width^-1/2.

# %%
import os
from pathlib import Path

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from theorytk import fit, kernels

jax.config.update("jax_enable_x64", True)
SMALL = os.environ.get("THEORYTK_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("THEORYTK_EXAMPLES_OUT", "."))
DEPTH, SW, SB, D = 2, 1.5, 0.1, 8
x = jax.random.normal(jax.random.key(0), (12, D))
x = x * np.sqrt(D) / jnp.linalg.norm(x, axis=1, keepdims=True)


def ntk(sigma_w):
    return kernels.mlp_kernels(x, depth=DEPTH, activation="relu", sigma_w=sigma_w, sigma_b=SB).ntk


sigmas = jnp.linspace(0.8, 2.0, 7)
grads = jax.vmap(jax.grad(lambda s: ntk(s).mean()))(sigmas)
fd = jax.vmap(lambda s: (ntk(s + 1e-5).mean() - ntk(s - 1e-5).mean()) / 2e-5)(sigmas)
grad_err = float(jnp.abs(grads / fd - 1).max())
print(f"d mean(NTK) / d sigma_w by jax.grad vs finite differences: max rel. diff {grad_err:.1e}")

# %% [markdown]
# The network in NTK parameterisation, z = sigma_w W h / sqrt(fan_in) + sigma_b b with
# W, b ~ N(0, 1), in flax.linen and in equinox.


# %%
class Dense(nn.Module):
    out: int

    @nn.compact
    def __call__(self, h):
        w = self.param("w", nn.initializers.normal(1.0), (h.shape[-1], self.out))
        b = self.param("b", nn.initializers.normal(1.0), (self.out,))
        return SW * h @ w / np.sqrt(h.shape[-1]) + SB * b


class FlaxMLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, h):
        for _ in range(DEPTH):
            h = jax.nn.relu(Dense(self.width)(h))
        return Dense(1)(h)[:, 0]


class EqxMLP(eqx.Module):
    layers: list

    def __init__(self, width, key):
        sizes, keys = [D] + [width] * DEPTH + [1], jax.random.split(key, 2 * DEPTH + 2)
        self.layers = [
            (jax.random.normal(keys[2 * i], (a, b)), jax.random.normal(keys[2 * i + 1], (b,)))
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        ]

    def __call__(self, h):
        for i, (w, b) in enumerate(self.layers):
            h = SW * h @ w / np.sqrt(w.shape[0]) + SB * b
            h = jax.nn.relu(h) if i < DEPTH else h
        return h[:, 0]


def flax_ntk(width, key):
    model = FlaxMLP(width)
    return kernels.empirical_ntk(model.apply, model.init(key, x), x)


def eqx_ntk(width, key):
    params, static = eqx.partition(EqxMLP(width, key), eqx.is_inexact_array)
    return kernels.empirical_ntk(lambda p, h: eqx.combine(p, static)(h), params, x)


# %%
widths, seeds, exact = [32, 128, 512] + ([] if SMALL else [2048]), 8, ntk(SW)
fig, ax = plt.subplots(figsize=(5, 3.6))
exponents = {}
for name, empirical in [("flax.linen", flax_ntk), ("equinox", eqx_ntk)]:
    dev = [
        np.mean(
            [
                jnp.linalg.norm(empirical(w, jax.random.key(s)) - exact) / jnp.linalg.norm(exact)
                for s in range(seeds)
            ]
        )
        for w in widths
    ]
    law = fit.fit_power_law(np.array(widths, float), np.array(dev), with_constant=False)
    exponents[name] = (float(law.b), float(np.sqrt(law.cov[1, 1])))
    ax.loglog(widths, dev, "o", label=f"{name}: fitted exponent {law.b:.2f}")
    ax.loglog(widths, law.a * np.array(widths, float) ** -law.b, "--", color="grey")
ax.plot([], [], "--", color="grey", label="power-law fits (log-space)")
ax.set(xlabel="hidden width", ylabel="||empirical NTK - analytic|| / ||analytic||")
ax.set_title(f"ReLU network, depth {DEPTH}, {seeds} seeds")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "ntk_width.png", dpi=120)

# %%
print({k: f"{b:.2f} +- {se:.2f}" for k, (b, se) in exponents.items()}, "(theory: 0.5)")
assert grad_err < 1e-4 and all(abs(b - 0.5) < 0.15 for b, _ in exponents.values())
print("check passed: the empirical NTK of flax and equinox nets converges as width^-0.5 (+-0.15)")
