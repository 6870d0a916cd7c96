"""Constraint sets with their Euclidean projections: the resolvent of the normal cone.

For a closed convex set C, the resolvent of its normal cone N_C is the projection onto C,
so a method written with `constraint.project` solves the inclusion 0 in F(z) + N_C(z)
(the variational inequality <F(z*), z - z*> >= 0 for all z in C).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_integer, is_concrete


class Constraint(eqx.Module):
    """A closed convex set C of R^d, known through its projection."""

    def project(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """The Euclidean projection of z onto C."""
        raise NotImplementedError

    def check_dim(self, dim: int) -> None:
        """ValueError unless the set lives in R^dim."""


class Unconstrained(Constraint):
    """C = R^d: the projection is the identity."""

    def project(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """z itself."""
        return z


class Box(Constraint):
    """C = {z : lower <= z <= upper} (coordinatewise, scalars or arrays of shape (d,))."""

    lower: Array
    upper: Array

    def __init__(self, lower: ArrayLike, upper: ArrayLike):
        lower, upper = jnp.asarray(lower, float), jnp.asarray(upper, float)
        if is_concrete(lower) and is_concrete(upper) and np.any(np.asarray(lower > upper)):
            raise ValueError(f"Box needs lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = lower, upper

    def project(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """clip(z, lower, upper)."""
        return jnp.clip(z, self.lower, self.upper)


class Ball(Constraint):
    """C = {z : ||z - center|| <= radius}."""

    radius: Array
    center: Array

    def __init__(self, radius: ArrayLike, center: ArrayLike = 0.0):
        radius = jnp.asarray(radius, float)
        if is_concrete(radius) and not (np.ndim(radius) == 0 and float(radius) > 0):
            raise ValueError(f"Ball radius must be a scalar > 0, got {radius}")
        self.radius, self.center = radius, jnp.asarray(center, float)

    def project(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """center + (z - center) min(1, radius / ||z - center||)."""
        offset = z - self.center
        norm = jnp.linalg.norm(offset)
        return self.center + offset * jnp.minimum(1.0, self.radius / jnp.maximum(norm, 1e-300))


def project_simplex(z: Float[Array, " d"]) -> Float[Array, " d"]:
    """The projection of z onto the probability simplex {p >= 0, sum p = 1}.

    Sort-based: p = max(z - tau, 0) with tau chosen so that sum p = 1 (Held, Wolfe and
    Crowder 1974; Duchi et al. 2008, Algorithm 1).
    """
    u = jnp.sort(z)[::-1]
    cumsum = jnp.cumsum(u) - 1.0
    ranks = jnp.arange(1, z.shape[0] + 1, dtype=z.dtype)
    active = u - cumsum / ranks > 0
    rho = jnp.sum(active)
    tau = cumsum[rho - 1] / rho.astype(z.dtype)
    return jnp.maximum(z - tau, 0.0)


class Simplex(Constraint):
    """C = the probability simplex {p in R^d : p >= 0, sum p = 1}."""

    def project(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """`project_simplex(z)`."""
        return project_simplex(z)


class SimplexProduct(Constraint):
    """C = a product of probability simplices of the given sizes (e.g. (x, y) of a game)."""

    sizes: tuple[int, ...] = eqx.field(static=True)

    def __check_init__(self) -> None:
        if len(self.sizes) == 0:
            raise ValueError("SimplexProduct needs at least one block size, got ()")
        for size in self.sizes:
            check_integer("SimplexProduct block size", size)

    def project(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """Each block projected onto its simplex."""
        cuts = np.cumsum(self.sizes)[:-1].tolist()
        return jnp.concatenate([project_simplex(b) for b in jnp.split(z, cuts)])

    def check_dim(self, dim: int) -> None:
        """ValueError unless the block sizes add up to dim."""
        if sum(self.sizes) != dim:
            raise ValueError(f"SimplexProduct sizes {self.sizes} do not add up to dim = {dim}")
