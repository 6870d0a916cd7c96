"""The perceptron and fully connected networks on chi-data (and the digits) under SGD
noise: the (alpha, T) phase diagrams of Sclocchi, Geiger & Wyart (ICML 2023), the
perceptron's closed-form test error and predicted exponents. Both models are `sweep.Loop`s
(`sgd_loop`, `network_loop`), so `sweep.run` runs their points in refilled lanes.

    import jax
    from theorytk import perceptron
    config = perceptron.PerceptronConfig(d=16, P=256, B=16, chi=1.0, budget=50_000)
    perceptron.simulate({"alpha": 1.0, "T": 0.5}, jax.random.key(0), config=config)
    net = perceptron.NetworkConfig(h=64, L=3, P=256, B=16, data="chi", d=16, budget=50_000)
    perceptron.simulate_network({"alpha": 10.0, "T": 1e-3}, jax.random.key(0), config=net)

Any equinox module mapping one input to a scalar can stand in for the fully connected net
(`NetworkConfig(..., network=lambda key: eqx.nn.MLP(16, "scalar", 64, 2, key=key))`).
"""

from ._data import chi_data
from ._model import PerceptronConfig, sgd_loop, simulate
from ._network import (
    FullyConnected,
    NetworkConfig,
    NetworkRun,
    init_network,
    network_apply,
    network_loop,
    train_network,
)
from ._network import simulate as simulate_network
from ._scaling import collapse_cost, collapse_exponent, level_temperatures
from ._theory import closed_form_test_error, gradient_flow_temperature, predicted_exponents
from ._training import batch_indices, margin_hinge_loss

__all__ = [
    "FullyConnected",
    "NetworkConfig",
    "NetworkRun",
    "PerceptronConfig",
    "batch_indices",
    "chi_data",
    "closed_form_test_error",
    "collapse_cost",
    "collapse_exponent",
    "gradient_flow_temperature",
    "init_network",
    "level_temperatures",
    "margin_hinge_loss",
    "network_apply",
    "network_loop",
    "predicted_exponents",
    "sgd_loop",
    "simulate",
    "simulate_network",
    "train_network",
]
