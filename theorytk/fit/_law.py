"""Fit any law given as a function of a parameter pytree: multi-start and bootstrap, vmapped.

    theta* = argmin_theta sum_i rho(r_i(theta)),  r_i = log f(theta, x_i) - log y_i

(or r_i = f - y for plain least squares), minimised by an optimistix solver from every start
of a grid in one `jax.vmap`ped solve, the converged start of least objective kept. The
uncertainty comes from a nonparametric (pairs) bootstrap: each resample of the data points is
a multinomial weight vector, refitted from theta* in a second vmapped solve (Efron &
Tibshirani, An Introduction to the Bootstrap, 1993, ch. 9 and 13).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, PyTree

from .._validation import check_integer, is_concrete
from ._multistart import (
    POOL_SIZE,
    Problem,
    best,
    check_objective_and_solver,
    solve_resamples,
    solve_starts,
)


class LawFit(eqx.Module):
    """Result of `fit_law`: the best parameters, how the starts fared, and bootstrap samples.

    Attributes:
        params: the fitted parameter pytree (NaN leaves when no start converged).
        value: the objective at `params` (mean Huber / delta, or mean r^2 / 2).
        converged: True when at least one start ended with `optx.RESULTS.successful`.
        result: the `optx.RESULTS` code of the kept start (why it failed, if it did).
        converged_fraction: fraction of the starts that converged.
        n_starts: number of starts.
        samples: bootstrap refits, each leaf with a leading `n_bootstrap` axis (NaN where a
            resample did not converge), or None without bootstrap.
        bootstrap_converged_fraction: fraction of resamples whose refit converged.
        objective: the objective's name (static).
        n_points: number of data points fitted (after exclusions; static).
    """

    params: PyTree
    value: Float[Array, ""]
    converged: Bool[Array, ""]
    result: optx.RESULTS
    converged_fraction: Float[Array, ""]
    n_starts: int = eqx.field(static=True)
    samples: PyTree | None
    bootstrap_converged_fraction: Float[Array, ""] | None
    objective: str = eqx.field(static=True)
    n_points: int = eqx.field(static=True)

    def stderr(self) -> PyTree:
        """Bootstrap standard errors: the sd (ddof 1) of each leaf over converged resamples."""
        return jax.tree.map(lambda s: _nanstd(s), self._require_samples())

    def ci(self, level: float = 0.95) -> tuple[PyTree, PyTree]:
        """Bootstrap percentile intervals (lower, upper) at `level`, leaf by leaf."""
        samples = self._require_samples()
        return percentile_interval(samples, level)

    def _require_samples(self) -> PyTree:
        if self.samples is None:
            raise ValueError("no bootstrap samples: fit with n_bootstrap >= 2 for intervals")
        return self.samples


def _nanstd(s: Array) -> Array:
    return jnp.nanstd(s, axis=0, ddof=1)


def percentile_interval(samples: PyTree, level: float) -> tuple[PyTree, PyTree]:
    """(lower, upper): the (1 - level)/2 and (1 + level)/2 quantiles of each leaf's samples."""
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = 0.5 * (1.0 - float(level))
    lower = jax.tree.map(lambda s: jnp.nanquantile(s, tail, axis=0), samples)
    upper = jax.tree.map(lambda s: jnp.nanquantile(s, 1.0 - tail, axis=0), samples)
    return lower, upper


def grid_starts(**axes: ArrayLike) -> dict[str, Float[np.ndarray, " k"]]:
    """Every combination of the given values, as a dict of flat arrays (one start per row).

    `grid_starts(alpha=[0, 0.5], e=[-1, 1])` gives 4 starts; pass the result as `starts`.
    """
    names = list(axes)
    rows = np.array(list(itertools.product(*(np.asarray(axes[n], float) for n in names))))
    return {name: rows[:, i] for i, name in enumerate(names)}


def fit_law(
    law: Callable[[PyTree, Any], Array],
    x: Float[ArrayLike, "m ..."],
    y: Float[ArrayLike, " m"],
    starts: PyTree,
    *,
    objective: str = "huber_log",
    law_is_log: bool = False,
    solver: str = "bfgs",
    exclude_highest: int = 0,
    n_bootstrap: int = 0,
    key: PRNGKeyArray | None = None,
    max_steps: int = 300,
    pool_size: int | None = POOL_SIZE,
) -> LawFit:
    """Fit y ~ law(params, x) from many starts in one compiled, vmapped solve, with bootstrap.

    Objectives, with r_i = log law(theta, x_i) - log y_i: "huber_log" minimises
    sum_i Huber_delta(r_i), delta = 1e-3 (Hoffmann et al. 2022, "Training Compute-Optimal
    Large Language Models", approach 3); "least_squares_log" minimises sum_i r_i^2;
    "least_squares" minimises sum_i (law(theta, x_i) - y_i)^2. Every start is solved (BFGS,
    L-BFGS, or Levenberg-Marquardt for the squares) with failure as an `optx.RESULTS` code;
    the converged start of least objective is kept. With `n_bootstrap` >= 2 the points are
    resampled with replacement and each resample refitted from the best parameters.

    Args:
        law: `law(params, x) -> Float[Array, "m"]`, the prediction (its log if `law_is_log`)
            for a pytree of scalar parameters; must be jax-traceable.
        x: `Float[ArrayLike, "m ..."]` inputs, one row per point.
        y: `Float[ArrayLike, " m"]` observations (> 0 for the "_log" objectives).
        starts: the parameter pytree with a leading axis of k starts on every leaf (see
            `grid_starts`).
        objective: "huber_log", "least_squares_log" or "least_squares".
        law_is_log: `law` returns log f (a log-sum-exp form) instead of f.
        solver: "bfgs", "lbfgs" or "levenberg_marquardt" (squares only).
        exclude_highest: drop the points with the k highest y before fitting (outliers).
        n_bootstrap: number of bootstrap resamples (0 for none, else >= 2; static).
        key: PRNG key for the resamples (required when n_bootstrap > 0).
        max_steps: iteration budget of each solve; a start that exhausts it is not converged.
        pool_size: lanes of the refilled pool that runs the starts (BFGS, L-BFGS; a stopped
            start's lane takes the next start, so lanes do not wait for the slowest start);
            None runs all starts as one vmapped `optx.minimise`. Either way every start
            takes the same optimistix iterations, up to floating-point rounding.

    Works under `jax.jit` with x, y, starts or key traced: the value checks (finite, > 0)
    then apply only to concrete inputs, and a fit that did not converge shows as
    `converged == False` (NaN params) without the warning.

    Returns:
        A `LawFit`. If no start converged, `converged` is False, `params` are NaN and a
        RuntimeWarning is issued: a failed fit is never returned as an optimum.

    Raises:
        ValueError: unknown objective or solver, no points, non-finite or (for "_log")
            non-positive y, non-finite x, shapes that disagree, more parameters than points,
            a law whose output is not one value per point, bad max_steps, exclude_highest,
            n_bootstrap, pool_size or missing key.
    """
    check_objective_and_solver(objective, solver)
    check_integer("max_steps", max_steps)
    if pool_size is not None and not (isinstance(pool_size, (int, np.integer)) and pool_size >= 1):
        raise ValueError(f"pool_size must be None or an integer >= 1, got {pool_size!r}")
    x, y = _prepare(x, y, objective, exclude_highest)
    starts = _check_starts(starts, y.shape[0], y.dtype)
    _check_law_shape(law, starts, x, y)
    weights = _bootstrap_weights(n_bootstrap, key, y.shape[0], y.dtype)
    problem = Problem(law=law, law_is_log=bool(law_is_log), objective=objective)
    out = _fit(problem, solver, max_steps, pool_size, starts, x, y, weights)
    fit = LawFit(
        params=out["params"],
        value=out["value"],
        converged=out["converged"],
        result=out["result"],
        converged_fraction=out["fraction"],
        n_starts=_n_starts(starts),
        samples=out.get("samples"),
        bootstrap_converged_fraction=out.get("boot_fraction"),
        objective=objective,
        n_points=int(y.shape[0]),
    )
    if is_concrete(fit.converged) and not bool(fit.converged):
        warnings.warn(
            f"fit did not converge from any of {fit.n_starts} starts "
            f"(best start: {fit.result}); parameters are NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    return fit


@eqx.filter_jit
def _fit(
    problem: Problem,
    solver: str,
    max_steps: int,
    pool_size: int | None,
    starts: PyTree,
    x: Array,
    y: Array,
    weights: Array | None,
) -> dict[str, Any]:
    data = (x, y)
    ones = jnp.ones_like(y)
    solves = solve_starts(problem, solver, starts, (data, ones), max_steps, pool_size)
    theta, value, index, fraction = best(solves)
    converged = solves.converged[index]
    result = jax.tree.map(lambda code: code[index], solves.result)
    nan_theta = jax.tree.map(lambda t: jnp.where(converged, t, jnp.nan), theta)
    out = dict(params=nan_theta, value=value, converged=converged, result=result, fraction=fraction)
    if weights is not None:
        boot = solve_resamples(problem, solver, theta, data, weights, max_steps)
        ok = boot.converged & converged
        out["samples"] = jax.tree.map(
            lambda t: jnp.where(ok.reshape(ok.shape + (1,) * (t.ndim - 1)), t, jnp.nan),
            boot.theta,
        )
        out["boot_fraction"] = jnp.mean(ok.astype(y.dtype))
    return out


def _n_starts(starts: PyTree) -> int:
    return int(jax.tree.leaves(starts)[0].shape[0])


def _prepare(x: Any, y: Any, objective: str, exclude_highest: int) -> tuple[Array, Array]:
    """Validate and convert the data; drop the `exclude_highest` points of largest y.

    Shapes are always checked; values only where concrete (traced under jit)."""
    x_shape, y_shape = np.shape(x), np.shape(y)
    if len(y_shape) != 1 or len(x_shape) < 1 or x_shape[0] != y_shape[0]:
        raise ValueError(
            f"y must be 1-D and x must have one row per point, got x {x_shape} and y {y_shape}"
        )
    if y_shape[0] == 0:
        raise ValueError("x and y hold no points: a fit needs data")
    if is_concrete(x):
        _check_finite("x", np.asarray(x))
    if is_concrete(y):
        _check_finite("y", np.asarray(y))
        if objective != "least_squares":
            _check_positive("y", np.asarray(y), f"objective {objective!r} fits log y")
    if not (isinstance(exclude_highest, (int, np.integer)) and exclude_highest >= 0):
        raise ValueError(f"exclude_highest must be an integer >= 0, got {exclude_highest!r}")
    if exclude_highest >= y_shape[0]:
        raise ValueError(f"exclude_highest={exclude_highest} would drop all {y_shape[0]} points")
    x_arr, y_arr = jnp.asarray(x), jnp.asarray(y)
    dtype = jnp.result_type(x_arr, y_arr, 1.0)
    if exclude_highest:
        order = jnp.argsort(y_arr, stable=True)[: y_shape[0] - exclude_highest]
        keep = jnp.sort(order)
        x_arr, y_arr = x_arr[keep], y_arr[keep]
    return x_arr.astype(dtype), y_arr.astype(dtype)


def _check_finite(name: str, arr: np.ndarray) -> None:
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{name} must be finite, got NaN or inf at points {bad[:5].tolist()}"
            f"{' ...' if bad.size > 5 else ''}"
        )


def _check_positive(name: str, arr: np.ndarray, why: str) -> None:
    if np.any(arr <= 0):
        i = int(np.argmin(arr))
        raise ValueError(f"{name} must be > 0 ({why}), got {name}[{i}] = {arr[i]}")


def _check_starts(starts: PyTree, m: int, dtype: Any) -> PyTree:
    """Starts as arrays of `dtype` with one common leading axis; fewer parameters than points."""
    leaves = jax.tree.leaves(starts)
    if not leaves:
        raise ValueError("starts must be a pytree of arrays with a leading axis of starts")
    shapes = [np.shape(leaf) for leaf in leaves]
    lengths = {shape[0] if shape else None for shape in shapes}
    if len(lengths) != 1 or None in lengths or 0 in lengths:
        raise ValueError(
            "every leaf of starts needs the same leading axis of k >= 1 starts, got shapes "
            f"{shapes}"
        )
    for leaf in leaves:
        if is_concrete(leaf):
            _check_finite("starts", np.asarray(leaf))
    n_params = sum(math.prod(shape[1:]) for shape in shapes)
    if n_params >= m:
        raise ValueError(
            f"too few points: a law with {n_params} parameters needs more than {n_params} "
            f"points, got {m}"
        )
    return jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype), starts)


def _check_law_shape(law: Callable, starts: PyTree, x: Array, y: Array) -> None:
    """ValueError unless law(params, x) gives one value per point (found by tracing once)."""
    first = jax.tree.map(lambda leaf: leaf[0], starts)
    try:
        out = jax.eval_shape(law, first, x)
    except Exception as error:
        raise ValueError(
            f"law(params, x) failed on the first start: {type(error).__name__}: {error}"
        ) from error
    shape = getattr(out, "shape", None)
    if shape != y.shape:
        raise ValueError(
            f"law(params, x) must return one value per point, shape {y.shape}, got "
            f"{shape if shape is not None else type(out).__name__}"
        )


def _bootstrap_weights(
    n_bootstrap: int, key: PRNGKeyArray | None, m: int, dtype: Any
) -> Array | None:
    """Multinomial counts (n_bootstrap, m): point i's multiplicity in each resample."""
    if not (isinstance(n_bootstrap, (int, np.integer)) and (n_bootstrap == 0 or n_bootstrap >= 2)):
        raise ValueError(f"n_bootstrap must be 0 or an integer >= 2, got {n_bootstrap!r}")
    if n_bootstrap == 0:
        return None
    if key is None:
        raise ValueError("n_bootstrap > 0 needs a PRNG key, e.g. key=jax.random.key(0)")
    idx = jax.random.randint(key, (n_bootstrap, m), 0, m)
    rows = jnp.arange(n_bootstrap)[:, None]
    return jnp.zeros((n_bootstrap, m), dtype).at[rows, idx].add(1.0)
