"""Provenance of a sweep result: config, versions, git revision, devices, and a fingerprint."""

from __future__ import annotations

import functools
import hashlib
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._function import MetricSpec, SweptFunction
from ._grid import Grid


def provenance(
    config: Any,
    swept: SweptFunction,
    grid: Grid,
    key: jax.Array,
    chunk_size: int | str,
    spec: MetricSpec,
) -> dict[str, Any]:
    """Attrs for a sweep result. `fingerprint` identifies the sweep for resuming.

    The fingerprint covers what determines the results: the traced computation of the
    function (`MetricSpec.computation`, a digest of its jaxpr and constants), its config,
    the grid, the key and the metrics. It leaves out the chunk size and the devices, which
    do not change any point's result.
    """
    attrs = {
        "function": swept.name,
        "computation": spec.computation,
        "config": repr(config),
        "static_axes": ",".join(a.name for a in grid.static_axes),
        "key": _key_text(key),
        "chunk_size": chunk_size if isinstance(chunk_size, str) else int(chunk_size),
        "n_devices": jax.device_count(),
        "n_processes": jax.process_count(),
        "backend": jax.default_backend(),
        "theorytk_version": _version("theorytk"),
        "jax_version": jax.__version__,
        "git_revision": git_revision(),
    }
    digest = hashlib.sha256()
    for name in ("computation", "config", "static_axes", "key"):
        digest.update(f"{name}={attrs[name]};".encode())
    for axis in grid.axes:
        digest.update(f"{axis.name}:{axis.values.dtype}:".encode() + axis.values.tobytes())
    digest.update(repr(sorted((k, str(v)) for k, v in spec.dtypes.items())).encode())
    attrs["fingerprint"] = digest.hexdigest()
    return attrs


def _key_text(key: jax.Array) -> str:
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return ",".join(str(int(v)) for v in np.asarray(key).ravel())


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def git_revision() -> str:
    """The git commit of the theorytk source tree, or 'unknown' outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()
