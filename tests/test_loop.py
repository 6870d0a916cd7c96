"""Loops (models trained until a stopping rule): the one-point driver and refilled lanes.

A random walk with drift until it crosses a threshold (`sweep_worker.walk_loop`) has run
lengths from 0 to the budget, so it exercises every path: points stopped before the first
step, points stopping mid-segment, points out of budget, lanes refilled many times.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from sweep_worker import WALK_LANES, make_walk, walk_grid, walk_loop
from test_sweep import free_port, run_worker

from theorytk import sweep
from theorytk.sweep import Status, run_until_stopped

KEY = jax.random.key(0)
THRESHOLD = 3.0
walk = make_walk()


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


# --- the one-point driver -----------------------------------------------------------------


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
    with pytest.raises(ValueError, match="budget must be an integer <= 2147483647, got 2147483648"):
        run_until_stopped(walk_step, crossed, jnp.float32(0), budget=2**31)
    with pytest.raises(ValueError, match="segment"):
        run_until_stopped(walk_step, crossed, jnp.float32(0), budget=5, segment=0)


def test_the_largest_budget_an_int32_counter_holds_is_accepted():
    traced = jax.eval_shape(
        lambda: run_until_stopped(walk_step, crossed, jnp.float32(0), budget=2**31 - 1)
    )
    assert traced.steps.dtype == jnp.int32


# --- refilled lanes -----------------------------------------------------------------------


def vmapped_walks(grid, budget):
    """Every point of `grid` as one plain vmap of `run_loop`, keys fold_in(key, flat index)."""
    columns = np.meshgrid(*(a.values for a in grid.axes), indexing="ij")
    params = {a.name: jnp.asarray(c.ravel()) for a, c in zip(grid.axes, columns, strict=True)}
    params.pop("seed")
    keys = jax.vmap(lambda i: jax.random.fold_in(KEY, i))(jnp.arange(grid.size, dtype=jnp.uint32))
    out = jax.vmap(lambda p, k: walk(p, k, config=budget))(params, keys)
    return {name: np.asarray(v).reshape(grid.shape) for name, v in out.items()}


@pytest.mark.parametrize(("lanes", "chunk_size"), [(1, 60), (3, 7), (5, 60), (64, 60), (4, 1)])
def test_lanes_give_the_plain_vmap_result_for_any_lane_count_and_chunk(lanes, chunk_size):
    # 60 walks of 0..40 steps (drift -0.2 never crosses in 40 steps: status BUDGET; start 3.5
    # is stopped before the first step), so lanes are refilled many times per chunk. Each walk
    # is the same float64 arithmetic wherever it runs: the results are bitwise equal.
    grid = walk_grid()
    ds = sweep.run(walk, grid, key=KEY, config=40, chunk_size=chunk_size, lanes=lanes)
    plain = vmapped_walks(grid, 40)
    steps = ds["steps"].values
    assert steps.min() == 0 and steps.max() == 40 and len(np.unique(steps)) > 10
    assert {Status.OK, Status.BUDGET} == set(np.unique(ds["status"].values).tolist())
    for name in ("end", "steps", "status"):
        np.testing.assert_array_equal(ds[name].values, plain[name], err_msg=name)


def test_a_stopped_point_has_crossed_and_a_budget_point_has_not():
    ds = sweep.run(walk, walk_grid(), key=KEY, config=40, lanes=WALK_LANES)
    ok = ds["status"].values == Status.OK
    assert np.all(ds["end"].values[ok] >= THRESHOLD)
    assert np.all(ds["end"].values[~ok] < THRESHOLD)
    assert np.all(ds["steps"].values[~ok] == 40)


def test_the_walk_loop_runs_alone_as_run_loop_does():
    params = {"drift": 0.5, "start": 0.0}
    key = jax.random.fold_in(KEY, 3)
    direct = walk(params, key, config=40)
    data, x = walk_loop(40).init(params, key)
    n = 0
    while not bool(x >= THRESHOLD) and n < 40:
        x, n = walk_loop(40).step(data, x, n), n + 1
    assert int(direct["steps"]) == n > 0
    assert float(direct["end"]) == pytest.approx(float(x), rel=1e-14)


def test_four_devices_in_lanes_give_the_single_device_result(tmp_path):
    out = tmp_path / "four.nc"
    proc = run_worker(out, "--devices", "4", "--loop")
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, log
    four = sweep.load(out)
    assert four.attrs["n_devices"] == 4
    single = sweep.run(walk, walk_grid(), key=jax.random.key(7), config=40, lanes=WALK_LANES)
    xr.testing.assert_equal(four.drop_attrs(), single.drop_attrs())


def test_two_processes_in_lanes_give_the_single_process_result(tmp_path):
    port = free_port()
    outs = [tmp_path / f"host{i}.nc" for i in range(2)]
    flags = ["--devices", "2", "--num-processes", "2", "--port", str(port), "--loop"]
    procs = [run_worker(out, *flags, "--process-id", str(i)) for i, out in enumerate(outs)]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    single = sweep.run(walk, walk_grid(), key=jax.random.key(7), config=40, lanes=WALK_LANES)
    for out in outs:
        gathered = sweep.load(out)
        assert gathered.attrs["process_count"] == 2 and gathered.attrs["n_devices"] == 4
        xr.testing.assert_equal(gathered.drop_attrs(), single.drop_attrs())


def test_lanes_are_refused_for_a_function_that_is_not_a_loop():
    with pytest.raises(ValueError, match="refillable"):
        sweep.run(lambda params: {"y": params["x"]}, sweep.Grid(x=[1.0, 2.0]), lanes=4)


@pytest.mark.parametrize("lanes", [0, -2, 1.5])
def test_lane_count_below_one_is_rejected(lanes):
    with pytest.raises(ValueError, match="lanes"):
        sweep.run(walk, walk_grid(), key=KEY, config=40, lanes=lanes)


def shifted_start(params):
    """The walk from start = offset - 1."""
    return {"drift": params["drift"], "start": params["offset"] - 1.0}


def test_a_reparametrised_loop_stays_refillable_and_is_named_after_its_transform():
    shifted = sweep.reparametrise(walk, shifted_start)
    assert shifted.make_loop is not None
    grid = sweep.Grid(drift=[0.0, 0.5, 2.0], offset=[-2.0, 1.0, 3.6], seed=range(2))
    ds = sweep.run(shifted, grid, key=KEY, config=40, lanes=2)
    assert ds.attrs["function"].endswith("shifted_start")
    for i, drift in enumerate(grid.axes[0].values):
        for j, offset in enumerate(grid.axes[1].values):
            for seed in range(2):
                flat = np.ravel_multi_index((i, j, seed), grid.shape)
                alone = walk(
                    {"drift": drift, "start": offset - 1.0},
                    jax.random.fold_in(KEY, flat),
                    config=40,
                )
                assert int(ds["steps"].values[i, j, seed]) == int(alone["steps"])
                assert float(ds["end"].values[i, j, seed]) == float(alone["end"])


def test_reparametrising_a_plain_function_gives_a_plain_function():
    def plain(params, key, *, config):
        return {"y": params["x"] * config}

    doubled = sweep.reparametrise(plain, lambda params: {"x": 2 * params["u"]})
    assert not hasattr(doubled, "make_loop")
    ds = sweep.run(doubled, sweep.Grid(u=[1.0, 2.0]), key=KEY, config=3.0)
    np.testing.assert_array_equal(ds["y"].values, [6.0, 12.0])
