"""The perceptron on chi-data under SGD noise: the (alpha, T) phase diagram of Sclocchi,
Geiger & Wyart (ICML 2023), its closed-form test error and predicted exponents, and the
segmented training driver shared with other models trained until they fit their data.

    import jax
    from theorytk import perceptron
    config = perceptron.PerceptronConfig(d=16, P=256, B=16, chi=1.0, budget=50_000)
    perceptron.simulate({"alpha": 1.0, "T": 0.5}, jax.random.key(0), config=config)
"""

from ._data import chi_data
from ._model import PerceptronConfig, simulate
from ._theory import closed_form_test_error, gradient_flow_temperature, predicted_exponents
from ._training import TrainResult, batch_indices, margin_hinge_loss, run_until_stopped

__all__ = [
    "PerceptronConfig",
    "TrainResult",
    "batch_indices",
    "chi_data",
    "closed_form_test_error",
    "gradient_flow_temperature",
    "margin_hinge_loss",
    "predicted_exponents",
    "run_until_stopped",
    "simulate",
]
