"""theorytk: analytic predictions and simulations of deep-learning theory, swept in JAX.

Subpackages: `sweep` (the engine), `fit` (power laws), `plot` (phase diagrams), and the
models: `regression`.
"""

from . import fit, plot, regression, sweep

__version__ = "0.1.0"

__all__ = ["__version__", "fit", "plot", "regression", "sweep"]
