"""The sweep engine: every promise of theorytk.sweep, stated as a test."""

from __future__ import annotations

import socket
import subprocess
import sys
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

WORKER = Path(__file__).with_name("sweep_worker.py")
sys.path.insert(0, str(WORKER.parent))
from sweep_worker import noisy_response, worker_grid  # noqa: E402


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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_two_processes_under_jax_distributed_give_the_single_process_result(tmp_path):
    port = free_port()
    outs = [tmp_path / f"host{i}.nc" for i in range(2)]
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
        )
        for i, out in enumerate(outs)
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    single = sweep.run(noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=11)
    for out in outs:
        gathered = sweep.load(out)
        assert gathered.attrs["process_count"] == 2 and gathered.attrs["n_devices"] == 4
        assert gathered.attrs["n_local_devices"] == 2
        xr.testing.assert_equal(gathered.drop_attrs(), single.drop_attrs())


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
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        sweep.run(quadratic, GRID, key=KEY, chunk_size=chunk_size)


def test_a_function_returning_no_dict_is_rejected():
    with pytest.raises(
        TypeError, match=r"must return a dict of scalar metrics, got an array of shape \(\)"
    ):
        sweep.run(lambda p, k: p["a"] * 2, sweep.Grid(a=[1.0]), key=KEY)


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
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep.run(quadratic, GRID, key=jax.random.key(1), store=store, resume=True)


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
