"""The sweep engine: grids of named axes, swept in compiled, vectorised chunks.

from theorytk import sweep
grid = sweep.Grid(ridge=sweep.geomspace(1e-4, 10, 32), seed=range(8))
ds = sweep.run(simulate, grid, key=jax.random.key(0), config=config)
"""

from ._chunking import ChunkMemoryError
from ._distributed import initialize_distributed
from ._domain import (
    NONNEGATIVE,
    NONNEGATIVE_INTEGER,
    POSITIVE,
    POSITIVE_INTEGER,
    UNIT_INTERVAL,
    Constraint,
    GridError,
    domain,
    integers_in,
    param_domain,
    valid_params,
)
from ._grid import Axis, Grid, StaticValues, geomspace, linspace, static
from ._loop import Loop, LoopResult, refillable, reparametrise, run_loop, run_until_stopped
from ._reduce import seed_mean
from ._run import DEFAULT_LANES, ChunkInfo, run
from ._status import Status
from ._store import ResumeError, load, save
from ._threefry import unrolled_threefry

__all__ = [
    "DEFAULT_LANES",
    "NONNEGATIVE",
    "NONNEGATIVE_INTEGER",
    "POSITIVE",
    "POSITIVE_INTEGER",
    "UNIT_INTERVAL",
    "Constraint",
    "Axis",
    "ChunkInfo",
    "ChunkMemoryError",
    "Grid",
    "GridError",
    "Loop",
    "LoopResult",
    "ResumeError",
    "StaticValues",
    "Status",
    "domain",
    "geomspace",
    "initialize_distributed",
    "integers_in",
    "linspace",
    "load",
    "param_domain",
    "refillable",
    "reparametrise",
    "run",
    "run_loop",
    "run_until_stopped",
    "save",
    "seed_mean",
    "static",
    "unrolled_threefry",
    "valid_params",
]
