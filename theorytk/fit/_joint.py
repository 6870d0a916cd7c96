"""The joint scaling law L(N, D) = E + A / N^alpha + B / D^beta and its compute-optimal frontier.

Fitted as in Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models",
approach 3 (their eq. 2 and appendix D.2): parameters in log space, a = log A, b = log B,
e = log E, so that A, B, E stay positive, and the predicted log loss as a log-sum-exp,

    log L_hat(N, D) = LSE(a - alpha log N, b - beta log D, e),

with the Huber loss (delta = 1e-3) of log L_hat - log L summed over the runs, minimised from
the published 4,500-point grid of starts. Under the compute budget C = 6 N D, minimising
L over N gives (their eq. 4)

    N_opt(C) = G (C/6)^a_opt,  D_opt(C) = G^-1 (C/6)^b_opt,
    G = (alpha A / (beta B))^(1 / (alpha + beta)),  a_opt = beta / (alpha + beta),
    b_opt = alpha / (alpha + beta).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from ._law import LawFit, _check_positive, fit_law, grid_starts, percentile_interval
from ._multistart import POOL_SIZE

FLOPS_PER_PARAMETER_TOKEN = 6.0
PARAMETERS = ("E", "A", "B", "alpha", "beta")
DERIVED = ("a_opt", "b_opt", "G")

# The grid of Hoffmann et al. (2022), appendix D.2: 6 x 6 x 5 x 5 x 5 = 4,500 starts.
CHINCHILLA_STARTS = grid_starts(
    a=np.arange(0.0, 26.0, 5.0),
    b=np.arange(0.0, 26.0, 5.0),
    e=np.arange(-1.0, 1.01, 0.5),
    alpha=np.arange(0.0, 2.01, 0.5),
    beta=np.arange(0.0, 2.01, 0.5),
)
# The same grid without e, for a fit with E fixed: 6 x 6 x 5 x 5 = 900 starts.
FIXED_E_STARTS = grid_starts(
    a=np.arange(0.0, 26.0, 5.0),
    b=np.arange(0.0, 26.0, 5.0),
    alpha=np.arange(0.0, 2.01, 0.5),
    beta=np.arange(0.0, 2.01, 0.5),
)


def joint_log_law(theta: dict[str, Array], x: Float[Array, "m 2"]) -> Float[Array, " m"]:
    """log L_hat = LSE(a - alpha log N, b - beta log D, e), x = (log N, log D) per row."""
    n_term = theta["a"] - theta["alpha"] * x[:, 0]
    d_term = theta["b"] - theta["beta"] * x[:, 1]
    return _logsumexp3(n_term, d_term, jnp.broadcast_to(theta["e"], n_term.shape))


def _logsumexp3(
    t1: Float[Array, " m"], t2: Float[Array, " m"], t3: Float[Array, " m"]
) -> Float[Array, " m"]:
    """log(e^t1 + e^t2 + e^t3) = t_max + log(1 + e^(u - t_max) + e^(v - t_max)).

    t_max is the largest of the three terms and u, v the other two, so no exponential
    overflows and each point takes two exponentials (`jax.scipy.special.logsumexp` takes
    three, one of them e^0); exact in the reals, and its gradient is the softmax of the terms.
    """
    first = (t1 >= t2) & (t1 >= t3)  # t1 is the largest (ties: the earliest term)
    third = ~first & (t3 > t2)
    top = jnp.where(first, t1, jnp.where(third, t3, t2))
    u = jnp.where(first, t2, t1)
    v = jnp.where(third, t2, t3)
    return top + _log_1_to_4(1.0 + jnp.exp(u - top) + jnp.exp(v - top))


# fdlibm's log (e_log.c, Sun Microsystems 1993): ln 2 in two parts, the coefficients Lg1..Lg7
# of its polynomial, and the mantissas (as numbers in [1, 2)) at which it halves the argument
# (near sqrt 2) and between which it takes its "hfsq" form.
LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
HALVE_FROM = 1.0 + 0x6A09C / 2**20
HFSQ_FROM, HFSQ_BELOW = 1.0 + 0x6147A / 2**20, 1.0 + 0x6B852 / 2**20


@jax.custom_jvp
def _log_1_to_4(s: Float[Array, " m"]) -> Float[Array, " m"]:
    """log s for s in [1, 4), within 1 ulp: fdlibm's log without its special cases.

    s = 2^k (1 + f) with k in {0, 1, 2} and 1 + f in [sqrt(2)/2, sqrt(2)); with
    r = f / (2 + f), log(1 + f) = 2 atanh(r) = f - r (f - R(r^2)), R fdlibm's degree-14
    polynomial. Only arithmetic and selects, which XLA vectorises: on a CPU it takes about
    half the time of XLA's float64 log (`python benchmarks/scaling_fit.py --profile`). Its
    derivative is 1 / s.
    """
    two = s >= 2.0
    mantissa = jnp.where(two, 0.5 * s, s)  # in [1, 2), exact
    half = mantissa >= HALVE_FROM
    k = two.astype(s.dtype) + half.astype(s.dtype)
    f = jnp.where(half, 0.5 * mantissa, mantissa) - 1.0
    r = f / (2.0 + f)
    z = r * r
    w = z * z
    poly = w * (LG[1] + w * (LG[3] + w * LG[5])) + z * (
        LG[0] + w * (LG[2] + w * (LG[4] + w * LG[6]))
    )
    hfsq = 0.5 * f * f
    with_hfsq = k * LN2_HI - ((hfsq - (r * (hfsq + poly) + k * LN2_LO)) - f)
    without = k * LN2_HI - ((r * (f - poly) - k * LN2_LO) - f)
    return jnp.where((mantissa >= HFSQ_FROM) & (mantissa < HFSQ_BELOW), with_hfsq, without)


@_log_1_to_4.defjvp
def _log_1_to_4_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (s,), (ds,) = primals, tangents
    return _log_1_to_4(s), ds / s


class FixedELaw(eqx.Module):
    """`joint_log_law` with e = log E held at a stated value (E = 0: e = -inf, no constant)."""

    e: float = eqx.field(static=True)

    def __call__(self, theta: dict[str, Array], x: Float[Array, "m 2"]) -> Float[Array, " m"]:
        return joint_log_law({**theta, "e": jnp.asarray(self.e, x.dtype)}, x)


def natural(theta: dict[str, Array]) -> dict[str, Array]:
    """(E, A, B, alpha, beta) and the compute-optimal a_opt, b_opt, G from log-space theta."""
    alpha, beta = theta["alpha"], theta["beta"]
    A, B = jnp.exp(theta["a"]), jnp.exp(theta["b"])
    s = alpha + beta
    return {
        "E": jnp.exp(theta["e"]),
        "A": A,
        "B": B,
        "alpha": alpha,
        "beta": beta,
        "a_opt": beta / s,
        "b_opt": alpha / s,
        "G": jnp.exp((jnp.log(alpha) + theta["a"] - jnp.log(beta) - theta["b"]) / s),
    }


def _in_own_precision(method: Callable) -> Callable:
    """Evaluate a `JointLawFit` method with float64 enabled when the fit holds float64
    values, so a fit made inside `jax.enable_x64` keeps its precision when used outside it."""

    @functools.wraps(method)
    def evaluate(self: JointLawFit, *args: Any, **kwargs: Any) -> Any:
        with jax.enable_x64(self.alpha.dtype == jnp.float64 or jax.config.jax_enable_x64):
            return method(self, *args, **kwargs)

    return evaluate


class JointLawFit(eqx.Module):
    """Result of `fit_joint_law`: L(N, D) = E + A / N^alpha + B / D^beta, with uncertainty.

    Attributes:
        E, A, B, alpha, beta: point estimates (NaN if the fit did not converge).
        a_opt, b_opt: compute-optimal exponents beta / (alpha + beta), alpha / (alpha + beta).
        G: the frontier's prefactor (alpha A / (beta B))^(1 / (alpha + beta)).
        stderr: bootstrap standard errors of the names above (empty without bootstrap).
        samples: bootstrap refits of the names above, each `Float[Array, "n_bootstrap"]`
            (NaN where a resample did not converge), or None.
        converged: whether any start converged; converged_fraction: the fraction that did.
        result: `optx.RESULTS` code of the kept start.
        law: the underlying `LawFit` (log-space parameters a, b, e, alpha, beta; without e
            when E was fixed).
        E_fixed: whether E was fixed by the caller (a prior) rather than fitted.

    The methods evaluate in the fit's precision: a fit made in float64 (inside
    `jax.enable_x64`) is evaluated in float64 wherever it is used.
    """

    E: Float[Array, ""]
    A: Float[Array, ""]
    B: Float[Array, ""]
    alpha: Float[Array, ""]
    beta: Float[Array, ""]
    a_opt: Float[Array, ""]
    b_opt: Float[Array, ""]
    G: Float[Array, ""]
    stderr: dict[str, Float[Array, ""]]
    samples: dict[str, Float[Array, " n_bootstrap"]] | None
    converged: Bool[Array, ""]
    converged_fraction: Float[Array, ""]
    result: optx.RESULTS
    law: LawFit
    E_fixed: bool = eqx.field(static=True, default=False)

    @property
    def params(self) -> dict[str, Float[Array, ""]]:
        """The point estimates of E, A, B, alpha, beta, a_opt, b_opt and G."""
        return {name: getattr(self, name) for name in PARAMETERS + DERIVED}

    @_in_own_precision
    def __call__(self, N: Float[ArrayLike, "*n"], D: Float[ArrayLike, "*n"]) -> Float[Array, "*n"]:
        """The fitted loss E + A / N^alpha + B / D^beta."""
        n, d = jnp.asarray(N), jnp.asarray(D)
        return self.E + self.A * n**-self.alpha + self.B * d**-self.beta

    @_in_own_precision
    def ci(self, level: float = 0.95) -> tuple[dict[str, Array], dict[str, Array]]:
        """Bootstrap percentile intervals (lower, upper) of every parameter and a_opt, b_opt, G."""
        if self.samples is None:
            raise ValueError("no bootstrap samples: fit with n_bootstrap >= 2 for intervals")
        return percentile_interval(self.samples, level)

    @_in_own_precision
    def compute_optimal(
        self, compute: Float[ArrayLike, " c"], level: float = 0.95
    ) -> dict[str, dict[str, Float[Array, " c"]]]:
        """N_opt, D_opt and tokens per parameter D_opt / N_opt at compute budgets C = 6 N D.

        Returns, for each of "N_opt", "D_opt", "tokens_per_parameter" and "loss" (the loss
        on the frontier), a dict with "value" (point estimate) and, when bootstrapped,
        "stderr" and the percentile interval "lower", "upper" at `level`.

        Args:
            compute: `Float[ArrayLike, "c"]` budgets in FLOPs (> 0).
            level: interval coverage in (0, 1).
        """
        c = np.atleast_1d(np.asarray(compute, dtype=float))
        _check_positive("compute", c, "budgets are FLOPs")
        c = jnp.asarray(c, self.alpha.dtype)
        out = {k: {"value": v} for k, v in frontier(self.params, c).items()}
        if self.samples is None:
            return out
        draws = jax.vmap(lambda p: frontier(p, c))(self.samples)
        lower, upper = percentile_interval(draws, level)
        for name, values in draws.items():
            out[name] |= {
                "stderr": jnp.nanstd(values, axis=0, ddof=1),
                "lower": lower[name],
                "upper": upper[name],
            }
        return out

    @_in_own_precision
    def summary(self, level: float = 0.95) -> str:
        """A table of the estimates with bootstrap standard errors and percentile intervals."""
        lines = [
            f"L(N, D) = E + A/N^alpha + B/D^beta, {self.law.n_points} points, "
            f"objective {self.law.objective}, converged starts "
            f"{float(self.converged_fraction):.1%} of {self.law.n_starts}"
        ]
        lower, upper = self.ci(level) if self.samples is not None else (None, None)
        for name in PARAMETERS + DERIVED:
            row = f"  {name:>6} = {float(getattr(self, name)):.6g}"
            if name == "E" and self.E_fixed:
                row += "  (fixed)"
            elif lower is not None:
                row += (
                    f"  (se {float(self.stderr[name]):.3g}, {level:.0%} CI "
                    f"[{float(lower[name]):.6g}, {float(upper[name]):.6g}])"
                )
            lines.append(row)
        return "\n".join(lines)


def frontier(params: dict[str, Array], compute: Float[Array, " c"]) -> dict[str, Array]:
    """N_opt, D_opt, tokens per parameter and the frontier loss at budgets C = 6 N D."""
    scaled = compute / FLOPS_PER_PARAMETER_TOKEN
    n_opt = params["G"] * scaled ** params["a_opt"]
    d_opt = scaled ** params["b_opt"] / params["G"]
    loss = (
        params["E"]
        + params["A"] * n_opt ** -params["alpha"]
        + params["B"] * d_opt ** -params["beta"]
    )
    return {"N_opt": n_opt, "D_opt": d_opt, "tokens_per_parameter": d_opt / n_opt, "loss": loss}


def fit_joint_law(
    N: Float[ArrayLike, " m"],
    D: Float[ArrayLike, " m"],
    loss: Float[ArrayLike, " m"],
    *,
    objective: str = "huber_log",
    exclude_highest: int = 0,
    n_bootstrap: int = 0,
    key: PRNGKeyArray | None = None,
    solver: str = "bfgs",
    starts: dict[str, ArrayLike] | None = None,
    max_steps: int = 300,
    pool_size: int | None = POOL_SIZE,
    E: float | None = None,
) -> JointLawFit:
    """Fit L(N, D) = E + A / N^alpha + B / D^beta from 4,500 starts at once, with bootstrap.

    log L_hat = LSE(a - alpha log N, b - beta log D, e) with (A, B, E) = exp(a, b, e), and
    (objective "huber_log") the sum over points of Huber_delta(log L_hat - log L),
    delta = 1e-3, minimised by BFGS from every point of the grid alpha, beta in
    {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}, all in one compiled
    call, vmapped over a refilled pool of lanes (Hoffmann et al. 2022, approach 3). The
    bootstrap resamples the points with replacement and refits each resample from the best fit
    (vmapped); standard errors and percentile intervals follow for every parameter and for
    a_opt, b_opt, G, and through `compute_optimal(C)` for N_opt(C), D_opt(C) and tokens per
    parameter.

    Args:
        N: `Float[ArrayLike, "m"]` parameter counts (> 0).
        D: `Float[ArrayLike, "m"]` training tokens / examples (> 0).
        loss: `Float[ArrayLike, "m"]` final losses (> 0).
        objective: "huber_log" (default), "least_squares_log" or "least_squares".
        exclude_highest: drop the k runs of highest loss first (as published analyses do).
        n_bootstrap: number of bootstrap resamples (0: none; else >= 2).
        key: PRNG key for the resamples (required with n_bootstrap).
        solver: "bfgs" (default), "lbfgs" or "levenberg_marquardt" (squares objectives).
        starts: a dict of arrays a, b, e, alpha, beta (one start per row) replacing the grid.
        max_steps: iteration budget per solve.
        pool_size: lanes of the refilled pool the starts run in (None: one vmapped solve of
            all starts); see `fit_law`.
        E: None (default) fits the irreducible loss. A number in [0, min(loss)) fixes it
            instead: a stated prior, for data that do not identify E (e.g. a fit that drives
            E to its bound 0 while A and alpha trade off against it). Then a, b, alpha, beta
            are fitted from the grid above without e (900 starts; `starts` without "e"), the
            bootstrap is conditional on that E, and E's interval is the point E.

    Returns:
        A `JointLawFit`; if no start converged, `converged` is False and the estimates NaN.

    Raises:
        ValueError: N, D or loss non-positive, non-finite, of different shapes or not 1-D;
            fewer than 6 points; N or D with fewer than 3 distinct values (then A, alpha or
            B, beta and E are not identifiable: only E + A / N^alpha at each N is); E outside
            [0, min(loss)) or with starts holding "e"; other bad options (see `fit_law`).
            Needs concrete data (no jit).
    """
    arrays = {"N": np.asarray(N), "D": np.asarray(D), "loss": np.asarray(loss)}
    for name, arr in arrays.items():
        if arr.ndim != 1 or arr.shape != arrays["loss"].shape:
            raise ValueError(
                "N, D and loss must be 1-D of the same length, got shapes "
                f"{[a.shape for a in arrays.values()]}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got NaN or inf at {_bad(arr)}")
        _check_positive(name, arr, "the law is fitted in log space")
    for name, law_params in (("N", "A, alpha"), ("D", "B, beta")):
        distinct = np.unique(arrays[name])
        if arrays[name].size and distinct.size < 3:
            raise ValueError(
                f"{name} takes {distinct.size} distinct value(s) {distinct[:2].tolist()}: "
                f"{law_params} and E are not identifiable (a power law plus a constant needs "
                f"{name} at >= 3 distinct values); vary {name}, or fit the loss against the "
                "other variable alone"
            )
    law, default_starts = joint_log_law, CHINCHILLA_STARTS
    if E is not None:
        law, default_starts = FixedELaw(_fixed_e(E, arrays["loss"], starts)), FIXED_E_STARTS
    x = np.stack([np.log(arrays["N"]), np.log(arrays["D"])], axis=1)
    fit = fit_law(
        law,
        x,
        arrays["loss"],
        default_starts if starts is None else starts,
        objective=objective,
        law_is_log=True,
        solver=solver,
        exclude_highest=exclude_highest,
        n_bootstrap=n_bootstrap,
        key=key,
        max_steps=max_steps,
        pool_size=pool_size,
    )
    return _joint_result(fit, None if E is None else law.e)


def check_fixed_irreducible_loss(E: float, loss: ArrayLike) -> None:
    """Refuse a fixed irreducible loss E outside [0, min(loss)), the bound `fit_joint_law`
    puts on its argument `E` (the law's E + A / N^alpha + B / D^beta exceeds E everywhere).

    Args:
        E: the fixed irreducible loss.
        loss: the measured losses, any shape (empty: every finite E >= 0 is allowed).

    Raises:
        ValueError: E non-finite, negative or >= min(loss); the message gives E and the bound
            exactly (their reprs).
    """
    loss = np.asarray(loss)
    least = float(np.min(loss)) if loss.size else np.inf
    if not (np.isfinite(E) and 0 <= E < least):
        raise ValueError(
            f"E = {E!r}: a fixed irreducible loss must lie in [0, min(loss)) = [0, {least!r})"
        )


def _fixed_e(E: float, loss: np.ndarray, starts: dict[str, ArrayLike] | None) -> float:
    """log E for a fixed irreducible loss E in [0, min(loss)) (-inf for E = 0)."""
    check_fixed_irreducible_loss(E, loss)
    if starts is not None and "e" in starts:
        raise ValueError("starts must not hold 'e' when E is fixed (e = log E is not fitted)")
    return float(np.log(E)) if E > 0 else -np.inf


def _bad(arr: np.ndarray) -> list[int]:
    return np.flatnonzero(~np.isfinite(arr))[:5].tolist()


def _joint_result(fit: LawFit, e: float | None = None) -> JointLawFit:
    params, samples = fit.params, fit.samples
    if e is not None:  # E fixed: its log enters every estimate as a constant
        params = {**params, "e": jnp.full_like(params["a"], e)}
        samples = None if samples is None else {**samples, "e": jnp.full_like(samples["a"], e)}
    point = natural(params)
    samples = None if samples is None else natural(samples)
    stderr: dict[str, Any] = (
        {} if samples is None else {k: jnp.nanstd(v, ddof=1) for k, v in samples.items()}
    )
    return JointLawFit(
        **point,
        stderr=stderr,
        samples=samples,
        converged=fit.converged,
        converged_fraction=fit.converged_fraction,
        result=fit.result,
        law=fit,
        E_fixed=e is not None,
    )
