"""NumPy port of the authors' random-feature risk solver, the baseline of `rf_theory.py`.

Port of `rf_krr_risk_theory` in `theory.py` of github.com/dkarkada/more-is-better (Simon,
Karkada, Ghosh & Belkin, "More is better in modern machine learning", 2023; the version of
2023-10-10), which is written in JAX on `jaxopt.Bisection`. Same algorithm, same brackets, same
tolerances and iteration caps; only the array library differs (NumPy, float64, Python loops):

- inner solve: for a given kappa, gamma in [1e-15, 1e15] (linear scale) solves
  sum_i L_i + ridge / kappa = n by bisection, tol 1e-5 on |residual|, at most 200 steps;
- outer solve: log10 kappa in [-15, 15] solves sum_i L_i + k kappa / gamma(kappa) = k by
  bisection, tol 1e-5, at most 200 steps, each step one inner solve;
- then x = (q (k - 2z) + z^2) / (n (k - q)) and
  risk = (sum_i [(1 - L_i) - kappa L_i / (lambda_i + gamma) k / (k - q)] c_i^2 + noise) / (1 - x).

`_bisection` follows `jaxopt.Bisection.run` of jaxopt 0.8 (the release with the `jit`
argument the authors pass): the function is evaluated at both ends to find its direction
(sign 0 if the ends do not bracket a root; then every step moves `low`), the first midpoint is
evaluated, and steps continue while |f(midpoint)| > tol, at most `maxiter` evaluations of the
midpoint in all; the result is the last midpoint evaluated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TOL = 1e-5
MAXITER = 200


def _bisection(
    fun: Callable[[float], float], lower: float, upper: float, maxiter: int = MAXITER
) -> float:
    """Root of fun on [lower, upper] by bisection with jaxopt 0.8's stopping rule."""
    lower_value, upper_value = fun(lower), fun(upper)
    if lower_value < 0 and upper_value >= 0:
        sign = 1.0
    elif lower_value > 0 and upper_value <= 0:
        sign = -1.0
    else:
        sign = 0.0
    low, high = lower, upper
    for _ in range(maxiter):
        params = 0.5 * (low + high)
        value = fun(params)
        if sign * value > 0:
            high = params
        else:
            low = params
        if not np.sqrt(value**2) > TOL:
            break
    return params


def rf_krr_risk_theory(
    eigvals: np.ndarray,
    eigcoeffs: np.ndarray,
    n: float,
    k: float,
    ridge: float,
    noise_var: float = 0.0,
) -> tuple[float, float, float]:
    """(test risk, kappa, gamma) of random-feature ridge regression, the authors' solver.

    Args:
        eigvals: kernel eigenvalues, shape (P,).
        eigcoeffs: target coefficients in the eigenbasis (not squared), shape (P,).
        n: number of samples.
        k: number of random features.
        ridge: ridge on the unnormalised Gram matrix.
        noise_var: label-noise variance.
    """
    eigvals = np.asarray(eigvals, dtype=np.float64)
    eigcoeffs = np.asarray(eigcoeffs, dtype=np.float64)

    def sum_1(kappa: float, gamma: float) -> float:
        eigenlrns = eigvals / (eigvals + gamma)
        return eigenlrns.sum() + ridge / kappa

    def sum_2(kappa: float, gamma: float) -> float:
        eigenlrns = eigvals / (eigvals + gamma)
        return eigenlrns.sum() + k * kappa / gamma

    def gamma_of(kappa: float) -> float:
        return _bisection(lambda gamma: sum_1(kappa, gamma) - n, 1e-15, 1e15)

    def kappa_error_signal(kappa: float) -> float:
        return sum_2(kappa, gamma_of(kappa)) - k

    logkap = _bisection(lambda logkap: kappa_error_signal(10**logkap), -15.0, 15.0)
    kappa = 10**logkap
    gamma = gamma_of(kappa)

    eigenlrns = eigvals / (eigvals + gamma)
    z = eigenlrns.sum()
    q = (eigenlrns**2).sum()
    x = (q * (k - 2 * z) + z**2) / (n * (k - q))
    overfitting_coeff = 1 / (1 - x)
    bias_coeffs = (1 - eigenlrns) - kappa * eigenlrns / (eigvals + gamma) * k / (k - q)
    risk_pred = overfitting_coeff * (bias_coeffs @ eigcoeffs**2 + noise_var)
    return float(risk_pred), float(kappa), float(gamma)
