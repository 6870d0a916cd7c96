"""The perceptron on chi-data trained by SGD at temperature T = eta/B until it fits its data."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from theorytk._validation import INT32_MAX, check_integer
from theorytk.sweep import (
    POSITIVE,
    POSITIVE_INTEGER,
    Constraint,
    Loop,
    LoopResult,
    domain,
    refillable,
    run_loop,
)

from ._data import check_chi, chi_rows
from ._theory import closed_form_test_error
from ._training import (
    batch_indices,
    check_batch,
    margin_hinge_loss,
    nan_unless_valid,
    read_sgd_params,
)


class PerceptronConfig(eqx.Module):
    """The static task: dimension, training-set and batch sizes, data exponent, budget.

    Args:
        d: input dimension, >= 1.
        P: number of training points, >= 1: the default of `params["P"]`, and the number of
            rows drawn (and masked beyond P) when `params["P"]` is traced.
        B: batch size, 1 <= B <= P, or None for full-batch gradient descent (B = P for every
            P, also a traced one; B = P as an integer is the same thing for that P only).
        chi: depletion exponent of the chi-data, > -1 (0 is Gaussian data).
        budget: step budget, at most 2**31 - 1 (steps are counted in int32); a run that has
            not fitted its data after `budget` SGD steps stops with status `Status.BUDGET`.
        P_test: number of fresh test points of the Monte Carlo test error (drawn with the
            training set: memory (P + P_test) d per point).
        segment: SGD steps per scan segment of the training driver (a cost knob: results do
            not depend on it; a vmapped batch runs at most one segment past its last stop).
    """

    d: int = eqx.field(static=True)
    P: int = eqx.field(static=True)
    B: int | None = eqx.field(static=True)
    chi: float = eqx.field(static=True, default=0.0)
    budget: int = eqx.field(static=True, default=100_000)
    P_test: int = eqx.field(static=True, default=2048)
    segment: int = eqx.field(static=True, default=256)

    def __check_init__(self) -> None:
        for name in ("d", "P", "P_test", "segment"):
            check_integer(name, getattr(self, name))
        check_integer("budget", self.budget, most=INT32_MAX)  # steps are counted in int32
        if self.B is not None:
            check_integer("B", self.B)
            check_batch(self.B, self.P)
        check_chi(self.chi)


class _Task(NamedTuple):
    """What the steps read and never change (the loop's data)."""

    x: Float[Array, "P d"]  # training rows (rows >= P masked)
    y: Float[Array, " P"]
    real: Bool[Array, " P"]  # the first P rows
    n_train: Int[ArrayLike, ""]  # P
    alpha: Float[Array, ""]
    eta: Float[Array, ""]
    chi: Float[Array, ""]
    valid: Bool[Array, ""]  # parameters in range (else no step is taken)
    x_test: Float[Array, "P_test d"]
    y_test: Float[Array, " P_test"]
    key: Array  # of the batches

    def margins(self, outputs: Float[Array, " P"]) -> Float[Array, " P"]:
        """alpha y F on the real rows, +inf on the masked ones."""
        return jnp.where(self.real, self.alpha * self.y * outputs, jnp.inf)


class _State(NamedTuple):
    dw: Float[Array, " d"]  # w - w_0
    outputs: Float[Array, " P"]  # F = dw . x / sqrt(d) on the training points
    last_unfit: Int[Array, " P"]  # last step count at which each point had margin < 1
    fitted: Bool[Array, ""]  # every real row has alpha y F >= 1


def sgd_loop(config: PerceptronConfig) -> Loop:
    """`simulate`'s SGD run as a `sweep.Loop`: init (data), SGD step, fitted, measurements."""
    scale = math.sqrt(config.d)
    loss_slope = jax.vmap(jax.grad(margin_hinge_loss), in_axes=(0, 0, None))

    def init(params: Mapping[str, ArrayLike], key: Array) -> tuple[_Task, _State]:
        alpha, eta, n_train, n_rows = read_sgd_params(params, P=config.P, B=config.B)
        chi = params.get("chi", config.chi)
        check_chi(chi)
        dtype = jnp.result_type(float, alpha, eta, chi)
        alpha, eta, chi = (jnp.asarray(v, dtype) for v in (alpha, eta, chi))
        n_train = jnp.ceil(jnp.asarray(n_train)).astype(jnp.int32)  # pad and mask: n_rows rows
        batch_size = n_train if config.B is None else config.B
        valid = (alpha > 0) & (eta > 0) & (chi > -1) & (batch_size <= n_train)
        valid = valid & (n_train <= n_rows)
        key_data, key_batch = jax.random.split(key)
        # training rows first (nested in P, the same for any P_test), then the test rows
        rows = chi_rows(key_data, config.d, n_rows + config.P_test, chi, dtype)
        (x, x_test), (y, y_test) = (jnp.split(a, [n_rows]) for a in rows)
        real = jnp.arange(n_rows) < n_train
        task = _Task(x, y, real, n_train, alpha, eta, chi, valid, x_test, y_test, key_batch)
        start = _State(
            jnp.zeros(config.d, dtype),
            jnp.zeros(n_rows, dtype),
            jnp.where(real, 0, -1).astype(jnp.int32),
            ~jnp.any(real),
        )
        return task, start

    def step(task: _Task, state: _State, n: Array) -> _State:
        # grad_w mean_batch loss = sum_b weight_b dloss/dF(F_b) x_b / sqrt(d), with the
        # outputs F of the current dw cached in the state (one pass over the data per step)
        if config.B is None:
            xb, yb, fb, weight = task.x, task.y, state.outputs, task.real / task.n_train
        else:
            batch = batch_indices(jax.random.fold_in(task.key, n), task.n_train, config.B)
            xb, yb, fb = task.x[batch], task.y[batch], state.outputs[batch]
            weight = jnp.asarray(1 / config.B, task.x.dtype)
        grad = (weight * loss_slope(fb, yb, task.alpha)) @ xb / scale
        dw = state.dw - task.eta * grad
        outputs = task.x @ dw / scale
        unfit = task.margins(outputs) < 1
        last_unfit = jnp.where(unfit, n + 1, state.last_unfit)
        return _State(dw, outputs, last_unfit, ~jnp.any(unfit))

    def stopped(task: _Task, state: _State) -> Array:
        return state.fitted | ~task.valid

    def finish(task: _Task, run: LoopResult) -> dict[str, Array]:
        dw = run.state.dw
        dw1, dw_perp = dw[0], jnp.linalg.norm(dw[1:])
        last_unfit = run.state.last_unfit
        metrics = {
            "test_error": jnp.mean(task.y_test * (task.x_test @ dw) <= 0),
            "test_error_theory": closed_form_test_error(dw1, dw_perp, task.chi),
            "dw1": dw1,
            "dw_perp": dw_perp,
            "dw_norm": jnp.linalg.norm(dw),
            "steps": run.steps,
            "train_time": task.eta * run.steps,
            **_unfitted_along_training(jnp.abs(task.x[:, 0]), last_unfit, run.steps),
            "unfitted": jnp.sum(task.margins(run.state.outputs) < 1, dtype=jnp.int32),
        }
        return {**nan_unless_valid(metrics, task.valid), "status": run.status}

    return Loop(init, step, stopped, finish, budget=config.budget, segment=config.segment)


@domain(
    alpha=POSITIVE,
    T=POSITIVE,
    eta=POSITIVE,
    P=POSITIVE_INTEGER,
    chi=Constraint("> -1", lambda v: v > -1),
)
@refillable(sgd_loop)
def simulate(
    params: Mapping[str, ArrayLike], key: Array, *, config: PerceptronConfig
) -> dict[str, Array]:
    """Train a perceptron by SGD on P chi-data points until every point is fitted; measure it.

    The setup of Sclocchi, Geiger & Wyart (ICML 2023) and of their code: data from
    `chi_data` (d, P, chi), f(w, x) = w . x / sqrt(d), centred output
    F = f(w, x) - f(w_0, x) = dw . x / sqrt(d) with dw = w - w_0, loss
    `margin_hinge_loss` (1/alpha) max(0, 1 - alpha y F), and SGD: at step n a batch of B
    distinct training points drawn uniformly (`batch_indices` with key fold_in(key, n)),
    dw <- dw - eta grad mean_batch loss, temperature T = eta / B (full batch: B = P, no
    noise, gradient descent with step eta). Training stops before the first step at which
    every training point has alpha y F >= 1 (zero training loss), or after `config.budget`
    steps (status `Status.BUDGET`). As F depends on w only through dw, w_0
    drops out of every observable and is not drawn.

    In u = alpha dw the dynamics is that of margin 1 with step alpha eta, so every observable
    rescaled by alpha depends on (alpha, T) only through alpha T and B.

    Args:
        params: "alpha" (> 0) and exactly one of "T" (> 0, eta = T B) or "eta" (> 0); optionally
            "P" (B <= P; default `config.P`) and "chi" (> -1; default `config.chi`). Scalars,
            may be traced; traced bad values give NaN metrics (status nonfinite); `sweep.run`
            refuses grid values outside these domains before tracing. A concrete P sets the
            number of rows; a traced P (a dynamic sweep axis) needs P <= config.P: config.P rows
            are drawn and the rows >= P are masked.
        key: PRNG key. The data (training rows, then test rows, counter-based: the training
            sets of growing P drawn from one key are nested, whatever the config) and the
            batches come from independent sub-keys.
        config: the task.

    Returns:
        Scalars:
        `test_error` (Monte Carlo over `config.P_test` fresh points, error = y F <= 0),
        `test_error_theory` (`closed_form_test_error` at the trained dw_1, ||dw_perp||),
        `dw1` (w_1 - w0_1), `dw_perp` (||w_perp - w0_perp||), `dw_norm` (||w - w_0||),
        `steps` (SGD steps taken), `train_time` (eta * steps, the time of gradient flow),
        `x1_unfit_last` (mean |x_1| of the training points still unfitted at the last step
        that had any: the last points fitted), `x1_unfit_half` (mean |x_1| of the points
        still unfitted at some step after half of training), `unfitted` (number of training
        points with alpha y F < 1 at the end: 0 unless the budget ran out), and `status`
        (`Status.OK` or `Status.BUDGET`).
    """
    return run_loop(sgd_loop(config), params, key)


def _unfitted_along_training(
    abs_x1: Float[Array, " P"], last_unfit: Int[Array, " P"], steps: Int[Array, ""]
) -> dict[str, Array]:
    """Mean |x_1| of the points unfitted at the last unfitted step, and after half of training.

    Point i is unfitted at some step >= s iff last_unfit_i >= s (last_unfit_i is the last step
    count at which its margin was < 1, -1 for masked rows; all real points are unfitted at
    step 0, since F = 0 there). The set at s = max(last_unfit) is the last set of unfitted
    points (the last ones fitted); the set at s = steps // 2 contains it, so neither is empty.
    """

    def mean_over(mask: Array) -> Array:
        return jnp.sum(jnp.where(mask, abs_x1, 0)) / jnp.sum(mask)

    return {
        "x1_unfit_last": mean_over(last_unfit == jnp.max(last_unfit)),
        "x1_unfit_half": mean_over(last_unfit >= steps // 2),
    }
