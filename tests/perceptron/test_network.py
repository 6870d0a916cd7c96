"""Properties of the fully connected network trained by SGD until it fits its data.

Small float64 networks (d = 8, width 32, 2 hidden layers, GELU, P = 64 chi-data points,
B = 8) so that each property runs in seconds; one compilation per config, shared by the
tests through module-level runners.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk import sweep
from theorytk.perceptron import (
    FullyConnected,
    NetworkConfig,
    init_network,
    network_apply,
    simulate_network,
    train_network,
)
from theorytk.sweep import Status

N_POINTS = 8
TASK = dict(h=32, L=2, P=64, d=8, P_test=512, n_ntk=16, check_every=8)
SGD = NetworkConfig(B=8, budget=40_000, **TASK)
GD = NetworkConfig(B=None, budget=20_000, **TASK)  # full-batch gradient descent
SHORT = NetworkConfig(B=8, budget=2048, **TASK)


def _point(config, alpha, T, seed, fn=simulate_network):
    key = jax.random.fold_in(jax.random.key(0), seed)
    return fn({"alpha": alpha, "T": T}, key, config=config)


@functools.cache
def _batched(config, fn=simulate_network):
    return jax.jit(jax.vmap(functools.partial(_point, config, fn=fn)))


def run(config, *, alpha, T, seed=0, fn=simulate_network):
    """Evaluate N_POINTS points (inputs broadcast and padded by repetition) in one vmap."""
    columns = np.broadcast_arrays(*(np.asarray(v) for v in (alpha, T, seed)))
    n = columns[0].size
    padded = [np.resize(c.ravel(), N_POINTS) for c in columns]
    out = _batched(config, fn)(
        jnp.asarray(padded[0], jnp.float64),
        jnp.asarray(padded[1], jnp.float64),
        jnp.asarray(padded[2], jnp.uint32),
    )
    return jax.tree.map(lambda v: np.asarray(v)[:n], out)


def test_centred_output_is_zero_at_initialisation_and_linear_in_the_step():
    # F(w, x) = f(w, x) - f(w_0, x): f(w_0, x) itself is O(1/sqrt(h)), but F starts at exactly
    # 0, so after the first 2048 steps F = eta * (something finite) + O(eta^2): halving a tiny
    # eta halves F. A missing or wrong centring adds f(w_0, x) to F and breaks the ratio.
    # Tolerance: the O(eta^2) term is ~|dw| ~ 1e-8 relative (measured 7e-5 at a 1000x larger
    # eta), and the cancellation in f(w) - f(w_0) costs ~1e-16 absolute (|f| ~ 0.05 times
    # the float64 epsilon) against |F| ~ 1e-8: relative 1e-5 of max |F| covers both.
    eta = np.array([1e-12, 2e-12]) * 32 * 8  # T = eta / (h B)
    out = run(SHORT, alpha=1.0, T=eta / (32 * 8), fn=train_network)
    f0 = network_apply(jax.tree.map(lambda a: a[0], out.w0), out.x[0])  # the module itself
    assert np.mean(np.abs(f0)) > 0.02  # the uncentred output is far from 0
    outputs = out.result.state[1]  # F on the training rows after 2048 steps
    assert np.all(out.result.steps == 2048)
    assert np.max(np.abs(outputs[0])) > 0
    scale = np.max(np.abs(outputs[1]))
    np.testing.assert_allclose(outputs[1], 2 * outputs[0], rtol=1e-5, atol=1e-5 * scale)


def test_a_point_gives_the_same_result_alone_and_batched_with_others():
    # The point stops after 2800 steps; its companions stop after 56 and after 7800 steps.
    # Batches come from fold_in(key, step), so the point's run is the same
    # arithmetic whatever its companions: equal up to the reassociation of vmapped matrix
    # products (float64 rounding, ~1e-16 per step, amplified by a few thousand steps: 1e-9;
    # measured: 4e-16 on dw_rel, the other metrics identical).
    point = dict(alpha=1.0, T=1e-3, seed=3)
    alone = jax.jit(functools.partial(_point, SGD))(**point)
    batched = run(SGD, alpha=[1.0, 1e3, 1.0], T=[1e-3, 1e-2, 3e-4], seed=[3, 1, 2])
    steps = batched["steps"]
    assert steps[1] < steps[0] < steps[2], steps
    assert int(alone["steps"]) == steps[0]
    for name, value in alone.items():
        np.testing.assert_allclose(batched[name][0], np.asarray(value), rtol=1e-9, err_msg=name)


def test_every_training_point_is_fitted_at_the_end_unless_the_budget_ran_out():
    # Margins recomputed from the final weights: alpha y F >= 1 on every training point when
    # the status is OK; the slow points (small alpha, small T) hit the 2048-step budget.
    alpha = np.array([1e3, 1e2, 10.0, 1.0, 1.0, 0.1, 1e3, 1.0])
    T = np.array([1e-2, 1e-3, 1e-2, 1e-3, 1e-4, 1e-4, 1e-1, 3e-3])
    out = run(SHORT, alpha=alpha, T=T, fn=train_network)
    status = np.asarray(out.result.status)
    assert {Status.OK, Status.BUDGET} <= set(status.tolist()), status
    for i in range(len(alpha)):
        w, w0 = (jax.tree.map(lambda a, i=i: a[i], tree) for tree in (out.w, out.w0))
        x, y = out.x[i], out.y[i]
        margins = alpha[i] * y * (network_apply(w, x) - network_apply(w0, x))
        if status[i] == Status.OK:
            assert np.min(margins) >= 1, (i, np.min(margins))
            assert int(out.result.steps[i]) < SHORT.budget
        else:
            assert status[i] == Status.BUDGET
            assert np.min(margins) < 1
            assert int(out.result.steps[i]) >= SHORT.budget


def test_lazy_regime_weight_and_ntk_changes_scale_as_one_over_alpha_at_fixed_alpha_t():
    # Lazy limit (alpha -> infinity): in u = alpha (w - w0) the linearised dynamics has step
    # alpha eta, so at fixed alpha T the same key gives the same u trajectory and
    # alpha ||w - w0|| / ||w0|| and alpha (NTK change) are invariant; the corrections are of
    # the order of the NTK change itself (< 5% at alpha >= 100). alpha = 100 and 1000 at
    # alpha T = 0.1: both products equal within 15% (3x that correction). Feature regime
    # (alpha = 0.1): the kernel changes by more than its own norm (change > 1).
    out = run(SGD, alpha=[100.0, 1000.0, 0.1], T=[1e-3, 1e-4, 1e-3])
    assert np.all(out["status"] == Status.OK), out["status"]
    for name in ("dw_rel", "ntk_change"):
        scaled = out[name][:2] * np.array([100.0, 1000.0])
        assert abs(scaled[1] / scaled[0] - 1) < 0.15, (name, scaled)
    assert out["ntk_change"][1] < out["ntk_change"][0] / 5  # lazier at larger alpha
    assert out["ntk_change"][2] > 1, out["ntk_change"]


def test_the_fully_connected_module_computes_the_mean_field_formula():
    # f(x) = phi(phi(x W1 / sqrt(d)) W2 / sqrt(h)) . w / h with phi = relu / sqrt(1/2),
    # written out in numpy: equal to float64 rounding.
    net = FullyConnected(8, 32, 2, key=jax.random.key(1), activation="relu")
    x = np.asarray(jax.random.normal(jax.random.key(2), (5, 8)))
    phi = lambda z: np.maximum(z, 0) / np.sqrt(0.5)  # noqa: E731
    w1, w2, w = (np.asarray(a) for a in (*net.hidden, net.readout))
    expected = phi(phi(x @ w1 / np.sqrt(8)) @ w2 / np.sqrt(32)) @ w / 32
    np.testing.assert_allclose(network_apply(net, x), expected, rtol=1e-12)


@pytest.mark.slow  # three more compilations (~20 s quiet)
def test_a_user_equinox_module_trains_under_the_alpha_trick_like_the_built_in_net():
    # `network=`: the built-in net passed as a user module gives the default run exactly;
    # an eqx.nn.MLP (tanh, with biases) trains until every margin alpha y F >= 1, with F
    # centred at its initial output (F = 0 at w0 so unfitted points move towards the margin).
    same = NetworkConfig(
        B=8, budget=40_000, network=lambda key: FullyConnected(8, 32, 2, key=key), **TASK
    )
    default, custom = (run(c, alpha=10.0, T=1e-3) for c in (SGD, same))
    for name, value in default.items():
        np.testing.assert_array_equal(custom[name], value, err_msg=name)

    def mlp(key):
        return eqx.nn.MLP(8, "scalar", 32, 2, activation=jnp.tanh, key=key)

    config = NetworkConfig(B=8, budget=40_000, network=mlp, **TASK)
    out = run(config, alpha=10.0, T=1e-3, fn=train_network)
    assert int(out.result.status[0]) == Status.OK
    w, w0 = (jax.tree.map(lambda a: a[0], tree) for tree in (out.w, out.w0))
    rest = eqx.filter(mlp(jax.random.key(0)), eqx.is_inexact_array, inverse=True)
    net, net0 = (eqx.combine(v, rest) for v in (w, w0))
    margins = 10.0 * out.y[0] * (network_apply(net, out.x[0]) - network_apply(net0, out.x[0]))
    assert np.min(margins[: TASK["P"]]) >= 1, np.min(margins)


@pytest.mark.slow  # ~20 s: its own compilation of full-batch gradient descent
def test_sgd_converges_to_gradient_descent_as_the_temperature_vanishes():
    # At alpha = 100, ||w - w0|| / ||w0|| and the NTK change of SGD at T = 1e-2, 1e-3, 1e-4
    # approach those of full-batch gradient descent at a small step (eta = 0.02): the
    # relative deviation decreases with T and is below 2% at T = 1e-4 (measured: dw_rel 69%,
    # 6.8%, 0.58%; ntk_change 71%, 8.2%, 0.15%; the seed-to-seed batch noise at T = 1e-4 is
    # of order 0.5%).
    sgd = run(SGD, alpha=100.0, T=[1e-2, 1e-3, 1e-4], seed=0)
    gd = run(GD, alpha=100.0, T=1e-5, seed=0)  # eta = T h P = 0.02
    assert np.all(sgd["status"] == Status.OK) and gd["status"][0] == Status.OK
    for name in ("dw_rel", "ntk_change"):
        deviation = np.abs(sgd[name] / gd[name][0] - 1)
        assert np.all(np.diff(deviation) < 0), (name, deviation)
        assert deviation[-1] < 0.02, (name, deviation)


@pytest.mark.slow  # ~15 s: two more compilations
def test_a_traced_training_set_size_pads_and_masks_to_the_same_run():
    # P = 48 as a traced parameter (64 rows drawn, the last 16 masked) or as a concrete one
    # (48 rows): the same training rows (nested draws), initial weights and batches, so the
    # same trained network up to rounding (1e-9, as for batching). The test rows start after
    # the drawn rows, so test_error and ntk_change are on different points and not compared.
    key = jax.random.fold_in(jax.random.key(0), 5)

    def with_size(size):
        return simulate_network({"alpha": 10.0, "T": 1e-3, "P": size}, key, config=SGD)

    traced = jax.jit(with_size)(jnp.float64(48.0))
    concrete = jax.jit(lambda: with_size(48))()
    assert int(traced["steps"]) > 0 and int(traced["status"]) == Status.OK
    for name in ("dw_rel", "steps", "train_time", "unfitted", "status"):
        np.testing.assert_allclose(traced[name], concrete[name], rtol=1e-9, err_msg=name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(B=128), "batch size B must be <= P"),
        (dict(d=0), "d must be an integer >= 1"),
        (dict(h=0), "h must be an integer >= 1"),
        (dict(L=0), "L must be an integer >= 1"),
        (dict(activation="tanh"), "activation must be one of"),
        (dict(data="mnist"), "data must be one of"),
        (dict(d=None), "needs the input dimension d"),
        (dict(data="digits", d=16), "has d = 64"),
        (dict(data="digits", d=None, P=1024, P_test=1024), "P \\+ P_test must be <= 1797"),
        (dict(n_ntk=1024), "n_ntk must be <= P_test"),
        # steps, the budget rounded up to a multiple of check_every = 8, count in int32
        (dict(budget=2**31 - 7), "budget must be an integer <= 2147483640"),
    ],
)
def test_bad_configs_are_value_errors(change, message):
    with pytest.raises(ValueError, match=message):
        NetworkConfig(**{**TASK, "B": 8, **change})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": 0.0, "T": 1e-3}, "alpha'\\] must be a finite scalar > 0"),
        ({"alpha": -1.0, "T": 1e-3}, "alpha'\\] must be a finite scalar > 0"),
        ({"alpha": 1.0, "eta": 0.0}, "eta'\\] must be a finite scalar > 0"),
        ({"alpha": 1.0, "T": -1.0}, "T'\\] must be a finite scalar > 0"),
        ({"alpha": 1.0, "T": 1.0, "eta": 1.0}, "exactly one of 'T'"),
        ({"T": 1.0}, "must contain 'alpha'"),
        ({"alpha": 1.0, "T": 1.0, "P": 4}, "batch size B must be <= P = 4"),
    ],
)
def test_bad_params_are_value_errors(params, message):
    with pytest.raises(ValueError, match=message):
        simulate_network(params, jax.random.key(0), config=SGD)


def test_init_network_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match="L must be an integer >= 1"):
        init_network(jax.random.key(0), d=4, h=4, L=0)


def test_the_sweep_in_refilled_lanes_gives_the_vmapped_result():
    # 6 points from a few checks to the 2048-step budget, run by sweep.run in 2 refilled lanes
    # and by the plain vmap (point i has key fold_in(key(0), i) in both): equal to rounding.
    grid = sweep.Grid(alpha=[0.1, 1.0, 1e3], T=[1e-4, 1e-2])
    ds = sweep.run(simulate_network, grid, key=jax.random.key(0), config=SHORT, lanes=2)
    alpha, T = np.meshgrid(grid.axes[0].values, grid.axes[1].values, indexing="ij")
    plain = run(SHORT, alpha=alpha.ravel(), T=T.ravel(), seed=np.arange(6))
    steps = ds["steps"].values.ravel()
    assert steps.min() < 512 and steps.max() == SHORT.budget, steps
    for name, value in plain.items():
        np.testing.assert_allclose(ds[name].values.ravel(), value, rtol=1e-12, err_msg=name)
