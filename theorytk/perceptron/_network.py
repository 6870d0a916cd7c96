"""Fully connected networks under SGD noise: the (alpha, T) phase diagram of deep networks.

The networks of Sclocchi, Geiger & Wyart, "Dissecting the effects of SGD noise in distinct
regimes of deep learning" (ICML 2023), as their code (`AntonioScl/SGD_learning_regimes`,
`edm/architecture.py: mlp`, `edm/train.py`) defines them, trained as a `sweep.Loop`
(`network_loop`) until they fit their training set (chi-data or the digits parity task).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PyTree

from theorytk._validation import INT32_MAX, check_integer, is_concrete
from theorytk.datasets import digits
from theorytk.kernels import empirical_ntk
from theorytk.sweep import Loop, LoopResult, Status, refillable, run_loop

from ._data import check_chi, chi_rows
from ._training import (
    batch_indices,
    check_batch,
    margin_hinge_loss,
    nan_unless_valid,
    read_sgd_params,
)

ACTIVATIONS = ("gelu", "relu")
DATA_SETS = ("chi", "digits")
DIGITS_D = 64  # 8 x 8 pixels
DIGITS_N = 1797
DIVERGED_MARGIN = 1e8  # |alpha F| beyond which a run counts as diverged


def _gelu(x: Array) -> Array:
    return jax.nn.gelu(x, approximate=True)  # jax's default, as in the authors' code


def _gelu_rms() -> float:
    """sqrt(E gelu(z)^2), z ~ N(0, 1), by 200-node Gauss-Hermite quadrature (GELU is smooth)."""
    z, weight = np.polynomial.hermite_e.hermegauss(200)
    gelu = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))
    return float(np.sqrt(np.sum(weight * gelu**2) / np.sqrt(2 * np.pi)))


# phi / sqrt(E phi(z)^2): unit second moment at unit-variance pre-activations (normalize_act
# in the authors' edm/train.py); ReLU's is 1/2 exactly.
_ACTIVATION_RMS = {"gelu": _gelu_rms(), "relu": math.sqrt(0.5)}
_ACTIVATION_FNS: dict[str, Callable[[Array], Array]] = {"gelu": _gelu, "relu": jax.nn.relu}


class NetworkConfig(eqx.Module):
    """The static task: data, architecture, training-set and batch sizes, budget.

    Args:
        h: width of the hidden layers, >= 1.
        L: number of hidden layers (depth), >= 1.
        P: number of training points, >= 1: the default of `params["P"]` and the number of
            rows drawn (masked beyond P) when `params["P"]` is traced.
        B: batch size, 1 <= B <= P, or None for full-batch gradient descent (B = P).
        data: "chi" (`chi_data` with exponent `chi` in dimension `d`) or "digits" (the 1797
            scikit-learn digits, parity labels, `theorytk.datasets.digits`; d = 64).
        d: input dimension, >= 1; None means 64 for "digits" and is an error for "chi".
        chi: depletion exponent of the chi-data, > -1.
        activation: "gelu" (tanh approximation) or "relu", normalised to unit second moment.
        budget: SGD step budget (rounded up to a multiple of `check_every`, which must stay
            below 2**31: steps are counted in int32); a run that has not fitted its data by
            then stops with status `Status.BUDGET`.
        P_test: test points (chi-data: fresh draws; digits: the digits not in the largest
            training set, so P + P_test <= 1797).
        n_ntk: test points on which the empirical NTK Gram matrix is compared (<= P_test).
        check_every: SGD steps between two checks of the stopping rule (one forward pass on
            the whole training set each). Once every point is fitted every batch gradient
            vanishes, so the final weights do not depend on it; `steps` is rounded up to a
            multiple of it.
        segment: checks per scan segment of the training driver (a cost knob only).
        network: the architecture, a function key -> equinox module mapping one input
            `Float[Array, "d"]` to a scalar output f(w, x) (e.g. `eqx.nn.MLP(d, "scalar",
            ...)`); its floating-point arrays are the trained weights (cast to the dtype of
            alpha and T), everything else is kept fixed. The alpha trick and the centring
            are applied around it, and h still sets the temperature T = eta / (h B). None
            (default): `FullyConnected(d, h, L, activation=activation)`.
    """

    h: int = eqx.field(static=True)
    L: int = eqx.field(static=True)
    P: int = eqx.field(static=True)
    B: int | None = eqx.field(static=True)
    data: str = eqx.field(static=True, default="chi")
    d: int | None = eqx.field(static=True, default=None)
    chi: float = eqx.field(static=True, default=0.0)
    activation: str = eqx.field(static=True, default="gelu")
    budget: int = eqx.field(static=True, default=100_000)
    P_test: int = eqx.field(static=True, default=1024)
    n_ntk: int = eqx.field(static=True, default=32)
    check_every: int = eqx.field(static=True, default=32)
    segment: int = eqx.field(static=True, default=8)
    network: Callable[[Array], eqx.Module] | None = eqx.field(static=True, default=None)

    def __check_init__(self) -> None:
        for name in ("h", "L", "P", "P_test", "n_ntk", "check_every", "segment"):
            check_integer(name, getattr(self, name))
        # steps (the budget rounded up to a multiple of check_every) are counted in int32
        check_integer("budget", self.budget, most=INT32_MAX // self.check_every * self.check_every)
        if self.B is not None:
            check_integer("B", self.B)
            check_batch(self.B, self.P)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.data not in DATA_SETS:
            raise ValueError(f"data must be one of {DATA_SETS}, got {self.data!r}")
        if self.data == "chi":
            if self.d is None:
                raise ValueError("data='chi' needs the input dimension d (an integer >= 1)")
            check_integer("d", self.d)
            check_chi(self.chi)
        else:
            if self.d not in (None, DIGITS_D):
                raise ValueError(f"data='digits' has d = {DIGITS_D}, got d = {self.d!r}")
            if self.P + self.P_test > DIGITS_N:
                raise ValueError(
                    f"data='digits' has {DIGITS_N} points: P + P_test must be <= {DIGITS_N}, "
                    f"got P = {self.P}, P_test = {self.P_test}"
                )
        if self.n_ntk > self.P_test:
            raise ValueError(f"n_ntk must be <= P_test = {self.P_test}, got {self.n_ntk}")

    @property
    def input_dim(self) -> int:
        """d: the config's d for chi-data, 64 for the digits."""
        return DIGITS_D if self.data == "digits" else int(self.d)


class FullyConnected(eqx.Module):
    """The fully connected network of the paper without biases, in the mean-field scaling.

    z_0 = x, z_l = phi(z_{l-1} W_l / sqrt(fan_in_l)) for l = 1..L, f = z_L . w / h, with
    phi the activation divided by sqrt(E phi(z)^2) (z ~ N(0, 1)), the `mlp` of the authors'
    `edm/architecture.py` (hidden layers 1/sqrt(fan_in), the readout 1/h). Every weight is
    iid N(0, 1) at initialisation. Like any network of `simulate_network` it maps one input
    to one scalar output (batch with `jax.vmap` or `network_apply`).

    Args:
        d: input dimension, >= 1.
        h: width, >= 1.
        L: number of hidden layers, >= 1.
        key: PRNG key.
        activation: "gelu" (tanh approximation) or "relu".
        dtype: floating dtype of the weights.

    Attributes:
        hidden: [W_1 (d, h), W_2 (h, h), ..., W_L (h, h)].
        readout: w (h,).
    """

    hidden: list[Array]
    readout: Array
    activation: str = eqx.field(static=True)

    def __init__(
        self, d: int, h: int, L: int, *, key: Array, activation: str = "gelu", dtype: Any = float
    ):
        for name, value in (("d", d), ("h", h), ("L", L)):
            check_integer(name, value)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        keys = jax.random.split(key, L + 1)
        fan_in = [d] + [h] * (L - 1)
        self.hidden = [
            jax.random.normal(k, (n, h), dtype) for k, n in zip(keys[:L], fan_in, strict=True)
        ]
        self.readout = jax.random.normal(keys[L], (h,), dtype)
        self.activation = activation

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        phi, rms = _ACTIVATION_FNS[self.activation], _ACTIVATION_RMS[self.activation]
        z = x
        for w in self.hidden:
            z = phi(z @ w / math.sqrt(w.shape[0])) / rms
        return z @ self.readout / self.readout.shape[0]


def init_network(
    key: Array, *, d: int, h: int, L: int, activation: str = "gelu", dtype: Any = float
) -> FullyConnected:
    """The fully connected network with iid N(0, 1) weights (`FullyConnected`).

    Args:
        key: PRNG key.
        d: input dimension, >= 1.
        h: width, >= 1.
        L: number of hidden layers, >= 1.
        activation: "gelu" or "relu".
        dtype: floating dtype.

    Returns:
        A `FullyConnected` module.
    """
    return FullyConnected(d, h, L, key=key, activation=activation, dtype=dtype)


def network_apply(network: eqx.Module, x: Float[ArrayLike, "n d"]) -> Float[Array, " n"]:
    """f(w, x) on a batch: the network (one input to one scalar) vmapped over the rows of x.

    Args:
        network: an equinox module mapping `Float[Array, "d"]` to a scalar.
        x: `Float[ArrayLike, "n d"]` inputs.

    Returns:
        `Float[Array, "n"]` outputs.
    """
    return jax.vmap(network)(jnp.asarray(x))


class NetworkRun(NamedTuple):
    """What `train_network` returns: the data, the initial and final weights, the run.

    Attributes:
        w0, w: initial and final weights: the network's floating-point arrays (for the
            default network the `FullyConnected` module itself; for `config.network` the
            module with its other fields None: `eqx.combine` it with the rest).
        x, y: `Float[Array, "rows d"]`, `Float[Array, "rows"]` training rows (rows >= P are
            padding, see `real`).
        real: `Bool[Array, "rows"]` the first P rows.
        x_test, y_test: `Float[Array, "P_test d"]`, `Float[Array, "P_test"]` test points.
        alpha, eta: the scale and the step.
        valid: `Bool[Array, ""]` whether the parameters were in range (else no step taken).
        result: the `sweep.LoopResult` of the training loop: `state` = (w, F on the training
            rows), `steps` in SGD steps (a multiple of `config.check_every`).
    """

    w0: PyTree
    w: PyTree
    x: Array
    y: Array
    real: Array
    x_test: Array
    y_test: Array
    alpha: Array
    eta: Array
    valid: Array
    result: LoopResult


class _Task(NamedTuple):
    """What the SGD steps read and never change (the loop's data)."""

    x: Float[Array, "rows d"]
    y: Float[Array, " rows"]
    real: Bool[Array, " rows"]
    n_train: Array
    x_test: Float[Array, "P_test d"]
    y_test: Float[Array, " P_test"]
    alpha: Float[Array, ""]
    eta: Float[Array, ""]
    valid: Bool[Array, ""]
    w0: PyTree
    out0: Float[Array, " rows"]  # f(w_0, x) on the training rows
    key: Array  # of the batches


def train_network(
    params: Mapping[str, ArrayLike], key: Array, *, config: NetworkConfig
) -> NetworkRun:
    """Train the network by SGD from w_0 until alpha y F >= 1 on every training point.

    The dynamics of the authors' code: F(w, x) = f(w, x) - f(w_0, x) (the centred output of
    the "alpha trick", exactly 0 at initialisation), loss `margin_hinge_loss`
    (1/alpha) max(0, 1 - alpha y F), and SGD: at step n a batch of B distinct training points
    drawn uniformly (`batch_indices` with key fold_in(key_batch, n)), w <- w - eta grad
    mean_batch loss, with temperature T = eta / (h B). Every `config.check_every` steps F is
    evaluated on the whole training set and training stops when every point is fitted, when
    it diverged (a non-finite F or |alpha F| > `DIVERGED_MARGIN`), or after `config.budget`
    steps (`Status.BUDGET`). It is the `sweep.Loop` `network_loop(config)`, so a point's
    result does not depend on the points it is vmapped with. Full-batch gradient descent
    (`config.B=None`) has temperature T = eta / (h P).

    Args:
        params: "alpha" (> 0) and exactly one of "T" (> 0, eta = T h B) or "eta" (> 0);
            optionally "P" (B <= P <= config.P when traced; default config.P). Scalars,
            may be traced; traced bad values give NaN metrics in `simulate`.
        key: PRNG key; the data, the initial weights and the batches come from independent
            sub-keys (data sets of growing P drawn from one key are nested).
        config: the task.

    Returns:
        A `NetworkRun`.
    """
    return run_loop(network_loop(config)._replace(finish=_network_run(config)), params, key)


def network_loop(config: NetworkConfig) -> Loop:
    """`train_network` as a `sweep.Loop` whose step is `config.check_every` SGD steps and a
    check of the stopping rule; its `finish` measures what `simulate` returns."""
    f = _apply(config)

    def init(params: Mapping[str, ArrayLike], key: Array) -> tuple[_Task, tuple[PyTree, Array]]:
        alpha, eta, n_train, n_rows = read_sgd_params(
            params, P=config.P, B=config.B, width=config.h
        )
        if config.data == "digits" and is_concrete(n_train) and n_train > config.P:
            raise ValueError(
                f"params['P'] must be <= config.P = {config.P} for the digits, got {n_train}"
            )
        dtype = jnp.result_type(float, alpha, eta)
        alpha, eta = jnp.asarray(alpha, dtype), jnp.asarray(eta, dtype)
        n_train = jnp.ceil(jnp.asarray(n_train)).astype(jnp.int32)
        batch_size = n_train if config.B is None else config.B
        valid = (alpha > 0) & (eta > 0) & (batch_size <= n_train) & (n_train <= n_rows)
        key_data, key_init, key_batch = jax.random.split(key, 3)
        x, y, x_test, y_test = _data(key_data, n_rows, config, dtype)
        real = jnp.arange(n_rows) < n_train
        w0 = _weights(config, key_init, dtype)
        out0 = f(w0, x)
        task = _Task(x, y, real, n_train, x_test, y_test, alpha, eta, valid, w0, out0, key_batch)
        return task, (w0, jnp.zeros_like(out0))

    def sgd_step(task: _Task, w: PyTree, n: Array) -> PyTree:
        def batch_loss(w: PyTree, xb: Array, yb: Array, ob: Array, weight: ArrayLike) -> Array:
            return jnp.sum(weight * margin_hinge_loss(f(w, xb) - ob, yb, task.alpha))

        if config.B is None:  # full batch: the mean over the P real rows
            xb, yb, ob, weight = task.x, task.y, task.out0, task.real / task.n_train
        else:
            batch = batch_indices(jax.random.fold_in(task.key, n), task.n_train, config.B)
            xb, yb, ob, weight = task.x[batch], task.y[batch], task.out0[batch], 1 / config.B
        grad = jax.grad(batch_loss)(w, xb, yb, ob, weight)
        return jax.tree.map(lambda a, g: a - task.eta * g, w, grad)

    def check_step(task: _Task, state: tuple[PyTree, Array], m: Array) -> tuple[PyTree, Array]:
        first = m * config.check_every
        w = jax.lax.fori_loop(
            0, config.check_every, lambda j, v: sgd_step(task, v, first + j), state[0]
        )
        return w, f(w, task.x) - task.out0

    def stopped(task: _Task, state: tuple[PyTree, Array]) -> Array:
        fitted = jnp.all(~task.real | (task.alpha * task.y * state[1] >= 1))
        return fitted | ~task.valid | _diverged(state[1], task.alpha)

    checks = -(-config.budget // config.check_every)
    return Loop(init, check_step, stopped, _measure(config), budget=checks, segment=config.segment)


def _network_run(config: NetworkConfig) -> Callable[[_Task, LoopResult], NetworkRun]:
    def finish(task: _Task, result: LoopResult) -> NetworkRun:
        result = result._replace(steps=result.steps * config.check_every)
        return NetworkRun(
            task.w0,
            result.state[0],
            task.x,
            task.y,
            task.real,
            task.x_test,
            task.y_test,
            task.alpha,
            task.eta,
            task.valid,
            result,
        )

    return finish


def _measure(config: NetworkConfig) -> Callable[[_Task, LoopResult], dict[str, Array]]:
    """The metrics of `simulate` from a finished training loop."""
    f = _apply(config)

    def finish(task: _Task, result: LoopResult) -> dict[str, Array]:
        w, outputs = result.state
        steps = result.steps * config.check_every
        margins = jnp.where(task.real, task.alpha * task.y * outputs, jnp.inf)
        test_output = f(w, task.x_test) - f(task.w0, task.x_test)
        probe = task.x_test[: config.n_ntk]
        theta0, theta = (empirical_ntk(f, v, probe) for v in (task.w0, w))
        metrics = {
            "test_error": jnp.mean(task.y_test * test_output <= 0, dtype=task.alpha.dtype),
            "dw_rel": _norm(jax.tree.map(jnp.subtract, w, task.w0)) / _norm(task.w0),
            "ntk_change": jnp.linalg.norm(theta - theta0) / jnp.linalg.norm(theta0),
            "steps": steps,
            "train_time": task.eta * steps,
            "unfitted": jnp.sum(margins < 1, dtype=jnp.int32),
        }
        diverged = _diverged(outputs, task.alpha)
        status = jnp.where(diverged, Status.DIVERGED, result.status).astype(jnp.int8)
        return {**nan_unless_valid(metrics, task.valid), "status": status}

    return finish


@refillable(network_loop)
def simulate(
    params: Mapping[str, ArrayLike], key: Array, *, config: NetworkConfig
) -> dict[str, Array]:
    """Train a fully connected network by SGD until it fits its data; measure it.

    See `train_network` for the model and the dynamics (Sclocchi, Geiger & Wyart, ICML 2023).
    The empirical NTK Theta(x, x') = grad_w f(w, x) . grad_w f(w, x') (`empirical_ntk`) is
    compared on the first `config.n_ntk` test points at w_0 and at the end.

    Args:
        params: "alpha" and one of "T" (eta = T h B) or "eta"; optionally "P".
        key: PRNG key.
        config: the task.

    Returns:
        Scalars: `test_error` (fraction of test points with y F <= 0), `dw_rel`
        (||w - w_0|| / ||w_0|| over all weights), `ntk_change`
        (||Theta_end - Theta_0||_F / ||Theta_0||_F), `steps` (SGD steps, a multiple of
        `check_every`), `train_time` (eta steps), `unfitted` (training points with
        alpha y F < 1 at the end: 0 unless the budget ran out or training diverged) and
        `status`: `Status.OK`, `Status.BUDGET` (the step budget ran out first) or
        `Status.DIVERGED` (a training output became non-finite or |alpha F| exceeded
        `DIVERGED_MARGIN`, 10^8 times the margin: the step is unstable; training stops there).
    """
    return run_loop(network_loop(config), params, key)


def _build(config: NetworkConfig, key: Array, dtype: Any = float) -> eqx.Module:
    """The network of the config: `config.network(key)`, or its `FullyConnected` net."""
    if config.network is not None:
        return config.network(key)
    d, h, L = config.input_dim, config.h, config.L
    return FullyConnected(d, h, L, key=key, activation=config.activation, dtype=dtype)


def _weights(config: NetworkConfig, key: Array, dtype: Any) -> PyTree:
    """The trained weights of a new network: its floating-point arrays, cast to `dtype`."""
    weights = eqx.filter(_build(config, key, dtype), eqx.is_inexact_array)
    return jax.tree.map(lambda a: a.astype(dtype), weights)


def _apply(config: NetworkConfig) -> Callable[[PyTree, Array], Array]:
    """f(weights, x) on a batch: the network's other fields (static, activation functions)
    recombined with the weights pytree of `_weights`."""
    shape = eqx.filter_eval_shape(functools.partial(_build, config), jax.random.key(0))

    def is_weight(leaf: Any) -> bool:
        return isinstance(leaf, jax.ShapeDtypeStruct) and jnp.issubdtype(leaf.dtype, jnp.inexact)

    rest = eqx.filter(shape, is_weight, inverse=True)
    return lambda weights, x: network_apply(eqx.combine(weights, rest), x)


def _diverged(outputs: Float[Array, " rows"], alpha: Float[Array, ""]) -> Bool[Array, ""]:
    """Whether training blew up: a non-finite output or |alpha F| > DIVERGED_MARGIN somewhere.

    A fitted point needs alpha y F >= 1 only, and the hinge loss stops pushing beyond it, so
    |alpha F| 10^8 times the margin only comes from an unstable step size.
    """
    return ~jnp.all(jnp.isfinite(outputs) & (jnp.abs(alpha * outputs) <= DIVERGED_MARGIN))


def _norm(tree: PyTree) -> Array:
    return jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(tree)))


@functools.cache
def _digits_parity() -> tuple[np.ndarray, np.ndarray]:
    return digits("parity")


def _data(
    key: Array, n_rows: int, config: NetworkConfig, dtype: Any
) -> tuple[Array, Array, Array, Array]:
    """Training rows (n_rows, the first P real) and the config.P_test test points.

    chi-data: training rows first, then the test rows, counter-based (nested in P). Digits:
    a uniformly random permutation of the 1797 digits; training rows first, then the test
    points from position config.P on (the same test set for every traced P).
    """
    if config.data == "chi":
        x, y = chi_rows(key, config.input_dim, n_rows + config.P_test, config.chi, dtype)
        (x, x_test), (y, y_test) = jnp.split(x, [n_rows]), jnp.split(y, [n_rows])
        return x, y, x_test, y_test
    images, labels = _digits_parity()
    order = jax.random.permutation(key, DIGITS_N)
    x, y = jnp.asarray(images, dtype)[order], jnp.asarray(labels, dtype)[order]
    test = slice(config.P, config.P + config.P_test)
    return x[:n_rows], y[:n_rows], x[test], y[test]
