"""Generate tests/kernels/data/nt_reference.npz: NNGP/NTK Grams from neural-tangents 0.6.5.

neural-tangents 0.6.5 needs an old stack, so this runs in its own venv, not in theorytk's:

    python -m venv /work/nt-venv
    /work/nt-venv/bin/pip install "jax==0.4.23" "jaxlib==0.4.23" "numpy<2" "scipy<1.13" \
        "tf2jax==0.3.5" "neural-tangents==0.6.5"
    /work/nt-venv/bin/python tests/kernels/make_nt_reference.py

It writes, for every activation and configuration below, the kernels of
stax.serial(*[Dense(W_std, b_std), act] * depth, Dense(W_std, b_std)) on fixed inputs, in
float64, for x2 = None (symmetric) and x2 given; the configurations are stored as JSON in
the file so the test reads them from there. Activations without a closed form in
neural-tangents (tanh, softplus, silu) use its `ElementwiseNumerical` (2-D Gauss-Hermite) with
`_DEG` nodes; the file also stores their change from `_DEG_CHECK` nodes as the reference's
own quadrature error.
"""

from __future__ import annotations

import json
import os

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from neural_tangents import stax  # noqa: E402

_DEG = 1000
_DEG_CHECK = 800
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "nt_reference.npz")

# name in theorytk -> (neural-tangents layer factory, numerical?)
ACTIVATIONS = {
    "relu": lambda deg: stax.Relu(),
    "leaky_relu": lambda deg: stax.LeakyRelu(0.01),
    "leaky_relu_0.2": lambda deg: stax.LeakyRelu(0.2),
    "abs": lambda deg: stax.Abs(),
    "erf": lambda deg: stax.Erf(),
    "identity": lambda deg: stax.Identity(),
    "gelu": lambda deg: stax.Gelu(approximate=False),
    "sin": lambda deg: stax.Sin(),
    "cos": lambda deg: stax.Cos(),
    "tanh": lambda deg: stax.ElementwiseNumerical(jnp.tanh, deg),
    "softplus": lambda deg: stax.ElementwiseNumerical(jax.nn.softplus, deg),
    "silu": lambda deg: stax.ElementwiseNumerical(jax.nn.silu, deg),
}
NUMERICAL = ("tanh", "softplus", "silu")

CONFIGS = {
    "d1": {"depth": 1, "sigma_w": 1.3, "sigma_b": 0.2, "parameterization": "ntk"},
    "d3": {"depth": 3, "sigma_w": 1.5, "sigma_b": 0.1, "parameterization": "ntk"},
    "d2_standard": {
        "depth": 2,
        "sigma_w": 0.9,
        "sigma_b": 0.4,
        "parameterization": "standard",
        "width": [7, 11],
    },
}


def network(act: str, cfg: dict, deg: int):
    """The stax network of one activation and configuration."""
    param = cfg["parameterization"]
    widths = cfg.get("width", [1] * cfg["depth"])
    layers = []
    for width in widths:
        dense = stax.Dense(
            width, W_std=cfg["sigma_w"], b_std=cfg["sigma_b"], parameterization=param
        )
        layers += [dense, ACTIVATIONS[act](deg)]
    layers.append(stax.Dense(1, W_std=cfg["sigma_w"], b_std=cfg["sigma_b"], parameterization=param))
    return stax.serial(*layers)[2]


def inputs() -> tuple[np.ndarray, np.ndarray]:
    """x1 (6, 4) and x2 (3, 4); x2[0] duplicates x1[1] (the x = x' singularity)."""
    rng = np.random.default_rng(20240604)
    x1 = rng.standard_normal((6, 4))
    x2 = rng.standard_normal((3, 4))
    x2[0] = x1[1]
    return x1, x2


def main() -> None:
    x1, x2 = inputs()
    arrays = {"x1": x1, "x2": x2}
    for act in ACTIVATIONS:
        for cname, cfg in CONFIGS.items():
            for layout, second in (("sym", None), ("rect", x2)):
                kernel_fn = network(act, cfg, _DEG)
                out = kernel_fn(x1, second, ("nngp", "ntk"))
                for kind, value in zip(("nngp", "ntk"), out, strict=True):
                    arrays[f"{act}/{cname}/{layout}/{kind}"] = np.asarray(value)
                if act in NUMERICAL:
                    check = network(act, cfg, _DEG_CHECK)(x1, second, ("nngp", "ntk"))
                    err = max(float(np.max(np.abs(a - b))) for a, b in zip(out, check, strict=True))
                    arrays[f"{act}/{cname}/{layout}/quadrature_error"] = np.asarray(err)
                    print(f"{act:10s} {cname:12s} {layout}: deg {_DEG} vs {_DEG_CHECK}: {err:.1e}")
    arrays["meta"] = np.asarray(json.dumps({"configs": CONFIGS, "deg": _DEG}))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({len(arrays)} arrays)")


if __name__ == "__main__":
    main()
