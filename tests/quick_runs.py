"""Run an experiment at --quick through the command line and read its saved dataset back.

The experiment tests share this helper, so a regression in a model, its analysis or the CLI
shows up as a failing scientific assertion, not as a silently changed docs number.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from experiments import phase_diagram


def run_quick(name: str, out: Path, *extra: str) -> xr.Dataset:
    """`python -m experiments.phase_diagram NAME --quick --out OUT EXTRA...`; its `NAME.nc`."""
    argv = [name, "--quick", "--no-progress", "--out", str(out), *extra]
    assert phase_diagram.main(argv) == 0
    assert (out / f"{name}.png").stat().st_size > 0
    return xr.load_dataset(out / f"{name}.nc")


def run_default(name: str, out: Path, *extra: str) -> xr.Dataset:
    """`python -m experiments.phase_diagram NAME --out OUT EXTRA...` (the full-size default
    run); its `NAME.nc`."""
    argv = [name, "--no-progress", "--out", str(out), *extra]
    assert phase_diagram.main(argv) == 0
    return xr.load_dataset(out / f"{name}.nc")
