"""Regression models: linear ridge (and later random features, kernel ridge), with their
eigenframework theory.

    from theorytk import regression
    config = regression.RidgeConfig(d=200, n_max=1000, noise=0.5)
    regression.theory({"ridge": 1e-2, "n": 400}, config=config)["test_mse"]
"""

from ._eigenframework import krr_risk
from ._linear_rf import LinearRFConfig, linear_rf_theory, simulate_linear_rf
from ._optimal_ridge import optimal_ridge
from ._random_features import rf_risk
from ._ridge import RidgeConfig, simulate, theory, unnormalised_ridge

__all__ = [
    "LinearRFConfig",
    "RidgeConfig",
    "krr_risk",
    "linear_rf_theory",
    "optimal_ridge",
    "rf_risk",
    "simulate",
    "simulate_linear_rf",
    "theory",
    "unnormalised_ridge",
]
