"""The sweep engine: every promise of theorytk.sweep, stated as a test."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk import sweep
from theorytk.sweep import Status
from theorytk.sweep._chunking import MARGIN, auto_chunk
from theorytk.sweep._store import ProgressStore

WORKER = Path(__file__).with_name("sweep_worker.py")
sys.path.insert(0, str(WORKER.parent))
from sweep_worker import noisy_response, solve_grid, two_solves, worker_grid  # noqa: E402


def quadratic(params, key):
    return {"loss": params["a"] ** 2 + params["b"], "noise": jax.random.normal(key)}


GRID = sweep.Grid(a=sweep.linspace(-1.0, 1.0, 5), b=sweep.geomspace(1e-2, 1.0, 4), seed=range(3))
KEY = jax.random.key(0)


def run_worker(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    """A free port whose successor is free too (sweep.initialize_distributed meets there)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


# --- grids and results -------------------------------------------------------------------


def test_result_has_one_dimension_per_axis_with_grid_coordinates():
    ds = sweep.run(quadratic, GRID, key=KEY, progress=False)
    assert ds["loss"].dims == ("a", "b", "seed")
    for axis in GRID.axes:
        np.testing.assert_array_equal(ds[axis.name].values, axis.values)
    expected = GRID.axes[0].values[:, None, None] ** 2 + GRID.axes[1].values[None, :, None]
    np.testing.assert_allclose(ds["loss"].values, np.broadcast_to(expected, ds["loss"].shape))
    assert set(ds.data_vars) == {"loss", "noise", "status"}
    assert (ds["status"] == Status.OK).all()


def test_attrs_record_config_and_versions():
    def with_config(params, key, *, config):
        return {"loss": params["a"] * config["scale"]}

    ds = sweep.run(with_config, sweep.Grid(a=[1.0, 2.0]), key=KEY, config={"scale": 3.0})
    assert ds.attrs["config"] == "{'scale': 3.0}"
    assert ds.attrs["jax_version"] == jax.__version__
    assert ds.attrs["theorytk_version"]
    assert "git_revision" in ds.attrs
    np.testing.assert_allclose(ds["loss"].values, [3.0, 6.0])


def test_deterministic_theory_without_key_is_swept():
    def theory(params, *, config=None):
        return {"loss": jnp.log(params["a"])}

    ds = sweep.run(theory, sweep.Grid(a=sweep.geomspace(1.0, 100.0, 3)))
    np.testing.assert_allclose(ds["loss"].values, np.log([1.0, 10.0, 100.0]))


@settings(max_examples=20, deadline=None)
@given(start=st.floats(1e-6, 1e3), ratio=st.floats(1.5, 1e4), num=st.integers(2, 40))
def test_geomspace_is_geometric_and_includes_endpoints(start, ratio, num):
    values = sweep.geomspace(start, start * ratio, num)
    np.testing.assert_allclose(values[[0, -1]], [start, start * ratio], rtol=1e-12)
    np.testing.assert_allclose(np.diff(np.log(values)), np.log(ratio) / (num - 1), rtol=1e-9)


# --- compilation, static axes -------------------------------------------------------------


def test_compiles_once_per_static_value_and_merges_static_axes():
    traces = []

    def sized(params, key):
        n = params["n"]  # a concrete Python int: it sets a shape
        traces.append(n)
        x = jax.random.normal(key, (n,))
        return {"mean_sq": jnp.mean(x**2) * params["scale"], "n_used": jnp.asarray(x.shape[0])}

    grid = sweep.Grid(scale=sweep.geomspace(1.0, 4.0, 3), n=sweep.static([2, 50]), seed=range(5))
    ds = sweep.run(sized, grid, key=KEY, chunk_size=4, progress=False)
    # one abstract trace to inspect the function, then one compile per static value
    # (a chunk of 4 points, many chunks, no retracing)
    assert traces == [2, 2, 50]
    assert ds["mean_sq"].dims == ("scale", "n", "seed")
    np.testing.assert_array_equal(ds["n_used"].sel(n=50).values, 50)
    np.testing.assert_array_equal(ds["n_used"].sel(n=2).values, 2)


# --- randomness: independent of chunking and devices ---------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 10**6])
def test_draws_are_bitwise_identical_for_any_chunk_size(chunk_size):
    reference = sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=60)
    ds = sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=chunk_size)
    np.testing.assert_array_equal(ds["draw"].values, reference["draw"].values)
    np.testing.assert_allclose(ds["response"].values, reference["response"].values, rtol=1e-12)


def test_point_key_is_fold_in_of_its_flat_index():
    ds = sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=13)
    flat = 17
    index = np.unravel_index(flat, worker_grid().shape)
    expected = jax.random.normal(jax.random.fold_in(jax.random.key(7), flat), (16,))[0]
    assert ds["draw"].values[index] == expected


def test_float32_results_agree_across_chunk_sizes():
    with jax.enable_x64(False):
        runs = [
            sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=c)
            for c in (1, 7, 10**6)
        ]
    assert runs[0]["response"].dtype == np.float32
    for ds in runs[1:]:
        np.testing.assert_array_equal(ds["draw"].values, runs[0]["draw"].values)
        np.testing.assert_allclose(ds["response"].values, runs[0]["response"].values, rtol=1e-6)


def test_four_devices_give_the_single_device_result(tmp_path):
    out = tmp_path / "four.nc"
    proc = run_worker(out, "--devices", "4")
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, log
    four = sweep.load(out)
    assert four.attrs["n_devices"] == 4
    single = sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=11)
    xr.testing.assert_equal(four.drop_attrs(), single.drop_attrs())


@pytest.mark.parametrize("devices", [2, 4])
@pytest.mark.parametrize("chunk_size", [512, 256, 64])
def test_batched_solves_on_several_devices_finish_and_match_one_device(
    tmp_path, devices, chunk_size
):
    # jaxlib 0.10.x deadlocked here (batched LAPACK on the shared CPU pool); a hang fails the
    # test at the timeout instead of blocking the suite
    out = tmp_path / "solves.nc"
    proc = run_worker(out, "--devices", str(devices), "--solve", "--chunk-size", str(chunk_size))
    try:
        log, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{devices} devices, chunks of {chunk_size}: the sweep hung")
    assert proc.returncode == 0, log
    single = sweep.run(two_solves, solve_grid(), key=jax.random.key(7), chunk_size=64)
    xr.testing.assert_allclose(sweep.load(out).drop_attrs(), single.drop_attrs(), rtol=1e-12)


def run_two_processes(outs: list[Path], *flags: str) -> list[xr.Dataset]:
    port = free_port()
    procs = [
        run_worker(
            out,
            "--devices",
            "2",
            "--process-id",
            str(i),
            "--num-processes",
            "2",
            "--port",
            str(port),
            *[f.format(i=i) for f in flags],
        )
        for i, out in enumerate(outs)
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    return [sweep.load(out) for out in outs]


def test_two_processes_under_jax_distributed_give_the_single_process_result(tmp_path):
    outs = [tmp_path / f"host{i}.nc" for i in range(2)]
    single = sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=11)
    for gathered in run_two_processes(outs):
        assert gathered.attrs["process_count"] == 2 and gathered.attrs["n_devices"] == 4
        assert gathered.attrs["n_local_devices"] == 2
        xr.testing.assert_equal(gathered.drop_attrs(), single.drop_attrs())


def test_two_processes_run_process_0s_auto_chunk_and_give_the_single_process_result(tmp_path):
    outs = [tmp_path / f"host{i}.nc" for i in range(2)]
    # process 1 is told it has 14 MB, process 0 4 MB: both must run process 0's chunk
    limit = ("--memory-limit", "{i}4000000")
    runs = run_two_processes(outs, "--solve", "--chunk-size", "auto", *limit)
    sizes = {gathered.attrs["chunk_size"] for gathered in runs}
    assert len(sizes) == 1 and sizes.pop() < solve_grid().size
    single = sweep.run(two_solves, solve_grid(), key=jax.random.key(7), chunk_size=64)
    for gathered in runs:
        xr.testing.assert_allclose(gathered.drop_attrs(), single.drop_attrs(), rtol=1e-12)


def test_two_processes_with_per_host_stores_return_every_point_and_one_owns_the_store(tmp_path):
    # no shared filesystem: each host has its own path; only process 0 writes its store
    outs = [tmp_path / f"host{i}.nc" for i in range(2)]
    stores = [tmp_path / f"host{i}" / "sweep.zarr" for i in range(2)]
    single = sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=11)
    runs = run_two_processes(outs, "--store", str(tmp_path / "host{i}" / "sweep.zarr"))
    for gathered in runs:
        xr.testing.assert_equal(gathered.drop_attrs(), single.drop_attrs())
    assert stores[0].exists() and not stores[1].exists()
    xr.testing.assert_equal(sweep.load(stores[0]).drop_attrs(), single.drop_attrs())


def test_two_processes_resume_a_shared_store_computing_only_the_missing_chunks(tmp_path):
    store = tmp_path / "shared.zarr"
    grid = worker_grid()  # 90 points, 9 chunks of 11

    def stop_after_three(info):
        if info.chunk == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        sweep.run(
            noisy_response,
            grid,
            key=jax.random.key(7),
            chunk_size=11,
            store=store,
            on_chunk=stop_after_three,
        )
    outs = [tmp_path / f"host{i}.nc" for i in range(2)]
    runs = run_two_processes(outs, "--store", str(store), "--resume")
    single = sweep.run(noisy_response, grid, key=jax.random.key(7), chunk_size=11)
    for gathered in runs:
        assert gathered.attrs["computed_chunks"] == "3,4,5,6,7,8"
        xr.testing.assert_equal(gathered.drop_attrs(), single.drop_attrs())
    xr.testing.assert_equal(sweep.load(store).drop_attrs(), single.drop_attrs())
    again = run_two_processes(outs, "--store", str(store), "--resume")
    assert [ds.attrs["computed_chunks"] for ds in again] == ["", ""]


def start_process(port: int, n: int, process_id: int, timeout: float) -> Exception | None:
    try:
        sweep.initialize_distributed(f"127.0.0.1:{port}", n, process_id, timeout=timeout)
    except TimeoutError as error:
        return error
    return None


def test_a_distributed_start_with_missing_processes_times_out_naming_them():
    port = free_port()
    with concurrent.futures.ThreadPoolExecutor() as pool:  # process 1 of 3 starts, 2 does not
        one = pool.submit(start_process, port, 3, 1, 4.0)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"waited 1 s for processes \[2\] of 3"):
            sweep.initialize_distributed(f"127.0.0.1:{port}", 3, 0, timeout=1.0)
        assert time.monotonic() - started < 3.0
        assert "process 1 could not reach process 0" in str(one.result())
    with pytest.raises(TimeoutError, match=r"processes \[1, 2, 3\] of 4"):
        sweep.initialize_distributed(f"127.0.0.1:{port}", 4, 0, timeout=0.5)
    with pytest.raises(ValueError, match="process_id must be an integer <= 1"):
        sweep.initialize_distributed(f"127.0.0.1:{port}", 2, 2)


# --- chunk_size="auto": the largest chunk that fits in memory -----------------------------


@settings(max_examples=300, deadline=None)
@given(
    fixed=st.integers(0, 10**9),
    per_point=st.integers(1, 10**7),
    n_points=st.integers(1, 10**6),
    n_devices=st.sampled_from([1, 2, 4, 8]),
    available=st.integers(10**3, 10**12),
    cap=st.sampled_from([4096, 1 << 16]),
)
def test_auto_chunk_is_the_largest_rounded_chunk_within_the_margin_when_memory_is_linear(
    fixed, per_point, n_points, n_devices, available, cap
):
    # memory = a fixed part + a part per point on each device (the chunk padded to devices)
    def memory(chunk):
        calls.append(chunk)
        return fixed + per_point * -(-chunk // n_devices)

    calls = []
    budget = MARGIN * available
    if fixed + per_point > budget:  # not even one point per device fits
        with pytest.raises(sweep.ChunkMemoryError, match="one point per device needs about"):
            auto_chunk(memory, n_points, n_devices, available, cap)
        return
    chunk = auto_chunk(memory, n_points, n_devices, available, cap)
    assert len(calls) <= 3  # the full chunk, a scaled one, one on the fitted line
    top = min(n_points, cap)
    assert 1 <= chunk <= top
    assert memory(chunk) <= budget
    if chunk < top:  # the next rounded chunk (a multiple of 8 per device from 8 up) is too big
        step = 8 * n_devices if chunk >= 8 * n_devices else n_devices
        assert chunk % step == 0
        assert chunk + step >= top or memory(chunk + step) > budget


@settings(max_examples=200, deadline=None)
@given(
    fixed=st.integers(0, 10**9),
    per_point=st.integers(1, 10**7),
    power=st.floats(0.5, 2.0),
    n_points=st.integers(1, 10**6),
    available=st.integers(10**3, 10**12),
)
def test_auto_chunk_fits_or_refuses_when_memory_is_not_linear(
    fixed, per_point, power, n_points, available
):
    def memory(chunk):
        return int(fixed + per_point * chunk**power)

    budget = MARGIN * available
    if memory(1) > budget:
        with pytest.raises(sweep.ChunkMemoryError):
            auto_chunk(memory, n_points, 1, available, 4096)
    else:
        assert memory(auto_chunk(memory, n_points, 1, available, 4096)) <= budget


def test_auto_chunk_shrinks_with_the_memory_limit_and_gives_a_fixed_chunks_results():
    grid = solve_grid()  # 512 points, two 40 x 40 ridge solves each
    reference = sweep.run(two_solves, grid, key=KEY, chunk_size=64)
    chosen = []
    for limit in (None, 2 * 10**7, 4 * 10**6, 10**6):
        told = set()
        ds = sweep.run(
            two_solves,
            grid,
            key=KEY,
            memory_limit=limit,
            on_chunk=lambda info, told=told: told.add(info.chunk_size),
        )
        chosen.append(ds.attrs["chunk_size"])
        assert told == {ds.attrs["chunk_size"]}
        xr.testing.assert_allclose(ds.drop_attrs(), reference.drop_attrs(), rtol=1e-12)
    assert chosen[0] == grid.size  # on a host with free memory the whole grid is one chunk
    assert chosen == sorted(set(chosen), reverse=True)  # every tighter limit, a smaller chunk


def test_auto_chunk_refuses_a_point_that_does_not_fit_before_computing_anything():
    computed = []
    with pytest.raises(sweep.ChunkMemoryError, match="one point per device needs about .* kB"):
        sweep.run(two_solves, solve_grid(), key=KEY, memory_limit=10**5, on_chunk=computed.append)
    assert computed == []
    # an explicit chunk size is the user's choice: it runs
    sweep.run(two_solves, sweep.Grid(scale=[1.0]), key=KEY, chunk_size=1)


def test_a_sweep_interrupted_with_a_fixed_chunk_resumes_with_auto_chunks(tmp_path):
    store = tmp_path / "sweep.zarr"
    grid = worker_grid()  # 90 points

    def stop_after_two(info):  # chunks of 10: points 0..19 stored
        if info.chunk == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        sweep.run(
            noisy_response, grid, key=KEY, chunk_size=10, store=store, on_chunk=stop_after_two
        )
    computed = []
    resumed = sweep.run(
        noisy_response,
        grid,
        key=KEY,
        store=store,
        resume=True,
        on_chunk=lambda info: computed.append((info.chunk_size, info.n_points)),
    )
    assert computed == [(90, 90)]  # points are flagged done one by one: any chunk resumes
    assert resumed.attrs["chunk_size"] == 90
    xr.testing.assert_equal(
        resumed.drop_attrs(), sweep.run(noisy_response, grid, key=KEY).drop_attrs()
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunk_size": "big"}, 'chunk_size must be "auto" or an integer >= 1'),
        ({"memory_limit": 0}, "memory_limit must be an integer >= 1"),
        ({"memory_limit": 1e9}, "memory_limit must be an integer >= 1"),
        ({"chunk_size": 8, "memory_limit": 10**9}, "memory_limit= sizes chunk_size=.auto."),
    ],
)
def test_bad_chunk_options_are_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        sweep.run(quadratic, GRID, key=KEY, **options)


# --- failure as data ----------------------------------------------------------------------


def test_nonfinite_points_get_a_status_and_do_not_raise():
    def fragile(params, key):
        return {"loss": jnp.log(params["a"]), "inverse": 1.0 / params["a"]}

    ds = sweep.run(fragile, sweep.Grid(a=[-1.0, 0.0, 1.0]), key=KEY)
    np.testing.assert_array_equal(
        ds["status"].values, [Status.NONFINITE, Status.NONFINITE, Status.OK]
    )


def test_a_model_status_is_kept_and_takes_precedence():
    def flagged(params, key):
        diverged = params["lr"] > 1.0
        status = jnp.where(diverged, Status.DIVERGED, Status.OK)
        return {"loss": jnp.where(diverged, jnp.nan, params["lr"]), "status": status}

    ds = sweep.run(flagged, sweep.Grid(lr=[0.5, 2.0]), key=KEY)
    np.testing.assert_array_equal(ds["status"].values, [Status.OK, Status.DIVERGED])


# --- bad input: clear errors before tracing -----------------------------------------------


def test_grid_values_outside_the_declared_domain_are_rejected_before_tracing():
    traced = []

    @sweep.domain(rate=sweep.POSITIVE, width=sweep.POSITIVE_INTEGER)
    def model(params):
        traced.append(True)
        return {"y": params["rate"] * params["width"]}

    with pytest.raises(ValueError, match=r"'rate': values must be > 0, got -1, 0"):
        sweep.run(model, sweep.Grid(rate=[-1.0, 0.0, 2.0], width=[1.0]))
    with pytest.raises(ValueError, match=r"'width': values must be integers >= 1, got 16.5"):
        sweep.run(model, sweep.Grid(rate=[1.0], width=[16.0, 16.5]))
    with pytest.raises(ValueError, match=r"'width': values must be integers >= 1, got 0"):
        sweep.run(model, sweep.Grid(rate=[1.0], width=sweep.static([0, 2])))
    assert not traced
    ds = sweep.run(model, sweep.Grid(rate=[0.5], width=[2.0, 3.0]))
    np.testing.assert_allclose(ds["y"].values.ravel(), [1.0, 1.5])


def test_domain_survives_refillable_and_is_checked_in_traced_code():
    loop = sweep.Loop(
        lambda p, k: (None, p["rate"]),
        lambda d, s, n: s,
        lambda d, s: True,
        lambda d, r: {"y": r.state},
        budget=1,
    )

    @sweep.domain(rate=sweep.UNIT_INTERVAL)
    @sweep.refillable(lambda config: loop)
    def model(params, key, *, config=None):
        return sweep.run_loop(loop, params, key)

    assert sweep.param_domain(model) == {"rate": sweep.UNIT_INTERVAL}
    with pytest.raises(ValueError, match=r"values must be in \[0, 1\], got 1.5"):
        sweep.run(model, sweep.Grid(rate=[0.5, 1.5]), key=KEY)
    check = jax.vmap(lambda r: sweep.valid_params(sweep.param_domain(model), {"rate": r}))
    np.testing.assert_array_equal(
        check(jnp.array([-0.1, 0.0, 1.0, 1.1])), [False, True, True, False]
    )


def test_a_constraint_must_be_a_constraint():
    with pytest.raises(TypeError, match="needs a sweep.Constraint"):
        sweep.domain(rate="> 0")


def test_repeated_axis_values_are_rejected():
    with pytest.raises(ValueError, match=r"axis 'T' repeats the values \[0.1\]"):
        sweep.Grid(T=[0.1, 0.2, 0.1])


def test_a_dict_in_place_of_a_grid_is_rejected():
    with pytest.raises(TypeError, match="grid must be a sweep.Grid, got dict"):
        sweep.run(quadratic, {"a": [1.0], "b": [1.0]}, key=KEY)


def test_a_string_metric_is_rejected_with_a_message():
    with pytest.raises(TypeError, match="dict of numeric scalars"):
        sweep.run(lambda p: {"y": "high"}, sweep.Grid(a=[1.0]))


def test_loading_a_missing_result_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sweep result at"):
        sweep.load(tmp_path / "missing.zarr")


def test_empty_axis_is_rejected():
    with pytest.raises(ValueError, match="axis 'a' is empty"):
        sweep.Grid(a=[])


def test_non_finite_axis_values_are_rejected():
    with pytest.raises(ValueError, match=r"axis 'a' has non-finite values \[nan\]"):
        sweep.Grid(a=[1.0, np.nan])


def test_duplicate_axis_names_are_rejected():
    with pytest.raises(ValueError, match=r"duplicate axis names \['a'\]"):
        sweep.Grid(("a", [1.0]), a=[2.0])


def test_an_axis_the_function_does_not_read_is_rejected():
    with pytest.raises(ValueError, match=r"does not read the grid axes \['c'\]"):
        sweep.run(quadratic, sweep.Grid(a=[1.0], b=[1.0], c=[1.0]), key=KEY)


def test_a_parameter_missing_from_the_grid_is_rejected():
    with pytest.raises(ValueError, match=r"reads params\['b'\], but the grid has no such axis"):
        sweep.run(quadratic, sweep.Grid(a=[1.0]), key=KEY)


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5])
def test_chunk_size_below_one_is_rejected(chunk_size):
    with pytest.raises(ValueError, match=r"chunk_size must be \"auto\" or an integer >= 1"):
        sweep.run(quadratic, GRID, key=KEY, chunk_size=chunk_size)


def test_a_function_returning_no_dict_is_rejected():
    with pytest.raises(
        TypeError, match=r"must return a dict of scalar metrics, got an array of shape \(\)"
    ):
        sweep.run(lambda p, k: p["a"] * 2, sweep.Grid(a=[1.0]), key=KEY)


@pytest.mark.parametrize(
    "returned", [lambda p: p["a"] * 2, lambda p: (p["a"], p["b"]), lambda p: [p["a"]]]
)
def test_a_function_returning_no_dict_is_named_as_such_even_if_it_reads_every_axis(returned):
    # reads a and b, so "does not read the grid axes" would be a wrong diagnosis
    with pytest.raises(TypeError, match="must return a dict of scalar metrics"):
        sweep.run(lambda p, k: returned(p), sweep.Grid(a=[1.0], b=[2.0]), key=KEY)


def test_a_grid_beyond_the_uint32_point_index_is_refused_before_tracing():
    def never_traced(params, key):
        raise AssertionError("traced")

    grid = sweep.Grid(a=np.arange(70_000.0), b=np.arange(70_000.0))  # 4.9e9 points
    with pytest.raises(ValueError, match="more than 2\\*\\*32 points are not supported"):
        sweep.run(never_traced, grid, key=KEY)


def test_a_function_that_needs_config_and_gets_none_is_rejected():
    def model(params, key, *, config):
        return {"y": params["a"] * config.scale}

    with pytest.raises(TypeError, match="takes a required `config` argument.*no config="):
        sweep.run(model, sweep.Grid(a=[1.0]), key=KEY)

    def optional(params, key, *, config=None):  # a default: config=None is the caller's choice
        return {"y": params["a"] * (1.0 if config is None else config)}

    assert float(sweep.run(optional, sweep.Grid(a=[3.0]), key=KEY)["y"][0]) == 3.0


@pytest.mark.parametrize(
    ("key", "got"),
    [
        (0, "got int 0"),
        (np.arange(2), "got an array int"),
        (jax.random.split(KEY, 3), r"got an array key<fry>\[3\]"),
    ],
)
def test_a_key_that_is_not_one_prng_key_is_rejected(key, got):
    with pytest.raises(
        TypeError, match=f"key must be one PRNG key, e.g. key=jax.random.key.*{got}"
    ):
        sweep.run(quadratic, GRID, key=key)


def test_a_raw_prng_key_gives_the_results_of_the_typed_key():
    raw = sweep.run(quadratic, GRID, key=jax.random.PRNGKey(0))
    typed = sweep.run(quadratic, GRID, key=jax.random.key(0))
    xr.testing.assert_equal(raw.drop_attrs(), typed.drop_attrs())


def test_a_non_scalar_metric_is_rejected():
    with pytest.raises(TypeError, match=r"metric 'x' must be a scalar per point, got shape \(3,\)"):
        sweep.run(lambda p, k: {"x": jnp.ones(3) * p["a"]}, sweep.Grid(a=[1.0]), key=KEY)


def test_a_stochastic_function_without_key_is_rejected():
    with pytest.raises(ValueError, match="needs key="):
        sweep.run(quadratic, GRID)


# --- saving, resuming ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_save_and_load_round_trip_exactly(tmp_path, suffix):
    ds = sweep.run(quadratic, GRID, key=KEY)
    path = sweep.save(ds, tmp_path / f"result{suffix}")
    loaded = sweep.load(path)
    xr.testing.assert_identical(loaded, ds)
    for name in ds.variables:
        assert loaded[name].dtype == ds[name].dtype


class Interrupt(Exception):
    pass


def test_an_interrupted_sweep_resumes_with_only_the_missing_chunks(tmp_path):
    store = tmp_path / "sweep.zarr"
    grid = sweep.Grid(
        scale=sweep.geomspace(0.1, 10.0, 6), shift=np.linspace(-1, 1, 5), seed=range(3)
    )  # 90 points, 9 chunks of 10
    computed = []

    def interrupt_after_four(info):
        computed.append(info.chunk)
        if len(computed) == 4:
            raise Interrupt

    with pytest.raises(Interrupt):
        sweep.run(
            noisy_response, grid, key=KEY, chunk_size=10, store=store, on_chunk=interrupt_after_four
        )
    assert not store.exists()
    computed.clear()
    resumed = sweep.run(
        noisy_response,
        grid,
        key=KEY,
        chunk_size=10,
        store=store,
        resume=True,
        on_chunk=lambda info: computed.append(info.chunk),
    )
    assert computed == [4, 5, 6, 7, 8]
    uninterrupted = sweep.run(noisy_response, grid, key=KEY, chunk_size=10)
    xr.testing.assert_identical(resumed, uninterrupted)
    xr.testing.assert_identical(sweep.load(store), uninterrupted)
    computed.clear()
    again = sweep.run(
        noisy_response,
        grid,
        key=KEY,
        chunk_size=10,
        store=store,
        resume=True,
        on_chunk=lambda info: computed.append(info.chunk),
    )
    assert computed == []
    xr.testing.assert_identical(again, uninterrupted)


def test_resuming_a_different_sweep_is_refused(tmp_path):
    store = tmp_path / "sweep.zarr"
    sweep.run(quadratic, GRID, key=KEY, store=store)
    with pytest.raises(sweep.ResumeError, match="holds a different sweep"):
        sweep.run(quadratic, GRID, key=jax.random.key(1), store=store, resume=True)


def make_model(exponent):
    def model(params, key):  # same module and name whatever the body computes
        return {"loss": params["a"] ** exponent + jax.random.normal(key)}

    return model


@pytest.mark.parametrize("finished", [True, False])
def test_resume_refuses_a_store_written_by_a_changed_model_body(tmp_path, finished):
    store = tmp_path / "sweep.zarr"
    grid = sweep.Grid(a=sweep.linspace(0.0, 1.0, 8))

    def stop(info):
        raise Interrupt

    old = make_model(2)
    if finished:
        sweep.run(old, grid, key=KEY, chunk_size=2, store=store)
    else:
        with pytest.raises(Interrupt):
            sweep.run(old, grid, key=KEY, chunk_size=2, store=store, on_chunk=stop)
    with pytest.raises(sweep.ResumeError, match="computation"):
        sweep.run(make_model(3), grid, key=KEY, chunk_size=2, store=store, resume=True)
    resumed = sweep.run(old, grid, key=KEY, chunk_size=2, store=store, resume=True)
    xr.testing.assert_equal(resumed, sweep.run(old, grid, key=KEY))


def test_resume_accepts_another_chunk_size_and_recomputes_only_unfinished_points(tmp_path):
    store = tmp_path / "sweep.zarr"
    grid = worker_grid()  # 90 points
    computed = []

    def stop_after_four(info):  # chunks of 10: points 0..39 stored
        computed.append(info.chunk)
        if len(computed) == 4:
            raise Interrupt

    with pytest.raises(Interrupt):
        sweep.run(
            noisy_response, grid, key=KEY, chunk_size=10, store=store, on_chunk=stop_after_four
        )
    computed.clear()
    resumed = sweep.run(
        noisy_response,
        grid,
        key=KEY,
        chunk_size=25,
        store=store,
        resume=True,
        on_chunk=lambda info: computed.append(info.chunk),
    )
    assert computed == [1, 2, 3]  # chunk 0 (points 0..24) was stored; 25..49 is partly
    xr.testing.assert_equal(
        resumed.drop_attrs(), sweep.run(noisy_response, grid, key=KEY).drop_attrs()
    )


def chunk_files(store: Path) -> list[Path]:
    """Every chunk file of the metric and status arrays of a store (not coordinates)."""
    return sorted(
        f
        for f in store.glob("*/c/**/*")
        if f.is_file() and f.parts[len(store.parts)] not in ("scale", "shift", "seed")
    )


def damage(file: Path, how: str) -> None:
    if how == "delete":
        file.unlink()
    else:  # truncate: a half-written or cut file
        with open(file, "r+b") as f:
            f.truncate(file.stat().st_size // 2)


@pytest.mark.parametrize("how", ["delete", "truncate"])
def test_a_damaged_chunk_of_a_finished_store_is_recomputed_and_named(tmp_path, how):
    store = tmp_path / "sweep.zarr"
    grid = worker_grid()
    reference = sweep.run(noisy_response, grid, key=KEY, chunk_size=10, store=store)
    files = chunk_files(store)
    assert {f.relative_to(store).parts[0] for f in files} == {"draw", "response", "status"}
    for file in files:  # every chunk of every variable, status included (its fill is OK)
        damage(file, how)
        with pytest.warns(RuntimeWarning, match=f"recomputing 90 points.*{file}"):
            resumed = sweep.run(
                noisy_response, grid, key=KEY, chunk_size=10, store=store, resume=True
            )
        xr.testing.assert_identical(resumed, reference)
        xr.testing.assert_identical(sweep.load(store), reference)


def resume_recording_chunks(store: Path, chunk_size: int) -> tuple[xr.Dataset, list[int]]:
    computed = []
    resumed = sweep.run(
        noisy_response,
        worker_grid(),
        key=KEY,
        chunk_size=chunk_size,
        store=store,
        resume=True,
        on_chunk=lambda info: computed.append(info.chunk),
    )
    return resumed, computed


def interrupt_after_four_chunks(store: Path) -> None:
    def stop(info):
        if info.chunk == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        sweep.run(noisy_response, worker_grid(), key=KEY, chunk_size=10, store=store, on_chunk=stop)


@pytest.mark.parametrize("how", ["delete", "truncate"])
def test_a_damaged_chunk_of_a_partial_store_is_recomputed_and_named(tmp_path, how):
    store = tmp_path / "sweep.zarr"
    partial = tmp_path / "sweep.zarr.partial"
    reference = sweep.run(noisy_response, worker_grid(), key=KEY, chunk_size=10)  # 9 chunks
    for index in (0, 2):  # chunk `index` of each array (the first four chunks are done)
        for name in ("draw", "response", "status", "done"):
            shutil.rmtree(store, ignore_errors=True)  # the finished store of the last round
            interrupt_after_four_chunks(store)
            file = partial / name / "c" / "0" / str(index)
            damage(file, how)
            if name == "done" and how == "delete":  # reads as never flagged: recomputed
                resumed, computed = resume_recording_chunks(store, 10)
            else:
                with pytest.warns(RuntimeWarning, match=f"recomputing 10 points.*{file}"):
                    resumed, computed = resume_recording_chunks(store, 10)
            assert computed == [index, 4, 5, 6, 7, 8]
            xr.testing.assert_identical(resumed, reference)


def test_a_damaged_chunk_is_recomputed_when_resuming_with_another_chunk_size(tmp_path):
    store = tmp_path / "sweep.zarr"
    reference = sweep.run(noisy_response, worker_grid(), key=KEY, chunk_size=10)
    interrupt_after_four_chunks(store)
    damage(tmp_path / "sweep.zarr.partial" / "status" / "c" / "0" / "1", "truncate")
    with pytest.warns(RuntimeWarning, match="recomputing 10 points"):
        resumed, computed = resume_recording_chunks(store, 25)
    assert computed == [0, 1, 2, 3]  # points 10..19 lost: chunk 0 (0..24) is computed again
    xr.testing.assert_equal(resumed.drop_attrs(), reference.drop_attrs())


def test_resume_continues_a_partial_store_started_over_a_finished_one(tmp_path):
    store = tmp_path / "sweep.zarr"
    sweep.run(quadratic, GRID, key=KEY, store=store)  # an earlier, finished sweep
    interrupt_after_four_chunks(store)  # another sweep started over it (resume=False)
    resumed, computed = resume_recording_chunks(store, 10)
    assert computed == [4, 5, 6, 7, 8]
    xr.testing.assert_identical(
        resumed, sweep.run(noisy_response, worker_grid(), key=KEY, chunk_size=10)
    )


def test_ctrl_c_during_a_chunk_write_waits_until_the_chunk_is_stored(tmp_path, monkeypatch):
    store = tmp_path / "sweep.zarr"
    write, array = ProgressStore.write, ProgressStore._array

    def flagged_write(self, static_index, start, values):
        self.interrupt = start == 20  # the third chunk
        write(self, static_index, start, values)

    def interrupting_array(self, name):
        if getattr(self, "interrupt", False) and name == "response":  # after "draw" is stored
            self.interrupt = False
            os.kill(os.getpid(), signal.SIGINT)
        return array(self, name)

    monkeypatch.setattr(ProgressStore, "write", flagged_write)
    monkeypatch.setattr(ProgressStore, "_array", interrupting_array)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(noisy_response, worker_grid(), key=KEY, chunk_size=10, store=store)
    monkeypatch.undo()
    with warnings.catch_warnings():  # no chunk is damaged: nothing is reported
        warnings.simplefilter("error", RuntimeWarning)
        resumed, computed = resume_recording_chunks(store, 10)
    assert computed == [3, 4, 5, 6, 7, 8]  # the interrupted chunk 2 was stored whole
    reference = sweep.run(noisy_response, worker_grid(), key=KEY, chunk_size=10)
    xr.testing.assert_identical(resumed, reference)


@pytest.mark.parametrize("finished", [True, False])
def test_a_store_whose_metadata_cannot_be_read_is_refused_in_one_line(tmp_path, finished):
    store = tmp_path / "sweep.zarr"

    def stop(info):
        raise Interrupt

    if finished:
        sweep.run(quadratic, GRID, key=KEY, store=store)
        metadata = store / "zarr.json"
    else:
        with pytest.raises(Interrupt):
            sweep.run(quadratic, GRID, key=KEY, chunk_size=5, store=store, on_chunk=stop)
        metadata = tmp_path / "sweep.zarr.partial" / "zarr.json"
    metadata.write_text(metadata.read_text()[:40])
    with pytest.raises(sweep.ResumeError) as refused:
        sweep.run(quadratic, GRID, key=KEY, chunk_size=5, store=store, resume=True)
    message = str(refused.value)
    assert "\n" not in message and repr(str(metadata.parent)) in message
    assert "not a readable sweep store" in message


def test_load_names_a_file_that_is_not_netcdf_and_a_damaged_zarr_chunk(tmp_path):
    fake = tmp_path / "result.nc"
    fake.write_text("not netCDF")
    with pytest.raises(ValueError, match=f"cannot read {str(fake)!r} as a sweep result"):
        sweep.load(fake)
    store = sweep.save(sweep.run(quadratic, GRID, key=KEY), tmp_path / "result.zarr")
    damage(store / "loss" / "c" / "0" / "0" / "0", "truncate")
    with pytest.raises(ValueError, match=f"{store / 'loss' / 'c' / '0' / '0' / '0'} is unreadable"):
        sweep.load(store)


# --- progress, reductions -----------------------------------------------------------------


def test_progress_bar_is_silent_without_a_terminal(capsys):
    sweep.run(quadratic, GRID, key=KEY, chunk_size=5, progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_seed_mean_gives_mean_and_standard_error_over_ok_seeds():
    def metric(params, key):
        value = params["a"] * (1.0 + params["seed"])
        return {"v": value, "status": jnp.where(params["seed"] == 3, Status.DIVERGED, Status.OK)}

    ds = sweep.run(metric, sweep.Grid(a=[1.0, 2.0], seed=range(4)), key=KEY)
    reduced = sweep.seed_mean(ds)
    ok_values = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    np.testing.assert_allclose(reduced["v"].values, ok_values.mean(1))
    np.testing.assert_allclose(reduced["v_sem"].values, ok_values.std(1, ddof=1) / np.sqrt(3))
    np.testing.assert_array_equal(reduced["n_ok"].values, [3, 3])
    np.testing.assert_array_equal(reduced["status"].values, [Status.DIVERGED] * 2)


@pytest.mark.parametrize(
    ("version", "warns"),
    [("0.9.2", False), ("0.10.0", True), ("0.10.2", True), ("0.11.1", True), ("0.11.2", False)],
)
def test_a_jaxlib_with_the_cpu_lapack_deadlock_is_named_in_a_warning(version, warns):
    from theorytk.sweep._execute import _warn_if_lapack_deadlocks

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _warn_if_lapack_deadlocks.__wrapped__(version)
    assert any("can deadlock" in str(w.message) for w in caught) == warns


def test_integers_in_accepts_exactly_the_integers_of_the_range():
    constraint = sweep.integers_in(2, 5)
    values = np.array([1.0, 2.0, 3.5, 5.0, 6.0])
    np.testing.assert_array_equal(constraint.test(values), [False, True, False, True, False])
    assert constraint.description == "integers in [2, 5]"
