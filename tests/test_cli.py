"""The phase-diagram CLI: defaults, overrides, one-line errors with exit code 2."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import phase_diagram
from theorytk import sweep


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
    assert "has no axis 'width'" in err and "n_over_d, ridge" in err


def test_a_grid_value_the_model_rejects_exits_2(capsys, tmp_path):
    assert (
        phase_diagram.main(["ridge", "--quick", "--out", str(tmp_path), "--grid", "ridge=-1,1"])
        == 2
    )
    assert "ridge" in capsys.readouterr().err


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
        "ridge=1e-3:1:3:log",
    ]
    assert phase_diagram.main(args) == 0
    out = capsys.readouterr().out
    assert "ridge.png" in out and "theory vs simulation" in out
    assert (tmp_path / "ridge.png").stat().st_size > 10_000
    ds = sweep.load(tmp_path / "ridge.nc")
    xr_zarr = sweep.load(tmp_path / "ridge.zarr")
    assert ds.sizes == {"n_over_d": 3, "ridge": 3, "seed": 2}
    assert set(ds.data_vars) >= {"test_mse", "theory_test_mse", "status"}
    np.testing.assert_array_equal(ds["test_mse"].values, xr_zarr["test_mse"].values)
    assert phase_diagram.main([*args, "--resume"]) == 0
    again = sweep.load(tmp_path / "ridge.nc")
    np.testing.assert_array_equal(again["test_mse"].values, ds["test_mse"].values)
