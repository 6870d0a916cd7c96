"""Reductions over replicate (seed) axes."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._function import SEED_AXIS
from ._status import Status


def seed_mean(ds: xr.Dataset, dim: str = SEED_AXIS) -> xr.Dataset:
    """Mean and standard error of every metric over `dim`, using only points with status OK.

    For each metric v the result holds `v` (mean over OK seeds) and `v_sem` (sample standard
    deviation / sqrt(n_ok), NaN when n_ok < 2), plus `n_ok`, and `status`, the largest status
    over `dim` (so a cell with any failed seed is flagged, while its mean uses the rest).
    """
    if dim not in ds.dims:
        raise ValueError(f"seed_mean: no dimension {dim!r}; dimensions are {list(ds.dims)}")
    if "status" not in ds:
        raise ValueError("seed_mean needs a `status` variable (a result of theorytk.sweep.run)")
    ok = ds["status"] == Status.OK
    n_ok = ok.sum(dim)
    out = {"n_ok": n_ok, "status": ds["status"].max(dim)}
    for name, var in ds.data_vars.items():
        if name == "status" or dim not in var.dims or not np.issubdtype(var.dtype, np.number):
            continue
        kept = var.where(ok)
        out[name] = kept.mean(dim)
        out[f"{name}_sem"] = kept.std(dim, ddof=1) / np.sqrt(n_ok.where(n_ok >= 2))
    return xr.Dataset(out, attrs=ds.attrs)
