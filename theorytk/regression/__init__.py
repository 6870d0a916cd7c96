"""Regression models: linear ridge, random features (linear and nonlinear) and kernel ridge
regression on data pools, with their eigenframework theory.

    from theorytk import regression
    config = regression.RidgeConfig(d=200, n_max=1000, noise=0.5)
    regression.theory({"ridge": 1e-2, "n": 400}, config=config)["test_mse"]
"""

from ._eigenframework import krr_risk
from ._kernel_ridge import (
    KRRConfig,
    LaplaceKernel,
    RBFKernel,
    gaussian_pool,
    krr_theory,
    simulate_krr,
)
from ._linear_rf import LinearRFConfig, linear_rf_theory, simulate_linear_rf
from ._nonlinear_rf import (
    MLPKernel,
    NonlinearRFConfig,
    nonlinear_rf_theory,
    rf_limit_kernel,
    simulate_nonlinear_rf,
)
from ._optimal_ridge import optimal_ridge
from ._pool import DataPool, PoolEigensystem, pool_eigensystem
from ._random_features import rf_risk
from ._ridge import RidgeConfig, simulate, theory, unnormalised_ridge

__all__ = [
    "DataPool",
    "KRRConfig",
    "LaplaceKernel",
    "LinearRFConfig",
    "MLPKernel",
    "NonlinearRFConfig",
    "PoolEigensystem",
    "RBFKernel",
    "RidgeConfig",
    "gaussian_pool",
    "krr_risk",
    "krr_theory",
    "linear_rf_theory",
    "nonlinear_rf_theory",
    "optimal_ridge",
    "pool_eigensystem",
    "rf_limit_kernel",
    "rf_risk",
    "simulate",
    "simulate_krr",
    "simulate_linear_rf",
    "simulate_nonlinear_rf",
    "theory",
    "unnormalised_ridge",
]
