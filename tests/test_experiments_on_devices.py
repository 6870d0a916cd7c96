"""Every experiment's --quick run on 4 forced host devices finishes and equals 1 device.

Each run is a fresh process (the device count is fixed when jax starts), with a timeout so
a hang (the jaxlib 0.10 batched-LAPACK deadlock, see docs/sweep.md) fails instead of
blocking the suite. The 1- and 4-device runs go side by side.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments.phase_diagram import EXPERIMENTS, load_experiment
from theorytk import sweep

TIMEOUT = 900  # s, per run; the slowest --quick run takes about 80 s on a quiet 2-core CPU
# SGD at the edge of stability is chaotic: float32 rounding differences between device layouts
# grow to O(1) in the final loss (measured: lr_batch at lr >= 5, B = 64, 9 of 150 points off
# by up to 34% while every other point agrees to 1e-6). The comparison keeps to stable steps.
EXTRA_ARGS = {"lr_batch": ["--grid", "lr=0.03:2:8:log"]}
# The NTK drift under GD is a small difference of two kernels: in float32 its rounding between
# device layouts reaches 1.5% (measured); in float64 the layouts agree to the test's rtol.
EXTRA_ENV = {"ntk": {"JAX_ENABLE_X64": "1"}}


def start(name: str, out: Path, devices: int) -> subprocess.Popen:
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": str(devices)}  # a user's XLA_FLAGS are kept
    env.update(EXTRA_ENV.get(name, {}))
    command = [sys.executable, "-m", "experiments.phase_diagram", name, "--quick"]
    command += EXTRA_ARGS.get(name, [])
    return subprocess.Popen(
        [*command, "--no-progress", "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).parents[1],
    )


def finish(proc: subprocess.Popen, what: str) -> str:
    try:
        log, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{what} did not finish within {TIMEOUT} s (hung?)")
    assert proc.returncode == 0, log
    return log


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_quick_run_on_four_devices_equals_one_device(name, tmp_path):
    one, four = start(name, tmp_path / "one", 1), start(name, tmp_path / "four", 4)
    finish(one, f"{name} on 1 device")
    finish(four, f"{name} on 4 devices")
    files = sorted(p.name for p in (tmp_path / "one").glob("*.nc"))
    assert files, f"{name} wrote no .nc file"
    for file in files:
        a, b = sweep.load(tmp_path / "one" / file), sweep.load(tmp_path / "four" / file)
        assert b.attrs.get("n_devices") == "4", file
        assert set(a.data_vars) == set(b.data_vars)
        for var in a.data_vars:
            # the same points with the same keys; float32 work may be reassociated when the
            # per-device batch differs, so agreement is to float32 rounding, NaN where NaN
            np.testing.assert_allclose(
                b[var].values, a[var].values, rtol=2e-5, atol=1e-7, err_msg=f"{file}:{var}"
            )


def test_every_experiment_is_listed_with_a_summary():
    for name in EXPERIMENTS:
        assert load_experiment(name).summary
