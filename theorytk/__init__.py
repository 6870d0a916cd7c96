"""theorytk: analytic predictions and simulations of deep-learning theory, swept in JAX.

Subpackages: `sweep` (the engine), `fit` (power laws), `plot` (phase diagrams), and the
models: `regression`, `kernels`, `perceptron`.
"""

from . import fit, kernels, perceptron, plot, regression, sweep

__version__ = "0.1.0"

__all__ = ["__version__", "fit", "kernels", "perceptron", "plot", "regression", "sweep"]
