"""Kernels as hashable callables k(x1, x2) -> Gram: RBF, Laplace and the analytic MLP kernels.

Frozen dataclasses, so a config holding one (`theorytk.regression.KRRConfig`) is hashable and has
a stable repr: the same sweep fingerprint across processes, which `--resume` needs (a lambda
does not).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import check_scalar
from ._activations import ACTIVATION_NAMES
from ._mlp import mlp_kernels


@dataclass(frozen=True)
class RBFKernel:
    """k(x, x') = exp(-||x - x'||^2 / (2 bandwidth^2 d)), d the input dimension.

    Distances are measured in units of sqrt(d) (the convention x.x'/d of `mlp_kernels`): for
    inputs on the sphere of radius sqrt(d), ||x - x'||^2 / d = 2 (1 - cos angle).

    `bandwidth` must be finite and > 0 (ValueError); a traced bandwidth <= 0 gives NaN.
    """

    bandwidth: float = 1.0

    def __post_init__(self) -> None:
        check_scalar("bandwidth", self.bandwidth, "> 0", lambda b: b > 0)

    def __call__(self, x1: Float[Array, "n1 d"], x2: Float[Array, "n2 d"]) -> Array:
        return jnp.exp(-_sq_dist(x1, x2) / (2 * _positive(self.bandwidth) ** 2))


@dataclass(frozen=True)
class LaplaceKernel:
    """k(x, x') = exp(-||x - x'|| / (bandwidth sqrt(d))), d the input dimension.

    `bandwidth` must be finite and > 0 (ValueError); a traced bandwidth <= 0 gives NaN.
    """

    bandwidth: float = 1.0

    def __post_init__(self) -> None:
        check_scalar("bandwidth", self.bandwidth, "> 0", lambda b: b > 0)

    def __call__(self, x1: Float[Array, "n1 d"], x2: Float[Array, "n2 d"]) -> Array:
        return jnp.exp(-jnp.sqrt(_sq_dist(x1, x2)) / _positive(self.bandwidth))


def _positive(bandwidth: float | Array) -> Array:
    """The bandwidth, NaN where it is not > 0 (a traced value outside the domain)."""
    return jnp.where(bandwidth > 0, bandwidth, jnp.nan)


def _sq_dist(x1: Array, x2: Array) -> Array:
    """||x1_a - x2_b||^2 / d, clipped at 0 against rounding."""
    sq = jnp.sum(x1**2, 1)[:, None] + jnp.sum(x2**2, 1)[None, :] - 2 * x1 @ x2.T
    return jnp.maximum(sq, 0.0) / x1.shape[1]


@dataclass(frozen=True)
class MLPKernel:
    """The analytic NNGP or NTK of an infinitely wide fully connected network as a kernel
    callable k(x1, x2) -> Gram: `getattr(mlp_kernels(x1, x2, ...), kind)`.

    Args:
        depth: number of hidden layers (>= 1).
        activation: a name in `ACTIVATION_NAMES`.
        sigma_w: weight standard deviation.
        sigma_b: bias standard deviation.
        kind: "ntk" or "nngp".
    """

    depth: int
    activation: str
    sigma_w: float
    sigma_b: float = 0.0
    kind: str = "ntk"

    def __post_init__(self) -> None:
        if self.kind not in ("ntk", "nngp"):
            raise ValueError(f"kind must be 'ntk' or 'nngp', got {self.kind!r}")
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(
                f"activation must be one of {list(ACTIVATION_NAMES)}, got {self.activation!r}"
            )

    def __call__(self, x1: Float[Array, "n1 d"], x2: Float[Array, "n2 d"]) -> Array:
        out = mlp_kernels(
            x1,
            x2,
            depth=self.depth,
            activation=self.activation,
            sigma_w=self.sigma_w,
            sigma_b=self.sigma_b,
        )
        return getattr(out, self.kind)
