"""Finite-sum monotone inclusions with affine operators: F(z) = B z + c = (1/n) sum_i F_i(z).

Every problem here is affine, so its constants (Lipschitz, mean-square Lipschitz, and the
cocoercivity constants) are computed exactly from the matrices instead of being bounds
supplied by hand. Two families of components:

- `LinearProblem`: dense components F_i(z) = M_i z + b_i (random monotone and cocoercive
  operators, finite-sum min-max problems with controlled heterogeneity);
- `PairSplitProblem`: z = (x, y) with x, y in R^m and F_i(z) = m B[:, {i, m+i}] z_{i, m+i} + c,
  the splitting of the authors' code (Cai, Alacaoglu, Diakonikolas 2024) for matrix games and
  their quadratic min-max problem: one component reads one row and one column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._validation import check_integer, is_concrete
from ._constraints import Constraint, Unconstrained


def spectral_norm(matrix: Float[Array, "m n"]) -> Float[Array, ""]:
    """||M||_2 = sqrt(lambda_max(M^T M)), without an SVD.

    jaxlib 0.9's CPU SVD splits a batch over the intra-op thread pool and blocks a worker on
    it, which can deadlock a sweep sharded over several CPU devices; `eigvalsh` does not.
    """
    return jnp.sqrt(jnp.maximum(jnp.linalg.eigvalsh(matrix.T @ matrix)[-1], 0.0))


_MONOTONE_TOL = 1e-9


class AffineProblem(eqx.Module):
    """Common part of the affine finite-sum problems: operator, residual and constants.

    Subclasses provide the fields `constraint`, `solution` (a known solution or None) and
    `residual_step`, and `matrix` (B), `offset` (c), `component(i, z)` and
    `mean_square_gram()` = (1/n) sum_i J_i^T J_i, J_i the Jacobian of F_i.
    """

    if TYPE_CHECKING:
        constraint: Constraint
        solution: Array | None
        residual_step: float

    @property
    def n(self) -> int | Int[Array, ""]:
        """Number of components in the sum (a traced integer when a padded size is swept)."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """Components stored (static): `n`, or more when the problem is padded."""
        return self.n

    @property
    def dim(self) -> int:
        """Dimension d of z."""
        return self.matrix.shape[0]

    @property
    def matrix(self) -> Array:
        """B of F(z) = B z + c."""
        raise NotImplementedError

    @property
    def offset(self) -> Float[Array, " d"]:
        """c of F(z) = B z + c."""
        raise NotImplementedError

    def component(self, i: Int[Array, ""], z: Float[Array, " d"]) -> Float[Array, " d"]:
        """F_i(z), with F = (1/n) sum_i F_i."""
        raise NotImplementedError

    def mean_square_gram(self) -> Array:
        """(1/n) sum_i J_i^T J_i: its top eigenvalue is the mean-square Lipschitz constant^2."""
        raise NotImplementedError

    def operator(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """F(z) = B z + c (one full evaluation: n component oracle calls)."""
        return self.matrix @ z + self.offset

    def batch(
        self,
        indices: Int[Array, " b"],
        z: Float[Array, " d"],
        used: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, " d"]:
        """(1/b) sum_{i in indices} F_i(z) (b component oracle calls).

        With `used`, only the first `used` indices count (b = used, may be traced): a batch
        whose size is padded to `len(indices)`.
        """
        values = jax.vmap(self.component, in_axes=(0, None))(indices, z)
        if used is None:
            return jnp.mean(values, axis=0)
        return masked_mean(values, used)

    def project(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        """The projection onto the constraint set (the resolvent of its normal cone)."""
        return self.constraint.project(z)

    @property
    def constrained(self) -> bool:
        """Whether the constraint set is a proper subset of R^d."""
        return not isinstance(self.constraint, Unconstrained)

    def residual(self, z: Float[Array, " d"]) -> Float[Array, ""]:
        """The optimality residual: ||F(z)|| unconstrained, else ||z - P(z - eta F(z))|| / eta.

        eta = `residual_step` (1 by default, the authors' convention). Both vanish exactly at
        solutions of 0 in F(z) + N_C(z).
        """
        fz = self.operator(z)
        if not self.constrained:
            return jnp.linalg.norm(fz)
        eta = self.residual_step
        return jnp.linalg.norm(z - self.project(z - eta * fz)) / eta

    def metrics(self, z: Float[Array, " d"]) -> dict[str, Array]:
        """Scalar quality measures of z: `residual` (and `gap` for games)."""
        return {"residual": self.residual(z)}

    def lipschitz(self) -> Float[Array, ""]:
        """L = ||B||_2, the Lipschitz constant of F."""
        return spectral_norm(self.matrix)

    def mean_lipschitz(self) -> Float[Array, ""]:
        """L_avg with (1/n) sum_i ||F_i(u) - F_i(v)||^2 <= L_avg^2 ||u - v||^2 (tight)."""
        return jnp.sqrt(jnp.linalg.eigvalsh(self.mean_square_gram())[-1])

    def cocoercivity(self) -> Float[Array, ""]:
        """beta with <F(u) - F(v), u - v> >= ||F(u) - F(v)||^2 / beta (tight; inf if none)."""
        return _cocoercivity(self.matrix, self.matrix.T @ self.matrix)

    def mean_cocoercivity(self) -> Float[Array, ""]:
        """beta with (1/n) sum_i ||F_i(u) - F_i(v)||^2 <= beta <F(u) - F(v), u - v> (inf if none).

        The "cocoercive on average" constant of Cai et al. (2024, Assumption 2):
        beta = lambda_max(S^-1/2 G S^-1/2) with S = (B + B^T)/2 and G = (1/n) sum_i J_i^T J_i,
        computed from the matrices, not from operator values at nearby points, so float32
        loses nothing to cancellation: on the same problem it matches float64 to ~3e-5
        relative at condition 1e4 (tests/monotone/test_methods.py). A generator called with
        one key under float32 and under float64 draws two different problems, whose
        constants differ by more.
        """
        return _cocoercivity(self.matrix, self.mean_square_gram())

    def _check(self) -> None:
        """ValueError for shape mismatches or a concrete B whose symmetric part is not PSD."""
        self.constraint.check_dim(self.dim)
        b = self.matrix
        if b.ndim != 2 or b.shape[0] != b.shape[1] or self.offset.shape != (b.shape[0],):
            raise ValueError(
                f"F(z) = B z + c needs B of shape (d, d) and c of shape (d,), got B "
                f"{b.shape} and c {self.offset.shape}"
            )
        if self.solution is not None and self.solution.shape != (b.shape[0],):
            raise ValueError(f"solution must have shape ({b.shape[0]},), got {self.solution.shape}")
        if not (isinstance(self.residual_step, int | float) and self.residual_step > 0):
            raise ValueError(f"residual_step must be a number > 0, got {self.residual_step!r}")
        if is_concrete(b) and is_concrete(self.offset):
            if not (np.all(np.isfinite(np.asarray(b))) and np.all(np.isfinite(self.offset))):
                raise ValueError("F(z) = B z + c needs finite B and c, got NaN or inf entries")
            smallest = float(np.linalg.eigvalsh((np.asarray(b) + np.asarray(b).T) / 2)[0])
            scale = max(float(np.abs(np.asarray(b)).max()), 1e-300)
            if smallest < -_MONOTONE_TOL * scale * b.shape[0]:
                raise ValueError(
                    "F is not monotone: the symmetric part (B + B^T)/2 has eigenvalue "
                    f"{smallest:.3g} < 0 (allowed: B with (B + B^T)/2 positive semidefinite)"
                )


def _cocoercivity(b: Float[Array, "d d"], gram: Float[Array, "d d"]) -> Float[Array, ""]:
    """Smallest beta with gram <= beta * sym(b) (Loewner order), inf when none exists.

    On the range of S = sym(b): beta = lambda_max(S^+/2 gram S^+/2); if gram has mass on
    the null space of S (e.g. a skew part), no finite beta exists.
    """
    s = (b + b.T) / 2
    eigenvalues, vectors = jnp.linalg.eigh(s)
    tol = 1e-9 * jnp.maximum(eigenvalues[-1], 1e-300) * b.shape[0]
    positive = eigenvalues > tol
    inv_sqrt = jnp.where(positive, 1.0 / jnp.sqrt(jnp.where(positive, eigenvalues, 1.0)), 0.0)
    rotated = vectors.T @ gram @ vectors
    scaled = inv_sqrt[:, None] * rotated * inv_sqrt[None, :]
    beta = jnp.linalg.eigvalsh(scaled)[-1]
    leak = jnp.max(jnp.where(~positive[:, None] | ~positive[None, :], jnp.abs(rotated), 0.0))
    return jnp.where(leak > 1e-9 * jnp.maximum(jnp.abs(rotated).max(), 1e-300), jnp.inf, beta)


def masked_mean(values: Float[Array, "m ..."], count: Int[ArrayLike, ""]) -> Array:
    """The mean of the first `count` rows of `values` (the others are padding, never read)."""
    used = (jnp.arange(values.shape[0]) < count).reshape((-1,) + (1,) * (values.ndim - 1))
    return jnp.sum(jnp.where(used, values, 0.0), axis=0) / jnp.asarray(count, values.dtype)


class LinearProblem(AffineProblem):
    """Components F_i(z) = M_i z + b_i, F = (1/n) sum_i F_i; an optional constraint set.

    Padding: with `active`, only the first `active` stored components are in the sum (n =
    active, which may be traced, so problems with different n share one shape and one
    compiled program); the others are never read.

    Args:
        matrices: `Float[Array, "size d d"]` the M_i.
        offsets: `Float[Array, "size d"]` the b_i.
        constraint: the set C (default R^d).
        solution: a known solution z* of 0 in F(z*) + N_C(z*), if any (for tests).
        residual_step: eta of the fixed-point residual when constrained.
        active: n, the number of components in the sum, 1 <= n <= size (default: all);
            an integer scalar, may be traced.
    """

    matrices: Float[Array, "size d d"]
    offsets: Float[Array, "size d"]
    constraint: Constraint = Unconstrained()
    solution: Array | None = None
    residual_step: float = eqx.field(static=True, default=1.0)
    active: Int[Array, ""] | None = None

    def __check_init__(self) -> None:
        if self.matrices.ndim != 3 or self.offsets.shape != self.matrices.shape[:2]:
            raise ValueError(
                f"LinearProblem needs matrices (n, d, d) and offsets (n, d), got "
                f"{self.matrices.shape} and {self.offsets.shape}"
            )
        if self.active is not None:
            check_active(self.active, self.size)
        self._check()

    @property
    def n(self) -> int | Int[Array, ""]:
        """Number of components in the sum: `active`, or all that are stored."""
        return self.size if self.active is None else self.active

    @property
    def size(self) -> int:
        """Components stored (static)."""
        return self.matrices.shape[0]

    @property
    def matrix(self) -> Array:
        """B = mean_i M_i."""
        if self.active is None:
            return jnp.mean(self.matrices, axis=0)
        return masked_mean(self.matrices, self.active)

    @property
    def offset(self) -> Float[Array, " d"]:
        """c = mean_i b_i."""
        if self.active is None:
            return jnp.mean(self.offsets, axis=0)
        return masked_mean(self.offsets, self.active)

    def component(self, i: Int[Array, ""], z: Float[Array, " d"]) -> Float[Array, " d"]:
        """F_i(z) = M_i z + b_i."""
        return self.matrices[i] @ z + self.offsets[i]

    def mean_square_gram(self) -> Array:
        """(1/n) sum_i M_i^T M_i."""
        if self.active is None:
            return jnp.einsum("nji,njk->ik", self.matrices, self.matrices) / self.n
        return masked_mean(jnp.einsum("nji,njk->nik", self.matrices, self.matrices), self.active)


class PairSplitProblem(AffineProblem):
    """z = (x, y), x, y in R^m; F(z) = B z + c split as F_i(z) = m B[:, G_i] z[G_i] + c.

    G_i = {i, m + i}: component i reads the i-th coordinate of x and of y, i.e. one column of
    each block of B (the splitting of the authors' code; for a game, y_i A[i, :] and x_i A[:, i]).
    With `game=True` the problem is the matrix game min_x max_y y^T A x over simplices with
    A = -B[m:, :m], and `metrics` adds the duality gap max_i (A x)_i - min_j (A^T y)_j.

    Args:
        full: `Float[Array, "2m 2m"]` the matrix B.
        shift: `Float[Array, " 2m"]` the offset c.
        constraint: the set C (default R^2m).
        solution: a known solution, if any.
        residual_step: eta of the fixed-point residual when constrained.
        game: whether B = [[0, A^T], [-A, 0]] is a matrix game (adds the gap metric).
    """

    full: Float[Array, "d d"]
    shift: Float[Array, " d"]
    constraint: Constraint = Unconstrained()
    solution: Array | None = None
    residual_step: float = eqx.field(static=True, default=1.0)
    game: bool = eqx.field(static=True, default=False)

    def __check_init__(self) -> None:
        if self.full.ndim != 2 or self.full.shape[0] % 2:
            raise ValueError(f"PairSplitProblem needs B of shape (2m, 2m), got {self.full.shape}")
        self._check()

    @property
    def n(self) -> int:
        """Number of components m (half the dimension)."""
        return self.full.shape[0] // 2

    @property
    def matrix(self) -> Array:
        """B."""
        return self.full

    @property
    def offset(self) -> Float[Array, " d"]:
        """c."""
        return self.shift

    def component(self, i: Int[Array, ""], z: Float[Array, " d"]) -> Float[Array, " d"]:
        """F_i(z) = m (B[:, i] x_i + B[:, m + i] y_i) + c."""
        m = self.n
        return m * (self.full[:, i] * z[i] + self.full[:, m + i] * z[m + i]) + self.shift

    def mean_square_gram(self) -> Array:
        """m (B^T B restricted to the pairs {i, m + i}), block diagonal over the pairs."""
        m = self.n
        index = jnp.arange(2 * m) % m
        same = index[:, None] == index[None, :]
        return m * jnp.where(same, self.full.T @ self.full, 0.0)

    def metrics(self, z: Float[Array, " d"]) -> dict[str, Array]:
        """`residual`, and for games the duality `gap` max_i (A x)_i - min_j (A^T y)_j."""
        out = {"residual": self.residual(z)}
        if self.game:
            m = self.n
            a = -self.full[m:, :m]
            out["gap"] = jnp.max(a @ z[:m]) - jnp.min(a.T @ z[m:])
        return out


def game_matrix(a: Float[Array, "m m"]) -> Float[Array, "2m 2m"]:
    """B = [[0, A^T], [-A, 0]]: F(x, y) = (A^T y, -A x) for min_x max_y y^T A x."""
    zeros = jnp.zeros_like(a)
    return jnp.block([[zeros, a.T], [-a, zeros]])


def check_size(label: str, value: int) -> None:
    """ValueError unless `value` is an integer >= 1 (a static size)."""
    check_integer(label, value)


def check_active(active: Int[ArrayLike, ""], size: int) -> None:
    """ValueError unless `active` is an integer scalar, concrete ones in [1, size]."""
    dtype = getattr(active, "dtype", None)
    integral = isinstance(active, int | np.integer) or (
        dtype is not None and jnp.issubdtype(dtype, jnp.integer)
    )
    if isinstance(active, bool) or not integral or np.ndim(active) != 0:
        raise ValueError(f"the number of components n must be an integer scalar, got {active!r}")
    if is_concrete(active) and not 1 <= int(active) <= size:
        raise ValueError(f"n must be in [1, {size}] (the components stored), got {int(active)}")
