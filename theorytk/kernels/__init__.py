"""Kernels of wide networks: the analytic NNGP and NTK of fully connected networks, their
infinite-depth limits, the predictions of infinitely wide networks after training, kernels as
hashable callables (RBF, Laplace, MLP) and where the NTK regime of a finite network ends.

    from theorytk import kernels
    k = kernels.mlp_kernels(x, depth=3, activation="relu", sigma_w=1.4, sigma_b=0.1)
    k_test = kernels.mlp_kernels(x_test, x, depth=3, activation="relu", sigma_w=1.4, sigma_b=0.1)
    pred = kernels.gd_predictions(k.ntk, k_test.ntk, y, t=[10, 100, float("inf")])
"""

from ._activations import (
    ACTIVATION_NAMES,
    ABRelu,
    Activation,
    Erf,
    Gelu,
    Hermite,
    Identity,
    Quadrature,
    Scaled,
    Sin,
    get_activation,
    leaky_relu,
)
from ._empirical import empirical_ntk
from ._finite_mlp import MLPParams, apply_mlp, init_mlp
from ._infinite_depth import (
    CLASSIFIERS,
    DepthLimit,
    DualActivation,
    deep_ntk,
    depth_limit,
    dual_activation,
    hermite_coefficients,
    koenigs_kernel,
    limit_classifier,
    majority_vote,
    nearest_neighbour,
    ntk_classifier,
    singular_activation,
)
from ._kernel_functions import LaplaceKernel, MLPKernel, RBFKernel
from ._mlp import PARAMETERIZATIONS, MLPKernels, mlp_kernels
from ._ntk_regime import NTKRegimeTask, simulate_ntk_regime
from ._predictions import METHODS, GaussianPosterior, GDPredictions, gd_predictions, nngp_posterior

__all__ = [
    "ABRelu",
    "ACTIVATION_NAMES",
    "Activation",
    "CLASSIFIERS",
    "DepthLimit",
    "DualActivation",
    "Erf",
    "GDPredictions",
    "GaussianPosterior",
    "Gelu",
    "Hermite",
    "Identity",
    "METHODS",
    "LaplaceKernel",
    "MLPKernel",
    "MLPKernels",
    "MLPParams",
    "NTKRegimeTask",
    "PARAMETERIZATIONS",
    "RBFKernel",
    "Quadrature",
    "Scaled",
    "Sin",
    "deep_ntk",
    "depth_limit",
    "apply_mlp",
    "dual_activation",
    "empirical_ntk",
    "gd_predictions",
    "get_activation",
    "hermite_coefficients",
    "init_mlp",
    "koenigs_kernel",
    "leaky_relu",
    "limit_classifier",
    "majority_vote",
    "mlp_kernels",
    "nearest_neighbour",
    "nngp_posterior",
    "ntk_classifier",
    "simulate_ntk_regime",
    "singular_activation",
]
