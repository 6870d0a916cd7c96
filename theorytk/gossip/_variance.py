"""Variance-corrected model averaging ("Vanishing Variance Problem in Fully Decentralized ...").

Averaging n uncorrelated layers divides their variance by about n and undoes the Xavier
scale; the correction rescales each averaged tensor about its mean back to the mean of the
received models' variances.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._mixing import Neighbours, gossip

AUTHORS_EPS = 1e-4
"""The eps of the authors' code (DFL_torch, py_src/model_variance_correct.py)."""


def tensor_variance(a: Float[Array, "n ..."]) -> Float[Array, " n"]:
    """The unbiased variance of each node's tensor over all its entries (as torch.var)."""
    flat = a.reshape(a.shape[0], -1)
    return jnp.var(flat, axis=1, ddof=1)


def correct_variance(
    mixed: Float[Array, "n ..."], target: Float[Array, " n"], eps: float | Array = 0.0
) -> Float[Array, "n ..."]:
    """Rescale each node's tensor about its mean to variance `target`: A' = (A - m) s + m.

    s = sqrt((target + eps) / (Var A + eps)); eps = 0 is exact, the authors use 1e-4, which
    restores only part of the variance of layers whose variance is not >> eps. Tensors with
    one entry per node are returned unchanged; a tensor of zero variance is left as it is.
    """
    if mixed[0].size <= 1:
        return mixed
    axes = tuple(range(1, mixed.ndim))
    mean = jnp.mean(mixed, axis=axes, keepdims=True)
    current = tensor_variance(mixed)
    safe = current + eps > 0
    scale = jnp.where(safe, jnp.sqrt((target + eps) / jnp.where(safe, current + eps, 1.0)), 1.0)
    return (mixed - mean) * scale.reshape((-1,) + (1,) * len(axes)).astype(mixed.dtype) + mean


def variance_corrected_gossip(
    mixing: Float[Array, "p n n"] | Neighbours,
    tree: Any,
    t: Array | int = 0,
    eps: float | Array = 0.0,
) -> Any:
    """One gossip step followed by the per-tensor variance correction at every node.

    A_i' = (A_i - mean A_i) sqrt((sigma_i^2 + eps) / (Var A_i + eps)) + mean A_i, where
    A_i = sum_j W_ij X_j is the gossip average and sigma_i^2 = sum_j W_ij Var(X_j) the
    W-weighted mean of the received models' variances (the plain mean over the received
    models for uniform weights, as in the authors' "FollowOthers" corrector).

    Args:
        mixing: Float[Array, "p n n"] mixing stack or its `Neighbours`.
        tree: pytree of tensors, nodes on the leading axis.
        t: step (selects W of a time-varying topology).
        eps: the regulariser, 0 (exact) or `AUTHORS_EPS`.
    """
    mixed = gossip(mixing, tree, t)

    def one(a: Array, m: Array) -> Array:
        if a[0].size <= 1:
            return m
        return correct_variance(m, gossip(mixing, tensor_variance(a), t), eps)

    return jax.tree.map(one, tree, mixed)
