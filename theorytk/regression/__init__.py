"""Regression models: linear ridge, random features (linear and nonlinear) and kernel ridge
regression on data pools, with their eigenframework theory.

    from theorytk import regression
    config = regression.RidgeConfig(d=200, n_max=1000, noise=0.5)
    regression.ridge_theory({"lam": 1e-2, "n": 400}, config=config)["test_mse"]

`ridge` is everywhere the ridge delta added to the unnormalised n x n Gram matrix (`krr_risk`,
`rf_risk`, `optimal_ridge`, the random-feature and kernel-ridge models); only the linear ridge
model is parametrised by the mean-loss ridge `lam` of (1/n) ||X w - y||^2 + lam ||w||^2, i.e.
delta = n * lam (`unnormalised_ridge`).
"""

from typing import Any

from ._deprecated import deprecated_attribute
from ._eigenframework import krr_risk
from ._kernel_ridge import KRRConfig, gaussian_pool, krr_theory, simulate_krr
from ._linear_rf import LinearRFConfig, linear_rf_theory, simulate_linear_rf
from ._more_is_better import more_is_better, noisy_optima, rf_optima
from ._nonlinear_rf import (
    NonlinearRFConfig,
    nonlinear_rf_theory,
    rf_limit_kernel,
    simulate_nonlinear_rf,
)
from ._optimal_ridge import optimal_ridge
from ._pool import DataPool, PoolEigensystem, pool_eigensystem
from ._random_features import rf_risk
from ._ridge import RidgeConfig, ridge_theory, simulate_ridge, unnormalised_ridge

__all__ = [
    "DataPool",
    "KRRConfig",
    "LinearRFConfig",
    "NonlinearRFConfig",
    "PoolEigensystem",
    "RidgeConfig",
    "gaussian_pool",
    "krr_risk",
    "krr_theory",
    "linear_rf_theory",
    "more_is_better",
    "noisy_optima",
    "nonlinear_rf_theory",
    "optimal_ridge",
    "pool_eigensystem",
    "rf_limit_kernel",
    "rf_optima",
    "rf_risk",
    "ridge_theory",
    "simulate_krr",
    "simulate_linear_rf",
    "simulate_nonlinear_rf",
    "simulate_ridge",
    "unnormalised_ridge",
]


def __getattr__(name: str) -> Any:
    """Deprecated names: RBFKernel, LaplaceKernel, MLPKernel (now in `theorytk.kernels`),
    simulate and theory (now `simulate_ridge` and `ridge_theory`, params "lam")."""
    return deprecated_attribute(name)
