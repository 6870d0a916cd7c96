"""theorytk: analytic predictions and simulations of deep-learning theory, swept in JAX.

Subpackages: `sweep` (the engine), `fit` (power laws), `plot` (phase diagrams), `datasets`
(real data shipped with PyPI packages), and the
models: `regression`, `kernels`, `perceptron`, `monotone`, `gossip`.
"""

from . import datasets, fit, gossip, kernels, monotone, perceptron, plot, regression, sweep

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "datasets",
    "fit",
    "gossip",
    "kernels",
    "monotone",
    "perceptron",
    "plot",
    "regression",
    "sweep",
]
