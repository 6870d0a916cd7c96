"""Properties of the segmented training driver, the batch sampler and the margin hinge loss."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.perceptron import batch_indices, margin_hinge_loss, run_until_stopped
from theorytk.sweep import Status

KEY = jax.random.key(0)
THRESHOLD = 3.0


def walk_step(state, n):
    """A random walk with positive drift whose increments come from the step index."""
    return state + 0.3 + jax.random.normal(jax.random.fold_in(KEY, n), (), state.dtype)


def crossed(state):
    return state >= THRESHOLD


_jit_step = jax.jit(walk_step)


@functools.partial(jax.jit, static_argnames=("budget", "segment"))
def driver(start, budget, segment):
    return run_until_stopped(walk_step, crossed, start, budget=budget, segment=segment)


def python_loop(start, budget):
    """The reference semantics: check, then step, until stopped or out of budget."""
    state, n = jnp.asarray(start), 0
    while not bool(crossed(state)) and n < budget:
        state, n = _jit_step(state, n), n + 1
    return float(state), n, bool(crossed(state))


@given(
    start=st.floats(-3.0, 4.0),
    budget=st.sampled_from([0, 5, 40]),
    segment=st.sampled_from([1, 3, 64]),
)
@settings(max_examples=30, deadline=None)
def test_driver_equals_the_python_while_loop(start, budget, segment):
    run = driver(jnp.asarray(start), budget, segment)
    state, steps, stopped = python_loop(start, budget)
    assert int(run.steps) == steps
    assert bool(run.stopped) == stopped
    # the same float64 operations, possibly fused differently by XLA: rounding-level agreement
    assert float(run.state) == pytest.approx(state, rel=1e-14, abs=1e-14)
    assert int(run.status) == (Status.OK if stopped else Status.BUDGET)


def test_vmapped_driver_freezes_stopped_points_and_matches_each_alone():
    starts = jnp.array([2.9, -3.0, 0.0, 3.5, -1.0])
    run = jax.jit(lambda s: run_until_stopped(walk_step, crossed, s, budget=30, segment=4))

    batched = jax.vmap(lambda s: run_until_stopped(walk_step, crossed, s, budget=30, segment=4))
    together = batched(starts)
    for i, start in enumerate(starts):
        alone = run(start)
        assert int(together.steps[i]) == int(alone.steps)
        assert float(together.state[i]) == float(alone.state)
    # start 3.5 is stopped before any step; the others stop at different steps
    assert int(together.steps[3]) == 0
    assert len(set(np.asarray(together.steps).tolist())) >= 3


def test_vmapped_batch_stops_when_its_last_point_stops():
    # Count the step evaluations with a host callback: a batch whose points all stop early
    # must not run to the budget (a vmapped fixed-length scan would run all 10_000 steps).
    calls = []

    def counting_step(state, n):
        jax.debug.callback(lambda: calls.append(1))
        return walk_step(state, n)

    segment = 8
    starts = jnp.array([2.0, 1.0, 2.5])
    run = jax.jit(
        jax.vmap(lambda s: run_until_stopped(counting_step, crossed, s, budget=10_000, segment=8))
    )(starts)
    jax.block_until_ready(run)
    assert bool(jnp.all(run.stopped))
    longest = int(jnp.max(run.steps))
    assert longest < 100
    # whole segments are evaluated until the last point stops; the callback may run once per
    # batch element, so at most len(starts) calls per evaluated step
    evaluated = -(-longest // segment) * segment
    assert len(calls) <= evaluated * len(starts)
    assert len(calls) >= evaluated


def test_bad_driver_arguments_are_rejected():
    with pytest.raises(ValueError, match="budget"):
        run_until_stopped(walk_step, crossed, jnp.float32(0), budget=-1)
    with pytest.raises(ValueError, match="segment"):
        run_until_stopped(walk_step, crossed, jnp.float32(0), budget=5, segment=0)


@pytest.mark.parametrize(("n", "size"), [(1, 1), (7, 3), (20, 5), (20, 19), (300, 16)])
def test_batch_indices_are_distinct_and_in_range(n, size):
    draws = np.asarray(jax.vmap(lambda k: batch_indices(k, n, size))(jax.random.split(KEY, 500)))
    assert draws.min() >= 0 and draws.max() < n
    assert all(len(set(row)) == size for row in draws.tolist())


def test_batch_indices_are_uniform_over_the_population():
    # Each index is in a uniform size-k subset with probability k/n; over m draws its count is
    # Binomial(m, k/n). Pearson's chi-square over the n counts (n - 1 dof); the test is at
    # level 1e-4 with a fixed key, so it fails only for a biased sampler.
    n, size, m = 20, 5, 20_000
    draws = jax.vmap(lambda k: batch_indices(k, n, size))(jax.random.split(KEY, m))
    counts = np.bincount(np.asarray(draws).ravel(), minlength=n)
    assert scipy.stats.chisquare(counts).pvalue > 1e-4
    # pairs too: every pair is in the subset with the same probability k(k-1)/(n(n-1))
    pairs = np.zeros((n, n))
    for row in np.asarray(draws):
        pairs[np.ix_(row, row)] += 1
    off = pairs[~np.eye(n, dtype=bool)]
    assert scipy.stats.chisquare(off).pvalue > 1e-4


def test_batch_indices_with_traced_population_size():
    # pad and mask: the population size is traced, the batch size static
    draws = jax.jit(lambda k, n: batch_indices(k, n, 4))(KEY, jnp.int32(6))
    assert len(set(np.asarray(draws).tolist())) == 4 and int(draws.max()) < 6


def test_full_batch_is_every_index():
    assert np.array_equal(batch_indices(KEY, 9, 9), np.arange(9))


def test_batch_larger_than_population_is_rejected():
    with pytest.raises(ValueError, match="batch size"):
        batch_indices(KEY, 4, 5)


@given(
    output=st.floats(-10, 10),
    label=st.sampled_from([-1.0, 1.0]),
    alpha=st.floats(1e-3, 1e3),
)
@settings(max_examples=50, deadline=None)
def test_margin_hinge_loss_vanishes_exactly_on_fitted_points(output, label, alpha):
    loss = float(margin_hinge_loss(output, label, alpha))
    fitted = alpha * label * output >= 1
    assert (loss == 0.0) == fitted
    assert loss == pytest.approx(max(0.0, 1 - alpha * label * output) / alpha, rel=1e-12)
    grad = float(jax.grad(margin_hinge_loss)(output, label, alpha))
    # d/dF = -y exactly in exact arithmetic; (alpha y) / alpha rounds to within 1 ulp
    assert grad == (0.0 if fitted else pytest.approx(-label, rel=1e-15))
