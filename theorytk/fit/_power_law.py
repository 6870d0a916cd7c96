"""Power-law fits with standard errors and confidence intervals.

Two models, fitted in JAX:

    y = a * x**(-b) + c      (power law plus constant, `with_constant=True`)
    y = a * x**(-b)          (pure power law, `with_constant=False`; c is reported as 0)

in one of two spaces (`space=`): "linear", (weighted) nonlinear least squares on y; or "log",
(weighted) least squares of log y on log x (pure law only), where each decade of y counts alike.
`local_exponents` fits the pure law per decade of x, for curves that bend on a log-log plot.

The fit is jit-able, vmappable over many curves and differentiable with respect to the data
(implicit differentiation of the optimality condition via `jax.lax.custom_root`). Failure is
data: `PowerLawFit.result` holds a `FitResult` code and no exception is raised inside jit.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray

from .._validation import is_concrete

# Initial grid over the exponent b for variable projection (see `_initial_guess`).
_B_GRID = (0.02, 10.0, 96)
_LAMBDA_INIT = 1e-3
_LAMBDA_MAX = 1e16
_NEWTON_POLISH = 2


class FitResult(enum.IntEnum):
    """Outcome of a power-law fit, stored in `PowerLawFit.result`.

    SUCCESS: the optimality test passed. NONFINITE: a parameter or the RSS is NaN/inf (e.g. the
    data contained NaN inside jit). NOT_CONVERGED: the optimality test did not pass within
    `max_steps` iterations (or the iteration stalled). SINGULAR: the Jacobian at the optimum is
    numerically rank-deficient, or the power-law component a x^-b is at the rounding level of y
    (parameters not identifiable, e.g. y constant), so standard errors are meaningless.
    """

    SUCCESS = 0
    NONFINITE = 1
    NOT_CONVERGED = 2
    SINGULAR = 3


Space = Literal["log", "linear"]
SPACES: tuple[str, ...] = ("log", "linear")


class PowerLawFit(eqx.Module):
    """Result of `fit_power_law`: y = a * x**(-b) + c (c = 0 for the pure power law).

    Fields are scalars for one fit and gain leading batch dimensions under `jax.vmap`.

    Attributes:
        a, b, c: fitted parameters (c is exactly 0 when `with_constant=False`).
        cov: covariance of (a, b, c), `Float[Array, "*batch 3 3"]`; cov = s^2 (J^T J)^-1 with J
            the Jacobian of the weighted model at the optimum and s^2 = rss / dof (s^2 = 1 when
            `absolute_sigma=True`). The row and column of c are 0 for the pure power law.
        rss: weighted residual sum of squares sum_i ((y_i - f(x_i)) / sigma_i)^2.
        result: `FitResult` code (int); `converged` is `result == FitResult.SUCCESS`.
        steps: number of Levenberg-Marquardt iterations taken.
        dof: residual degrees of freedom m - p (static).
        with_constant: whether c was fitted (static).
        absolute_sigma: whether sigma was taken as absolute (static).
        space: "linear" or "log", the space of the residuals (static); see `estimator`.
    """

    a: Float[Array, "*batch"]
    b: Float[Array, "*batch"]
    c: Float[Array, "*batch"]
    cov: Float[Array, "*batch 3 3"]
    rss: Float[Array, "*batch"]
    result: Int[Array, "*batch"]
    steps: Int[Array, "*batch"]
    dof: int = eqx.field(static=True)
    with_constant: bool = eqx.field(static=True)
    absolute_sigma: bool = eqx.field(static=True)
    space: str = eqx.field(static=True, default="linear")
    weighted: bool = eqx.field(static=True, default=False)

    @property
    def estimator(self) -> str:
        """A short name of the estimator, to print beside the exponent it produced."""
        if self.space == "log":
            return "log-space weighted LS (sigma/y)" if self.weighted else "log-space LS"
        return "linear-space weighted LS (1/sigma^2)" if self.weighted else "linear-space LS"

    @property
    def params(self) -> Float[Array, "*batch 3"]:
        """The parameters stacked as (a, b, c) along the last axis."""
        return jnp.stack([self.a, self.b, self.c], axis=-1)

    @property
    def stderr(self) -> Float[Array, "*batch 3"]:
        """Standard errors of (a, b, c): square roots of the diagonal of `cov`."""
        return jnp.sqrt(jnp.diagonal(self.cov, axis1=-2, axis2=-1))

    @property
    def converged(self) -> Bool[Array, "*batch"]:
        """True where the fit passed the optimality test with a full-rank Jacobian."""
        return self.result == FitResult.SUCCESS

    def ci(self, level: float = 0.95) -> tuple[Float[Array, "*batch 3"], Float[Array, "*batch 3"]]:
        """Two-sided confidence intervals (lower, upper) for (a, b, c) at `level`.

        params -/+ q * stderr with q the (1 + level)/2 quantile of Student's t with `dof`
        degrees of freedom (of the standard normal when `absolute_sigma=True`, as the noise
        scale is then known). Wald intervals: exact for a linear model with Gaussian noise,
        asymptotically valid otherwise.

        Args:
            level: coverage in (0, 1), a concrete Python number.
        """
        q = _two_sided_quantile(level, None if self.absolute_sigma else self.dof)
        half = jnp.asarray(q, dtype=self.b.dtype) * self.stderr
        centre = self.params
        return centre - half, centre + half

    def __call__(self, x: Float[ArrayLike, "*n"]) -> Float[Array, "*n"]:
        """The fitted curve a * x**(-b) + c at `x` (for a single, unbatched fit)."""
        x = jnp.asarray(x, dtype=self.b.dtype)
        return self.a * x ** (-self.b) + self.c


def _two_sided_quantile(level: float, dof: int | None) -> float:
    if isinstance(level, jax.core.Tracer):
        raise ValueError("level must be a concrete number in (0, 1), got a traced value")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    p = 0.5 * (1.0 + level)
    if dof is None:
        return float(scipy.stats.norm.ppf(p))
    return float(scipy.stats.t.ppf(p, dof))


def fit_power_law(
    x: Float[ArrayLike, " m"],
    y: Float[ArrayLike, " m"],
    *,
    sigma: Float[ArrayLike, " m"] | None = None,
    with_constant: bool = True,
    space: Space | None = None,
    absolute_sigma: bool = False,
    max_steps: int = 100,
) -> PowerLawFit:
    """Least-squares fit of y = a * x**(-b) + c (or y = a * x**(-b)) with standard errors.

    Which space (`space=`):
        "log": (a, b) minimise sum_i ((log y_i - log a + b log x_i) / s_i)^2 with
            s_i = sigma_i / y_i (the delta-method error of log y_i; s_i = 1 without sigma), a
            closed-form weighted linear regression. Right for a pure law (`with_constant=False`)
            of y > 0 spanning more than a decade without per-point errors: the error of y is
            then typically proportional to y, and every decade of x counts alike. Needs y > 0.
        "linear": (a, b, c) minimise sum_i ((y_i - a x_i^{-b} - c) / sigma_i)^2 (sigma_i = 1
            without sigma). Right with per-point standard errors `sigma` (the weights then
            match the noise on any scale), for a law with a constant c, or for y that can be
            <= 0. Without sigma it weights each point by its magnitude: over a range of y of
            ten or more, the largest values decide the fit.
        None (default): "log" for the pure law without sigma, "linear" otherwise. For the
            pure law without sigma and some y <= 0 the default refuses (pass space="linear").

    Linear-space estimator: (a, b, c) minimise sum_i ((y_i - a x_i^{-b} - c) / sigma_i)^2
    (sigma_i = 1 when `sigma` is None). Parametrised internally as A exp(-b (log x - t0)) + c,
    with t0 the mean of log x, for conditioning across decades of x. Initialisation by variable
    projection: on a geometric grid of b in [0.02, 10] the model is linear in (A, c), solved in
    closed form, and the b of least RSS is kept (for the pure law, a weighted regression of
    log|y| on log x is a second candidate). Then Levenberg-Marquardt on all parameters until the
    remaining Gauss-Newton step is below sqrt(machine eps) of the statistical uncertainty
    (Bates-Watts relative offset) or of the parameters, and two Newton steps. Standard errors:
    the usual asymptotic covariance cov = s^2 (J^T J)^{-1}, s^2 = RSS / (m - p), with J the
    Jacobian of the weighted model at the optimum (Seber & Wild, Nonlinear Regression, 1989, ch.
    2), as in `scipy.optimize.curve_fit`. Log-space standard errors: the same formula for the
    linear regression (exact under Gaussian errors of log y), mapped to a = exp(log a) by the
    delta method.

    Works under `jax.jit` and `jax.vmap` (over y, sigma or x), and `jax.grad` of any output
    with respect to x, y or sigma uses the implicit function theorem at the optimum. Inputs are
    validated only when concrete; traced inputs are not checked and failures show up as
    `result != FitResult.SUCCESS`.

    Args:
        x: `Float[ArrayLike, "m"]`, strictly positive abscissae (e.g. model size, steps).
        y: `Float[ArrayLike, "m"]`, observations.
        sigma: optional `Float[ArrayLike, "m"]` per-point standard deviations (> 0); points are
            weighted by 1 / sigma^2.
        with_constant: fit the constant c (needs m >= 4), or the pure power law (m >= 3).
        space: "log", "linear" or None (see above; `PowerLawFit.estimator` names the choice).
        absolute_sigma: if True, `sigma` is the known noise scale and cov = (J^T J)^{-1}
            (intervals use normal quantiles); if False (default) `sigma` gives only relative
            weights and cov is scaled by s^2 = RSS / (m - p).
        max_steps: maximum number of Levenberg-Marquardt iterations (static).

    Returns:
        A `PowerLawFit` with a, b, c, cov, stderr, rss, dof, result, and `ci(level)`.

    Raises:
        ValueError: shapes do not match or are not 1-D, too few points, non-finite x, y or sigma,
            x <= 0 or sigma <= 0, an unknown `space`, `space="log"` with a constant, or y <= 0
            in log space (value checks only for concrete inputs; traced y <= 0 in log space
            gives `result == FitResult.NONFINITE`).
    """
    with_constant = bool(with_constant)
    absolute_sigma = bool(absolute_sigma)
    space = _resolve_space(space, y, sigma, with_constant)
    _check_fit_inputs(x, y, sigma, with_constant, max_steps)
    arrays = [jnp.asarray(x), jnp.asarray(y)] + ([] if sigma is None else [jnp.asarray(sigma)])
    dtype = jnp.result_type(*arrays, 1.0)
    x, y = (arr.astype(dtype) for arr in arrays[:2])
    w = jnp.ones_like(y) if sigma is None else 1.0 / arrays[2].astype(dtype)
    if space == "log":
        # weights of the log residuals: y / sigma (delta method), or 1 without sigma
        w_log = jnp.ones_like(y) if sigma is None else y * w
        out = _fit_log(x, jnp.log(y), w_log, absolute_sigma)
    else:
        out = _fit(x, y, w, with_constant, absolute_sigma, max_steps=max_steps)
    return PowerLawFit(
        **out,
        dof=y.shape[0] - (3 if with_constant else 2),
        with_constant=with_constant,
        absolute_sigma=absolute_sigma,
        space=space,
        weighted=sigma is not None,
    )


def _resolve_space(space: Any, y: Any, sigma: Any, with_constant: bool) -> str:
    """The space of the fit: the explicit choice, checked, or the default (see fit_power_law)."""
    if space is not None and space not in SPACES:
        raise ValueError(f"space must be 'log', 'linear' or None, got {space!r}")
    explicit = space is not None
    if space is None:
        space = "log" if (not with_constant and sigma is None) else "linear"
    if space == "log":
        if with_constant:
            raise ValueError(
                "space='log' fits the pure law log y = log a - b log x; with_constant=True "
                "needs space='linear'"
            )
        if is_concrete(y):
            arr = np.asarray(y)
            if np.issubdtype(arr.dtype, np.number) and np.any(arr <= 0):
                i = int(np.argmin(arr))
                why = "" if explicit else " (the default for the pure law without sigma)"
                raise ValueError(
                    f"y must be > 0 for space='log'{why}, got y[{i}] = {arr[i]}; pass "
                    "space='linear' to fit y itself"
                )
    return space


class LocalExponent(NamedTuple):
    """The pure-law fit over one window of x: `fit.b` is the local exponent there."""

    x_low: float
    x_high: float
    fit: PowerLawFit


def local_exponents(
    x: Float[ArrayLike, " m"],
    y: Float[ArrayLike, " m"],
    *,
    sigma: Float[ArrayLike, " m"] | None = None,
    space: Space | None = None,
    width: float = 10.0,
    min_points: int = 3,
) -> list[LocalExponent]:
    """Pure-law fits y = a x^-b over consecutive windows of x, each spanning a factor `width`.

    Windows start at min x: [x_min, width x_min), [width x_min, width^2 x_min), ...; a window
    with fewer than `min_points` points joins the previous one (the first joins the next). On
    a straight log-log line every window gives the same b within its interval; differing
    intervals show the curve bends. Each window is a `fit_power_law(..., with_constant=False)`
    in `space` (the default: log space without sigma, sigma-weighted linear space with it).
    Needs concrete x (the windows are chosen in Python).

    Args:
        x, y, sigma, space: as in `fit_power_law`.
        width: the factor of x each window spans (> 1; 10 gives per-decade exponents).
        min_points: the fewest points a window may hold (>= 3: a slope and its interval).

    Returns:
        The windows in increasing x, each (x_low, x_high, fit) with x_low, x_high the smallest
        and largest x inside it.
    """
    if not is_concrete(x):
        raise ValueError("x must be concrete for local_exponents (windows are chosen in Python)")
    if not (isinstance(width, (int, float, np.number)) and width > 1):
        raise ValueError(f"width must be a number > 1, got {width!r}")
    if not (isinstance(min_points, (int, np.integer)) and min_points >= 3):
        raise ValueError(f"min_points must be an integer >= 3, got {min_points!r}")
    _check_fit_inputs(x, y, sigma, False, 1)
    xs = np.asarray(x, float)
    order = np.argsort(xs)
    window = np.floor(np.log(xs[order] / xs[order][0]) / np.log(width) + 1e-9).astype(int)
    groups = [order[window == k] for k in np.unique(window)]
    merged: list[np.ndarray] = []
    for group in groups:
        if merged and len(merged[-1]) < min_points:
            merged[-1] = np.concatenate([merged[-1], group])
        else:
            merged.append(group)
    if len(merged) > 1 and len(merged[-1]) < min_points:
        last = merged.pop()
        merged[-1] = np.concatenate([merged[-1], last])
    ys = jnp.asarray(y)
    out = []
    for idx in merged:
        result = fit_power_law(
            xs[idx],
            ys[idx],
            sigma=None if sigma is None else jnp.asarray(sigma)[idx],
            with_constant=False,
            space=space,
        )
        out.append(LocalExponent(float(xs[idx].min()), float(xs[idx].max()), result))
    return out


def bootstrap_ci(
    x: Float[ArrayLike, " m"],
    y: Float[ArrayLike, " m"],
    *,
    key: PRNGKeyArray,
    sigma: Float[ArrayLike, " m"] | None = None,
    with_constant: bool = True,
    space: Space | None = None,
    level: float = 0.95,
    n_resamples: int = 1000,
    max_steps: int = 100,
) -> tuple[Float[Array, " 3"], Float[Array, " 3"]]:
    """Residual-bootstrap percentile intervals (lower, upper) for (a, b, c).

    Fit once (in `space`, as `fit_power_law`; in log space below read y as log y, f as
    log f and sigma as sigma / y); take the standardised residuals
    e_i = (y_i - f(x_i)) / sigma_i, centre them and
    inflate by sqrt(m / (m - p)) (Davison & Hinkley, Bootstrap Methods and their Application,
    1997, ch. 6); draw y*_i = f(x_i) + sigma_i e*_i with e* resampled with replacement, refit
    each resample (vmapped), and return the (1 - level)/2 and (1 + level)/2 quantiles of the
    refitted parameters over the resamples that converged. Assumes exchangeable standardised
    errors.

    Args:
        x, y, sigma, with_constant, space, max_steps: as in `fit_power_law`.
        key: PRNG key for the resampling.
        level: coverage in (0, 1).
        n_resamples: number of bootstrap resamples (static).

    Returns:
        (lower, upper), each `Float[Array, " 3"]` ordered (a, b, c); NaN if no resample converged.
    """
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 2):
        raise ValueError(f"n_resamples must be an integer >= 2, got {n_resamples!r}")
    fit = fit_power_law(
        x, y, sigma=sigma, with_constant=with_constant, space=space, max_steps=max_steps
    )
    dtype = fit.b.dtype
    x = jnp.asarray(x, dtype)
    y = jnp.asarray(y, dtype)
    s = jnp.ones_like(y) if sigma is None else jnp.asarray(sigma, dtype)
    log = fit.space == "log"
    if log and sigma is not None:
        s = s / y  # the error of log y
    fitted = jnp.log(fit(x)) if log else fit(x)
    m = y.shape[0]
    e = ((jnp.log(y) if log else y) - fitted) / s
    e = (e - jnp.mean(e)) * math.sqrt(m / fit.dof)
    idx = jax.random.randint(key, (n_resamples, m), 0, m)
    y_star = fitted + s * e[idx]

    def refit(ys: Array) -> dict[str, Array]:
        if log:
            return _fit_log(x, ys, 1.0 / s, False)
        return _fit(x, ys, 1.0 / s, with_constant, False, max_steps=max_steps)

    out = jax.vmap(refit)(y_star)
    params = jnp.stack([out["a"], out["b"], out["c"]], axis=-1)
    params = jnp.where((out["result"] == FitResult.SUCCESS)[:, None], params, jnp.nan)
    alpha = 0.5 * (1.0 - float(level))
    lower = jnp.nanquantile(params, alpha, axis=0)
    upper = jnp.nanquantile(params, 1.0 - alpha, axis=0)
    return lower, upper


def _check_fit_inputs(x: Any, y: Any, sigma: Any, with_constant: bool, max_steps: int) -> None:
    """Shape checks always (shapes are static); value checks only for concrete inputs."""
    if not (isinstance(max_steps, (int, np.integer)) and max_steps >= 1):
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    x_shape, y_shape = np.shape(x), np.shape(y)
    if len(x_shape) != 1:
        raise ValueError(f"x must be 1-D (one curve; use jax.vmap for many), got shape {x_shape}")
    if y_shape != x_shape:
        raise ValueError(f"x and y must have the same shape, got x {x_shape} and y {y_shape}")
    if sigma is not None and np.shape(sigma) != x_shape:
        raise ValueError(
            f"sigma must have the shape of x, got sigma {np.shape(sigma)} and x {x_shape}"
        )
    n_params = 3 if with_constant else 2
    if x_shape[0] < n_params + 1:
        model = "a * x**(-b) + c" if with_constant else "a * x**(-b)"
        raise ValueError(
            f"too few points: fitting {model} with standard errors needs at least "
            f"{n_params + 1} points ({n_params} parameters + 1 residual degree of freedom), "
            f"got {x_shape[0]}"
        )
    named = [("x", x), ("y", y)] + ([] if sigma is None else [("sigma", sigma)])
    for name, value in named:
        if not is_concrete(value):
            continue
        arr = np.asarray(value)
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            kind = "NaN" if np.isnan(arr[bad[0]]) else "inf"
            raise ValueError(
                f"{name} must be finite, got {kind} (NaN or inf at indices {bad[:5].tolist()}"
                f"{' ...' if bad.size > 5 else ''})"
            )
        if name in ("x", "sigma") and np.any(arr <= 0):
            i = int(np.argmin(arr))
            why = "the model uses log x" if name == "x" else "weights are 1 / sigma^2"
            raise ValueError(f"{name} must be > 0 ({why}), got {name}[{i}] = {arr[i]}")


def _model(theta: Float[Array, " 3"], tau: Float[Array, " m"]) -> Float[Array, " m"]:
    """A exp(-b tau) + c: the power law in centred log-x, tau = log x - t0."""
    return theta[0] * jnp.exp(-theta[1] * tau) + theta[2]


def _model_jacobian(theta: Float[Array, " 3"], tau: Float[Array, " m"]) -> Float[Array, "m 3"]:
    """d model / d (A, b, c)."""
    e = jnp.exp(-theta[1] * tau)
    return jnp.stack([e, -theta[0] * tau * e, jnp.ones_like(tau)], axis=1)


def _half_rss_hessian(
    theta: Float[Array, " 3"], tau: Float[Array, " m"], z: Float[Array, " m"], w: Float[Array, " m"]
) -> Float[Array, "3 3"]:
    """Hessian of sum_i (w_i (z_i - f_i))^2 / 2: J^T J - sum_i w_i r_i Hess(f_i)."""
    jac = w[:, None] * _model_jacobian(theta, tau)
    s = w * w * (z - _model(theta, tau)) * jnp.exp(-theta[1] * tau)  # w_i r_i e_i
    # Hess(f_i) in (A, b) is [[0, -tau e], [-tau e, A tau^2 e]]; c enters linearly.
    cross = jnp.sum(s * tau)
    bb = -theta[0] * jnp.sum(s * tau**2)
    curvature = jnp.zeros((3, 3), theta.dtype)
    curvature = curvature.at[0, 1].set(cross).at[1, 0].set(cross).at[1, 1].set(bb)
    return jac.T @ jac + curvature


def _masked(matrix: Float[Array, "3 3"], mask: Float[Array, " 3"]) -> Float[Array, "3 3"]:
    """Restrict a 3x3 system to the free parameters: identity on the fixed ones (c = 0)."""
    return matrix * jnp.outer(mask, mask) + jnp.diag(1.0 - mask)


def _spd_solve(matrix: Float[Array, "p p"], rhs: Float[Array, " p *k"]) -> Float[Array, " p *k"]:
    """Solve with a symmetric positive-definite matrix by Cholesky (NaN if not SPD).

    Cholesky rather than jnp.linalg.solve: these systems are SPD, and it compiles ~5x faster.
    """
    return jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(matrix), rhs)


def _tangent_solve(g: Callable[[Array], Array], v: Array) -> Array:
    """Solve H u = v with H the (masked) Hessian of RSS / 2, the linearised optimality condition."""
    return _spd_solve(jax.jacobian(g)(v), v)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _fit(
    x: Float[Array, " m"],
    y: Float[Array, " m"],
    w: Float[Array, " m"],
    with_constant: Bool[ArrayLike, ""],
    absolute_sigma: Bool[ArrayLike, ""],
    *,
    max_steps: int,
) -> dict[str, Array]:
    """The fit as arrays (a, b, c, cov, rss, result, steps); both models share one compilation.

    Parameters are always (A, b, c); the pure power law fixes c = 0 through `mask`.
    """
    dtype = y.dtype
    m = y.shape[0]
    mask = jnp.stack([1.0, 1.0, jnp.asarray(with_constant, dtype)]).astype(dtype)
    n_params = jnp.sum(mask)
    t = jnp.log(x)
    # The centring constant only reparametrises; the fitted (a, b, c) do not depend on it.
    t0 = jax.lax.stop_gradient(jnp.mean(t))
    tau = t - t0

    def residual(theta: Array) -> Array:
        return w * (y - _model(theta, tau))

    def optimality(theta: Array) -> Array:
        # Root defines the fit: zero gradient of RSS / 2 in the free parameters, c = 0 if fixed.
        # Closes over the (traced) data, so custom_root differentiates the solution with respect
        # to x, y and w by the implicit function theorem.
        # Evaluating at mask * theta keeps the Jacobian symmetric (block-diagonal in c).
        grad = jax.grad(lambda th: 0.5 * jnp.sum(residual(th) ** 2))(mask * theta)
        return mask * grad + (1.0 - mask) * theta

    y_s, w_s, tau_s = jax.lax.stop_gradient((y, w, tau))
    theta0 = _initial_guess(tau_s, y_s, w_s, mask[2] > 0)

    def solve(_: Callable, theta_init: Array) -> tuple[Array, Array]:
        # Solve in units where the weighted data have unit RMS (A and c scale with y).
        scale = jnp.sqrt(jnp.mean((w_s * y_s) ** 2))
        scale = jnp.where((scale > 0) & jnp.isfinite(scale), scale, 1.0)
        units = jnp.stack([scale, jnp.ones((), dtype), scale])
        theta, steps, ok = _levenberg_marquardt(
            theta_init / units, tau_s, y_s / scale, w_s, mask, max_steps
        )
        # Aux outputs are float: custom_root's JVP rule mishandles integer/bool aux (JAX 0.10).
        return theta * units, jnp.stack([steps, ok]).astype(dtype)

    theta, aux = jax.lax.custom_root(optimality, theta0, solve, _tangent_solve, has_aux=True)
    steps, optimal = aux[0].astype(jnp.int32), aux[1] > 0

    rss = jnp.sum(residual(theta) ** 2)
    jac = w[:, None] * _model_jacobian(theta, tau) * mask  # (m, 3), centred parametrisation
    norms = jnp.linalg.norm(jac, axis=0)
    norms = jnp.where(norms > 0, norms, 1.0)
    jac_scaled = jac / norms
    eps = jnp.finfo(dtype).eps
    # Numerical rank of the free columns (a fixed c contributes a unit singular value).
    sv = jnp.linalg.svd(jnp.concatenate([jac_scaled, jnp.diag(1.0 - mask)]), compute_uv=False)
    full_rank = sv[-1] > sv[0] * m * eps
    # b is identifiable only if the power-law component rises above the rounding of the data.
    component = jnp.linalg.norm(theta[0] * jac[:, 0])
    full_rank = full_rank & (component > m * eps * jnp.linalg.norm(w * y))
    s2 = jnp.where(absolute_sigma, 1.0, rss / (m - n_params))
    gram_inv = _spd_solve(_masked(jac_scaled.T @ jac_scaled, mask), jnp.eye(3, dtype=dtype))
    cov = s2 * gram_inv / jnp.outer(norms, norms) * jnp.outer(mask, mask)

    # Back to (a, b, c): a = A exp(b t0); T is d(a, b, c) / d(A, b, c).
    b = theta[1]
    a = theta[0] * jnp.exp(b * t0)
    transform = jnp.eye(3, dtype=dtype).at[0, 0].set(jnp.exp(b * t0)).at[0, 1].set(a * t0)
    cov = transform @ cov @ transform.T

    finite = jnp.all(jnp.isfinite(theta)) & jnp.isfinite(rss)
    result = jnp.where(optimal, int(FitResult.SUCCESS), int(FitResult.NOT_CONVERGED))
    result = jnp.where(full_rank, result, int(FitResult.SINGULAR))
    result = jnp.where(finite, result, int(FitResult.NONFINITE)).astype(jnp.int32)
    c = jnp.where(mask[2] > 0, theta[2], 0.0)
    return dict(a=a, b=b, c=c, cov=cov, rss=rss, result=result, steps=steps)


@jax.jit
def _fit_log(
    x: Float[Array, " m"],
    z: Float[Array, " m"],
    v: Float[Array, " m"],
    absolute_sigma: Bool[ArrayLike, ""],
) -> dict[str, Array]:
    """Weighted regression of z = log y on log x: z = log a - b log x, weights v^2.

    Returns the fields of `PowerLawFit` (c = 0, steps = 0); cov of (a, b, c) by the delta
    method from the covariance of (log a, b).
    """
    dtype = z.dtype
    m = z.shape[0]
    eps = jnp.finfo(dtype).eps
    t = jnp.log(x)
    q = v * v
    qs = jnp.sum(q)
    t_bar = jnp.sum(q * t) / qs
    z_bar = jnp.sum(q * z) / qs
    tau = t - t_bar
    sxx = jnp.sum(q * tau**2)
    # x all (nearly) equal: the slope is not identifiable
    full_rank = sxx > m * eps * jnp.sum(q * t**2)
    sxx = jnp.where(full_rank, sxx, 1.0)
    slope = jnp.sum(q * tau * (z - z_bar)) / sxx
    b = -slope
    log_a = z_bar - slope * t_bar
    rss = jnp.sum(q * (z - z_bar - slope * tau) ** 2)
    s2 = jnp.where(absolute_sigma, 1.0, rss / (m - 2))
    # (log a, b) = (z_bar + b t_bar, b): var(z_bar) = s2 / qs, var(b) = s2 / sxx, independent
    var_b = s2 / sxx
    var_log_a = s2 / qs + t_bar**2 * var_b
    cov_log_a_b = t_bar * var_b
    a = jnp.exp(log_a)
    cov = jnp.zeros((3, 3), dtype)
    cov = cov.at[0, 0].set(a * a * var_log_a).at[1, 1].set(var_b)
    cov = cov.at[0, 1].set(a * cov_log_a_b).at[1, 0].set(a * cov_log_a_b)
    finite = jnp.isfinite(a) & jnp.isfinite(b) & jnp.isfinite(rss) & jnp.all(jnp.isfinite(z))
    result = jnp.where(full_rank, int(FitResult.SUCCESS), int(FitResult.SINGULAR))
    result = jnp.where(finite, result, int(FitResult.NONFINITE)).astype(jnp.int32)
    zero = jnp.zeros((), dtype)
    return dict(a=a, b=b, c=zero, cov=cov, rss=rss, result=result, steps=jnp.zeros((), jnp.int32))


def _initial_guess(
    tau: Float[Array, " m"], y: Float[Array, " m"], w: Float[Array, " m"], with_constant: Array
) -> Float[Array, " 3"]:
    """Initial (A, b, c): variable projection on a grid of b; log-log regression for pure law."""
    dtype = y.dtype
    tiny = jnp.finfo(dtype).tiny
    z = w * y
    t_min = jnp.min(tau)
    has_c = with_constant.astype(dtype)

    def profile(b: Array) -> tuple[Array, Array, Array]:
        u = w * jnp.exp(-b * (tau - t_min))  # basis exp(-b tau) rescaled to max 1, weighted
        vv = jnp.sum(w * w)
        u_perp = u - has_c * (jnp.dot(u, w) / vv) * w  # project out the constant if fitted
        den = jnp.dot(u_perp, u_perp)
        coef = jnp.where(den > tiny, jnp.dot(u_perp, z) / jnp.where(den > tiny, den, 1.0), 0.0)
        c = has_c * jnp.dot(w, z - coef * u) / vv
        rss = jnp.sum((z - coef * u - c * w) ** 2)
        rss = jnp.where(jnp.isfinite(rss), rss, jnp.inf)
        return rss, coef * jnp.exp(b * t_min), c

    grid = jnp.geomspace(*_B_GRID[:2], _B_GRID[2], dtype=dtype)
    rss, big_a, c = jax.vmap(profile)(grid)
    i = jnp.argmin(rss)
    theta_grid = jnp.stack([big_a[i], grid[i], c[i]])

    # Pure law: weighted regression of log|y| on tau, var(log|y|) ~ sigma^2 / y^2 (delta method).
    nonzero = y != 0
    ly = jnp.log(jnp.where(nonzero, jnp.abs(y), 1.0))
    q = jnp.where(nonzero, z**2, 0.0)
    qs = jnp.maximum(jnp.sum(q), tiny)
    tau_bar = jnp.sum(q * tau) / qs
    ly_bar = jnp.sum(q * ly) / qs
    sxx = jnp.sum(q * (tau - tau_bar) ** 2)
    b_log = -jnp.sum(q * (tau - tau_bar) * (ly - ly_bar)) / jnp.maximum(sxx, tiny)
    a_log = jnp.sign(jnp.sum(w * z)) * jnp.exp(ly_bar + b_log * tau_bar)
    theta_log = jnp.stack([a_log, b_log, jnp.zeros((), dtype)])
    rss_log = jnp.sum((z - w * _model(theta_log, tau)) ** 2)
    use_log = ~with_constant & jnp.isfinite(rss_log) & (rss_log < rss[i])
    return jnp.where(use_log, theta_log, theta_grid)


def _levenberg_marquardt(
    theta0: Float[Array, " 3"],
    tau: Float[Array, " m"],
    z: Float[Array, " m"],
    w: Float[Array, " m"],
    mask: Float[Array, " 3"],
    max_steps: int,
) -> tuple[Float[Array, " 3"], Int[Array, ""], Bool[Array, ""]]:
    """Minimise sum_i (w_i (z_i - model(theta, tau_i)))^2 over the unmasked parameters by LM.

    Levenberg-Marquardt with Marquardt's column scaling; the data must be scaled to unit RMS.
    Convergence (any of): the relative offset of Bates & Watts (Technometrics 23, 1981),
    ||P r|| / sqrt(p) over ||(1 - P) r|| / sqrt(m - p) with P the projection onto the columns
    of J, is below sqrt(eps), i.e. the remaining Gauss-Newton step is a negligible fraction of
    the statistical uncertainty; or that step is below sqrt(eps) (|theta| + 1), which covers
    zero-residual data; or its predicted decrease of the RSS, ||P r||^2, is below the rounding
    error of the RSS (m^1.5 eps ||r||), where no further descent can be verified. Stops one step
    after the test passes, when damping exceeds `_LAMBDA_MAX` (no descent left), or after
    `max_steps`; then `_NEWTON_POLISH` Newton steps on the full Hessian.
    Returns (theta, steps, test passed).
    """
    dtype = theta0.dtype
    eps = jnp.finfo(dtype).eps
    tol = jnp.sqrt(eps)
    m = z.shape[0]
    n_params = jnp.sum(mask)

    def residual(theta: Array) -> Array:
        return w * (z - _model(theta, tau))

    def linearise(theta: Array) -> tuple[Array, Array, Array, Array, Array]:
        r = residual(theta)
        jac = -w[:, None] * _model_jacobian(theta, tau) * mask
        norms = jnp.linalg.norm(jac, axis=0)
        norms = jnp.where(norms > 0, norms, 1.0)
        jac_scaled = jac / norms
        gram = _masked(jac_scaled.T @ jac_scaled, mask)
        return r, norms, jac_scaled.T @ r, gram, jnp.sum(r**2)

    def optimal(theta: Array, r: Array, norms: Array, g: Array, gram: Array, rss: Array) -> Array:
        u = _spd_solve(gram, -g)  # Gauss-Newton step in column-scaled coordinates
        projected = -jnp.dot(g, u)  # ||P r||^2
        offset_ok = projected * (m - n_params) <= tol**2 * n_params * (rss - projected)
        step_ok = jnp.all(jnp.abs(u / norms) <= tol * (jnp.abs(theta) + 1.0))
        floor_ok = projected <= m**1.5 * eps * jnp.sqrt(rss)
        return (offset_ok | step_ok | floor_ok) & jnp.all(jnp.isfinite(r))

    def cond(state: tuple) -> Array:
        _, lam, step, done = state
        return (~done) & (step < max_steps) & (lam < _LAMBDA_MAX)

    def body(state: tuple) -> tuple:
        theta, lam, step, _ = state
        r, norms, g, gram, rss = linearise(theta)
        is_optimal = optimal(theta, r, norms, g, gram, rss)
        u = _spd_solve(gram + lam * jnp.eye(3, dtype=dtype), -g)
        theta_new = theta + u / norms
        rss_new = jnp.sum(residual(theta_new) ** 2)
        accept = jnp.isfinite(rss_new) & (rss_new <= rss)
        theta = jnp.where(accept, theta_new, theta)
        lam = jnp.where(accept, jnp.maximum(lam * 0.3, eps), lam * 4.0)
        return theta, lam, step + 1, is_optimal

    state = (
        theta0,
        jnp.asarray(_LAMBDA_INIT, dtype),
        jnp.asarray(0, jnp.int32),
        jnp.asarray(False),
    )
    theta, _, steps, is_optimal = jax.lax.while_loop(cond, body, state)

    # Polish with Newton steps on the full Hessian of RSS / 2: Gauss-Newton converges only
    # linearly when residuals are nonzero, Newton quadratically. A step is kept if finite and
    # small (it starts from a point that passed the test), since RSS changes are at rounding.
    def polish(_: int, theta: Array) -> Array:
        _, norms, g, _, _ = linearise(theta)
        hess = _masked(_half_rss_hessian(theta, tau, z, w) / jnp.outer(norms, norms), mask)
        u = _spd_solve(hess, -g)  # NaN unless the Hessian is positive definite
        small = jnp.all(jnp.abs(u / norms) <= 1e-3 * (jnp.abs(theta) + 1.0))
        keep = is_optimal & jnp.all(jnp.isfinite(u)) & small
        return jnp.where(keep, theta + u / norms, theta)

    theta = jax.lax.fori_loop(0, _NEWTON_POLISH, polish, theta)
    return theta, steps, is_optimal
