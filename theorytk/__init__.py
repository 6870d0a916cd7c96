"""theorytk: analytic predictions and simulations of deep-learning theory, swept in JAX."""

from . import sweep

__version__ = "0.1.0"

__all__ = ["sweep", "__version__"]
