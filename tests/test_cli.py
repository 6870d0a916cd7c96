"""The phase-diagram CLI: defaults, overrides, one-line errors with exit code 2."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import types
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
import xarray as xr

from experiments import phase_diagram
from experiments._experiment import Experiment, Options, UsageError, run_simulation, save_both
from theorytk import sweep
from theorytk.sweep import _chunking


def test_parse_axis_reads_log_linear_and_list_forms():
    name, values = phase_diagram.parse_axis("ridge=1e-4:10:6:log")
    assert name == "ridge"
    np.testing.assert_allclose(values, np.geomspace(1e-4, 10, 6))
    np.testing.assert_allclose(phase_diagram.parse_axis("n_over_d=0.5:2:4")[1], [0.5, 1, 1.5, 2])
    np.testing.assert_allclose(phase_diagram.parse_axis("x=1,2.5,7")[1], [1, 2.5, 7])


@pytest.mark.parametrize(
    "spec",
    [
        "ridge",
        "ridge=",
        "ridge=a:b:3",
        "ridge=1:2",
        "ridge=1:2:3:cubic",
        "ridge=-1:2:3:log",
        "ridge=1:2:0",
        "1x=1:2:3",
    ],
)
def test_malformed_grids_exit_2_with_one_line(spec, capsys):
    assert phase_diagram.main(["ridge", "--grid", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("phase_diagram: error: --grid") and "\n" not in err


def test_unknown_experiment_exits_2_naming_the_choices(capsys):
    assert phase_diagram.main(["nosuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown experiment 'nosuch'" in err and "ridge" in err and "\n" not in err


def test_unknown_axis_exits_2_naming_the_axes(capsys):
    assert phase_diagram.main(["ridge", "--grid", "width=1:2:3"]) == 2
    err = capsys.readouterr().err
    assert "has no axis 'width'" in err and "n_over_d, lam" in err


def test_a_grid_value_the_model_rejects_exits_2(capsys, tmp_path):
    assert (
        phase_diagram.main(["ridge", "--quick", "--out", str(tmp_path), "--grid", "lam=-1,1"]) == 2
    )
    assert "lam" in capsys.readouterr().err


def test_list_names_every_experiment(capsys):
    assert phase_diagram.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in phase_diagram.EXPERIMENTS:
        assert name in out


def test_quick_run_writes_png_and_data_and_resumes(tmp_path, capsys):
    args = [
        "ridge",
        "--quick",
        "--out",
        str(tmp_path),
        "--seeds",
        "2",
        "--no-progress",
        "--grid",
        "n_over_d=0.5,1,2",
        "--grid",
        "lam=1e-3:1:3:log",
    ]
    assert phase_diagram.main(args) == 0
    out = capsys.readouterr().out
    assert "ridge.png" in out and "theory vs simulation" in out
    assert (tmp_path / "ridge.png").stat().st_size > 10_000
    ds = sweep.load(tmp_path / "ridge.nc")
    xr_zarr = sweep.load(tmp_path / "ridge.zarr")
    assert ds.sizes == {"n_over_d": 3, "lam": 3, "seed": 2}
    assert set(ds.data_vars) >= {"test_mse", "theory_test_mse", "status"}
    np.testing.assert_array_equal(ds["test_mse"].values, xr_zarr["test_mse"].values)
    assert phase_diagram.main([*args, "--resume"]) == 0
    again = sweep.load(tmp_path / "ridge.nc")
    np.testing.assert_array_equal(again["test_mse"].values, ds["test_mse"].values)


# --- a CLI that loses nothing and says what happened ---------------------------------------


def fake_experiment(monkeypatch, run, settings=None):
    """Register an experiment 'fake' whose run is `run(axes, options)`."""
    module = types.ModuleType("fake_experiment")
    module.EXPERIMENT = Experiment(
        name="fake",
        summary="a test double",
        axes=lambda quick: {"x": np.array([1.0, 2.0])},
        run=run,
        default_seeds=lambda quick: 1,
        settings=settings or (lambda quick: {}),
    )
    monkeypatch.setitem(sys.modules, "fake_experiment", module)
    monkeypatch.setitem(phase_diagram.EXPERIMENTS, "fake", "fake_experiment")


def write_result(axes, options):
    ds = xr.Dataset({"y": ("x", axes["x"] ** 2)}, coords={"x": axes["x"]})
    save_both(ds, options.out, "fake")
    return f"settings {dict(options.settings)}"


def test_a_bug_inside_an_experiment_keeps_its_traceback(monkeypatch, tmp_path):
    def broken(axes, options):
        raise ValueError("an internal bug, not a usage error")

    fake_experiment(monkeypatch, broken)
    with pytest.raises(ValueError, match="an internal bug"):
        phase_diagram.main(["fake", "--out", str(tmp_path)])


def test_an_out_path_that_is_a_file_exits_2_before_computing(monkeypatch, tmp_path, capsys):
    ran = []
    fake_experiment(monkeypatch, lambda axes, options: ran.append(1) or "")
    target = tmp_path / "a_file"
    target.write_text("")
    for out in (target, target / "sub"):
        assert phase_diagram.main(["fake", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("phase_diagram: error: --out") and "\n" not in err
    assert not ran


def test_a_rerun_into_earlier_results_needs_resume_or_overwrite(monkeypatch, tmp_path, capsys):
    fake_experiment(monkeypatch, write_result)
    args = ["fake", "--out", str(tmp_path)]
    assert phase_diagram.main(args) == 0
    assert phase_diagram.main(args) == 2
    err = capsys.readouterr().err
    assert "already holds fake results" in err and "--resume" in err and "--overwrite" in err
    assert phase_diagram.main([*args, "--overwrite"]) == 0
    assert phase_diagram.main([*args, "--resume"]) == 0
    assert phase_diagram.main([*args, "--resume", "--overwrite"]) == 2


def test_files_record_experiment_command_time_and_devices(monkeypatch, tmp_path):
    fake_experiment(monkeypatch, write_result)
    assert phase_diagram.main(["fake", "--out", str(tmp_path), "--grid", "x=1,3"]) == 0
    for suffix in (".nc", ".zarr"):
        attrs = sweep.load(tmp_path / f"fake{suffix}").attrs
        assert attrs["experiment"] == "fake"
        assert attrs["command"].endswith("fake --out " + str(tmp_path) + " --grid x=1,3")
        assert attrs["created"].startswith("20") and attrs["n_devices"] == str(jax.device_count())
        assert attrs["n_processes"] == "1"


def test_zarr_results_open_without_a_consolidation_warning(monkeypatch, tmp_path):
    fake_experiment(monkeypatch, write_result)
    assert phase_diagram.main(["fake", "--out", str(tmp_path)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xr.open_zarr(tmp_path / "fake.zarr").close()


def test_ctrl_c_without_checkpoints_says_nothing_was_saved(monkeypatch, tmp_path, capsys):
    def interrupted(axes, options):
        raise KeyboardInterrupt

    fake_experiment(monkeypatch, interrupted)
    assert phase_diagram.main(["fake", "--out", str(tmp_path), "--seeds", "2"]) == 130
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "nothing was saved (fake left no checkpoints in" in err
    assert err.endswith(
        f"{sys.executable} -m experiments.phase_diagram fake --out {tmp_path} --seeds 2"
    )


def interrupt_simulations_after_one_chunk(monkeypatch):
    """Make every stored sweep (an experiment's simulation) stop after its first chunk."""
    run = sweep.run

    def interrupted_run(*args, **kwargs):
        def stop(info):
            raise KeyboardInterrupt

        return run(*args, **kwargs, on_chunk=stop if kwargs.get("store") else None)

    monkeypatch.setattr(sweep, "run", interrupted_run)


def fake_simulation(axes, options):
    ds = run_simulation(
        lambda p, key: {"y": p["x"] * jax.random.normal(key)},
        sweep.Grid(x=axes["x"], seed=range(options.seeds)),
        options,
        "fake",
    )
    save_both(ds, options.out, "fake")
    return "done"


@pytest.mark.slow  # a second process imports JAX and compiles the model (about 20 s)
def test_ctrl_c_prints_one_line_with_a_resume_command_that_runs_as_pasted(
    monkeypatch, tmp_path, capsys
):
    out = tmp_path / "my results"  # a space: the command must quote it
    args = ["ridge", "--quick", "--out", str(out), "--seeds", "2", "--no-progress"]
    args += ["--grid", "n_over_d=0.5,2", "--grid", "lam=0.01,1", "--chunk-size", "2"]
    interrupt_simulations_after_one_chunk(monkeypatch)
    assert phase_diagram.main(args) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"saved in {out / 'checkpoints'}" in err
    command = err.split("continue with: ")[1]
    assert command == shlex.join(
        [sys.executable, "-m", "experiments.phase_diagram", *args, "--resume"]
    )
    assert (out / "checkpoints" / "ridge_simulation.zarr.partial").is_dir()
    root = Path(__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(command, shell=True, cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    resumed = sweep.load(out / "ridge.nc")
    assert sweep.load(out / "ridge.zarr").attrs["command"] == command
    assert (resumed["status"] == sweep.Status.OK).all() and np.isfinite(resumed["test_mse"]).all()
    assert not (out / "checkpoints" / "ridge_simulation.zarr.partial").exists()


def test_ctrl_c_after_overwrite_prints_a_resume_command_without_overwrite(
    monkeypatch, tmp_path, capsys
):
    fake_experiment(monkeypatch, fake_simulation)
    interrupt_simulations_after_one_chunk(monkeypatch)
    assert phase_diagram.main(["fake", "--out", str(tmp_path), "--overwrite"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"fake --out {tmp_path} --resume") and "--overwrite" not in err


def test_a_rerun_over_an_interrupted_run_needs_resume_or_overwrite(monkeypatch, tmp_path, capsys):
    fake_experiment(monkeypatch, fake_simulation)
    args = ["fake", "--out", str(tmp_path), "--seeds", "3", "--chunk-size", "2"]
    with monkeypatch.context() as patch:
        interrupt_simulations_after_one_chunk(patch)
        assert phase_diagram.main(args) == 130
    capsys.readouterr()
    partial = tmp_path / "checkpoints" / "fake_simulation.zarr.partial"
    assert phase_diagram.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "checkpoints/fake_simulation.zarr.partial" in err
    assert "--resume" in err and "--overwrite" in err
    assert partial.is_dir()  # nothing was discarded
    assert phase_diagram.main([*args, "--resume"]) == 0
    assert not partial.exists() and (tmp_path / "fake.nc").exists()


def test_chunk_size_auto_fits_the_chunk_to_memory_and_refuses_a_point_that_cannot_fit(
    monkeypatch, tmp_path, capsys
):
    fake_experiment(monkeypatch, fake_simulation)
    args = ["fake", "--out", str(tmp_path), "--seeds", "3", "--chunk-size", "auto"]
    assert phase_diagram.main(args) == 0
    assert sweep.load(tmp_path / "fake.nc").attrs["chunk_size"] == 6  # all 2 x 3 points fit
    monkeypatch.setattr(_chunking, "host_memory", lambda: 1.0)  # a host with 1 byte free
    assert phase_diagram.main([*args, "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "--chunk-size auto: one point per device needs about" in err
    assert err.endswith("give an integer --chunk-size to run it anyway")


def test_resume_into_a_folder_without_results_exits_2(monkeypatch, tmp_path, capsys):
    fake_experiment(monkeypatch, fake_simulation)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "fake_other_simulation.zarr").mkdir()  # not this experiment's
    monkeypatch.setitem(phase_diagram.EXPERIMENTS, "fake_other", "fake_experiment")
    assert phase_diagram.main(["fake", "--out", str(tmp_path), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "holds no fake results or checkpoints to continue" in err
    assert not (tmp_path / "fake.nc").exists()


def test_resume_from_an_unreadable_checkpoint_exits_2_naming_it(monkeypatch, tmp_path, capsys):
    fake_experiment(monkeypatch, fake_simulation)
    args = ["fake", "--out", str(tmp_path)]
    assert phase_diagram.main(args) == 0
    store = tmp_path / "checkpoints" / "fake_simulation.zarr"
    (store / "zarr.json").write_text("{")
    capsys.readouterr()
    assert phase_diagram.main([*args, "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"cannot resume from {str(store)!r}" in err
    assert "not a readable sweep store" in err and "--overwrite" in err
    with warnings.catch_warnings():  # a fresh store is not reported damaged (whatever its path)
        warnings.simplefilter("error", RuntimeWarning)
        assert phase_diagram.main([*args, "--overwrite"]) == 0


def test_resume_recomputes_a_deleted_checkpoint_chunk_and_names_it(monkeypatch, tmp_path):
    fake_experiment(monkeypatch, fake_simulation)
    args = ["fake", "--out", str(tmp_path), "--seeds", "4"]
    assert phase_diagram.main(args) == 0
    finished = sweep.load(tmp_path / "fake.nc")
    chunk = tmp_path / "checkpoints" / "fake_simulation.zarr" / "y" / "c" / "0" / "0"
    chunk.unlink()
    with pytest.warns(RuntimeWarning, match=f"recomputing 8 points.*{chunk} is missing"):
        assert phase_diagram.main([*args, "--resume"]) == 0
    resumed = sweep.load(tmp_path / "fake.nc")
    assert np.isfinite(resumed["y"]).all() and (resumed["status"] == sweep.Status.OK).all()
    np.testing.assert_array_equal(resumed["y"].values, finished["y"].values)


def scaling_on_its_exact_law(monkeypatch, tmp_path) -> tuple[list, list[str]]:
    """The scaling experiment with a simulation replaced by its law (no training): the widths
    it traced, and its CLI arguments at --quick on three training sizes."""
    from experiments import scaling

    traced = []

    def exact_law(params, key, *, config):  # the model's metrics, without training
        traced.append(params["width"])
        loss = 0.05 + 1 / scaling.n_params(params["width"]) ** 0.5 + 1 / params["n"] ** 0.5
        return {"test_loss": loss, "final_test_loss": loss, "train_loss": loss}

    monkeypatch.setattr(scaling, "simulate", exact_law)
    args = ["scaling", "--quick", "--out", str(tmp_path), "--seeds", "1", "--no-progress"]
    return traced, [*args, "--grid", "n=100,200,400"]


def test_a_fixed_E_at_or_above_the_least_loss_exits_2_with_one_line_naming_resume(
    monkeypatch, tmp_path, capsys
):
    from experiments import scaling

    traced, args = scaling_on_its_exact_law(monkeypatch, tmp_path)
    least = repr(0.05 + 1 / scaling.n_params(16) ** 0.5 + 1 / 400**0.5)

    def refused(E: str) -> None:
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"phase_diagram: error: --set E = {E}: ") and "\n" not in err
        assert f"must lie in [0, min(loss)) = [0, {least})" in err and "rerun with --resume" in err

    assert phase_diagram.main([*args, "--set", "E=0.5"]) == 2
    refused("0.5")
    assert (tmp_path / "checkpoints" / "scaling_simulation.zarr").is_dir()
    simulated = len(traced)
    assert phase_diagram.main([*args, "--set", "E=0.2", "--resume"]) == 2
    refused("0.2")
    assert len(traced) == simulated  # the stored simulation was reused, not rerun


def test_scaling_evaluates_its_float64_fit_without_truncating_it_to_float32(monkeypatch, tmp_path):
    # The CLI runs without jax_enable_x64 (the tests enable it): the fit is float64, and its
    # intervals, frontier and figures must be computed in float64 too, not truncated.
    from experiments import scaling

    _, args = scaling_on_its_exact_law(monkeypatch, tmp_path)
    monkeypatch.setattr(scaling, "N_BOOTSTRAP", 8)
    with jax.enable_x64(False), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert phase_diagram.main(args) == 0
    truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
    assert not truncated, truncated[:3]


def test_a_grid_axis_given_twice_exits_2(capsys):
    assert phase_diagram.main(["ridge", "--grid", "lam=1,2", "--grid", "lam=3,4"]) == 2
    assert "given twice" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["x=1,2,1", "x=1,nan"])
def test_repeated_or_non_finite_grid_values_exit_2(monkeypatch, spec, capsys):
    fake_experiment(monkeypatch, write_result)
    assert phase_diagram.main(["fake", "--grid", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("phase_diagram: error: axis 'x'") and "\n" not in err


def test_set_overrides_settings_with_the_type_of_the_default(monkeypatch, tmp_path, capsys):
    defaults = {"width": 32, "alpha": 1.5, "data": "chi", "P": (128, 256)}
    fake_experiment(monkeypatch, write_result, settings=lambda quick: dict(defaults))
    args = ["fake", "--out", str(tmp_path), "--set", "width=128", "--set", "P=64,512,1024"]
    assert phase_diagram.main([*args, "--set", "data=digits"]) == 0
    out = capsys.readouterr().out
    assert "'width': 128" in out and "'P': (64, 512, 1024)" in out and "'data': 'digits'" in out
    assert "'alpha': 1.5" in out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("depth=3", "has no setting 'depth'; its settings are width"),
        ("width=16.5", "width takes a int, e.g. width=32"),
        ("width", "expected NAME=VALUE"),
    ],
)
def test_bad_settings_exit_2_with_one_line(monkeypatch, spec, message, capsys):
    fake_experiment(monkeypatch, write_result, settings=lambda quick: {"width": 32})
    assert phase_diagram.main(["fake", "--set", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_resuming_a_changed_run_names_the_cli_flag(monkeypatch, tmp_path, capsys):
    def run_sweep(axes, options):
        ds = run_simulation(
            lambda p, key: {"y": p["x"] * jax.random.normal(key)},
            sweep.Grid(x=axes["x"]),
            options,
            "fake",
        )
        save_both(ds, options.out, "fake")
        return "done"

    fake_experiment(monkeypatch, run_sweep)
    assert phase_diagram.main(["fake", "--out", str(tmp_path)]) == 0
    assert phase_diagram.main(["fake", "--out", str(tmp_path), "--resume", "--grid", "x=1,5"]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "resume=False" not in err


def test_a_ratio_that_rounds_to_size_zero_or_collides_exits_2(capsys, tmp_path):
    for spec, message in (("n_over_d=0.001,1", "give sizes below 1"), ("n_over_d=1,1.001", "same")):
        args = ["ridge", "--quick", "--out", str(tmp_path), "--grid", spec]
        assert phase_diagram.main(args) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "spec"), [("ntk", "width=16,16.5"), ("ntk", "depth=0,2"), ("ntk_depth", "depth=1.5,2")]
)
def test_a_non_integer_width_or_depth_exits_2_instead_of_being_rounded(name, spec, capsys):
    assert phase_diagram.main([name, "--grid", spec]) == 2
    assert "values must be integers" in capsys.readouterr().err


# --- usage errors: one line, exit 2, before JAX is imported and before any compute ---------

BAD_COMMAND_LINES = [
    (["halpern", "--grid", "n=16.5,64"], "--grid n: values must be integers >= 1"),
    (["krr_digits", "--grid", "n=0,16"], "--grid n: values must be integers in [1, 1796]"),
    (["krr_digits", "--grid", "n=5000"], "--grid n: values must be integers in [1, 1796]"),
    (["krr_digits", "--grid", "n=16,16.2"], "--grid n: values must be integers in [1, 1796]"),
    (["krr_digits", "--grid", "n=16,16.0000000001"], "--grid n: the value 16 is given twice"),
    (["sgd_noise", "--set", "data=nope"], "--set data: comma-separated distinct names"),
    (["sgd_noise", "--set", "chi=-1"], "--set chi: chi must be > -1"),
    (["sgd_noise", "--set", "batch=100000"], "--set batch=100000: must be <= every"),
    (["sgd_noise", "--set", "diagram_P=-5"], "--set diagram_P: 0 (no phase diagram) or"),
    (["sgd_noise", "--set", "P=128,128"], "--set P: values must be distinct"),
    (["perceptron", "--grid", "chi=-1,0"], "--grid chi: chi must be > -1"),
    (["perceptron", "--grid", "P=1,64"], "--grid P: values must be >= batch = 2"),
    (["ntk_depth", "--grid", "depth=1000000000"], "--grid depth: values must be integers in"),
    (["scaling", "--grid", "n=0,100"], "--grid n: values must be integers in [1, 1200]"),
    (["gossip", "--grid", "Q=1,2.5"], "--grid Q: values must be integers >= 1"),
    (["ridge", "--grid", "lam=1e-300,1e300"], "--grid lam: values must lie in [1e-12, 1e+12]"),
    (["rf", "--grid", "ridge=1e-300,1"], "--grid ridge: values must lie in [1e-12, 1e+12]"),
    (["gossip", "--grid", "Q=1,1000000000"], "--grid Q=1,1000000000: the run would do about"),
    (["ntk", "--grid", "width=10000000"], "--grid width=10000000: the run needs about"),
    (["perceptron", "--set", "d=100000000"], "--set d=100000000: the run needs about"),
    (["halpern", "--grid", "n=16,1000000000"], "--grid n=16,1000000000: the run needs about"),
    (["lr_batch", "--seeds", "100000"], "--seeds 100000: the run would do about"),
    (["ridge", "--seeds", "99999999999999999999"], "--seeds must be an integer in [1, 1,000,000]"),
    (["ridge", "--seeds", "0"], "--seeds must be an integer in [1, 1,000,000]"),
    (["ridge", "--chunk-size", "9" * 20], "--chunk-size must be an integer in [1, 1,048,576]"),
    (["ridge", "--grid", "lam=1:2:9999999999"], "NUM must be in [1, 100000]"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_COMMAND_LINES)
def test_a_bad_command_line_exits_2_with_one_line_naming_the_flag(argv, message, capsys, tmp_path):
    assert phase_diagram.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("phase_diagram: error: ") and "\n" not in err
    assert message in err
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_usage_errors_are_reported_without_importing_jax(tmp_path):
    script = (
        "import sys\n"
        "from experiments import phase_diagram\n"
        f"cases = {[argv for argv, _ in BAD_COMMAND_LINES]!r}\n"
        f"codes = [phase_diagram.main([*argv, '--out', {str(tmp_path)!r}]) for argv in cases]\n"
        "codes.append(phase_diagram.main(['--list']))\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'jax', 'theorytk', 'xarray'})\n"
        "print(codes, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == f"{[2] * len(BAD_COMMAND_LINES) + [0]} []"


def test_allow_large_lifts_the_work_limit_but_not_the_memory_limit():
    parser = phase_diagram.build_parser()
    spec = phase_diagram.SPECS["gossip"]
    large = parser.parse_args(["gossip", "--grid", "Q=1,100000", "--allow-large"])
    assert phase_diagram.checked_run(spec, large).axes["Q"].max() == 100000
    with pytest.raises(UsageError, match="--allow-large"):
        phase_diagram.checked_run(spec, parser.parse_args(["gossip", "--grid", "Q=1,100000"]))
    huge = parser.parse_args(["ntk", "--grid", "width=10000000", "--allow-large"])
    with pytest.raises(UsageError, match="of memory"):
        phase_diagram.checked_run(phase_diagram.SPECS["ntk"], huge)


def test_every_default_and_quick_run_passes_its_own_checks_and_cost_limits():
    parser = phase_diagram.build_parser()
    for name, spec in phase_diagram.SPECS.items():
        for flags in ([], ["--quick"]):
            run = phase_diagram.checked_run(spec, parser.parse_args([name, *flags]))
            assert run.axes.keys() == spec.axes(False).keys()


def test_the_experiment_api_applies_the_spec_checks(tmp_path):
    from experiments import krr_digits

    options = Options(tmp_path, seeds=1, chunk_size=8, resume=False, quick=True)
    with pytest.raises(UsageError, match="--grid n: values must be integers in"):
        krr_digits.EXPERIMENT.run({"n": np.array([16.0, 16.2])}, options)


def test_list_shows_each_experiments_axes_with_their_defaults_and_settings(capsys):
    assert phase_diagram.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "--grid n_over_d=0.2:5:24:log; lam=0.0001:10:24:log" in out
    assert "--grid width=16:512:6:log; depth=1:8:4:log" in out
    assert "--set batch=2 d=16 budget=2000000" in out
    # Counts are listed as the integers --set takes, not as floats.
    assert "--set game_epochs=5000 quadratic_epochs=2000" in out
    for name, spec in phase_diagram.SPECS.items():
        block = out.split(name, 1)[1]
        assert all(f"{axis}=" in block for axis in spec.axes(False))


@pytest.mark.parametrize(
    "argv", [["--seeds", "1.5"], ["--chunk-size", "x"], ["--no-such-option"], ["a", "b"]]
)
def test_an_option_argparse_rejects_is_one_line_with_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        phase_diagram.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("phase_diagram: error: ") and "\n" not in err


def test_help_states_a_measured_quick_time_for_every_experiment(capsys):
    with pytest.raises(SystemExit):
        phase_diagram.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "load average" in text
    for name in phase_diagram.EXPERIMENTS:
        wall, _ = phase_diagram.QUICK_SECONDS[name]
        assert f"{name} {wall} s" in text
