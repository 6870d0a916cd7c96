"""What `chunk_size="auto"` chooses, and what choosing costs, as the memory limit tightens.

    python benchmarks/auto_chunk.py [--limits 0 20e6 4e6 1e6]

The swept function is `two_solves` of `tests/sweep_worker.py` (two 40 x 40 ridge solves
per point, float64) on its 512-point grid. For each `memory_limit` (0: the host's
available memory) it prints the chunk chosen and the wall and CPU time of the whole sweep
(compilations included, nothing reused from an earlier run in the process), then the same
for the sweep with that chunk given as an integer (one compilation). The last line is the
ratio of the two CPU times at the tightest limit: the cost of the extra compilations
`auto` needs when the grid does not fit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sweep_worker import solve_grid, two_solves  # noqa: E402

from theorytk import sweep  # noqa: E402
from theorytk.sweep import _execute  # noqa: E402


def timed(**options) -> tuple[float, float, object]:
    _execute._COMPILED.clear()  # every run compiles afresh
    wall, cpu = time.perf_counter(), time.process_time()
    ds = sweep.run(two_solves, solve_grid(), key=jax.random.key(0), progress=False, **options)
    return time.perf_counter() - wall, time.process_time() - cpu, ds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", type=float, nargs="+", default=[0, 20e6, 4e6, 1e6])
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    ratio = 1.0
    for limit in args.limits:
        limit = int(limit) or None
        wall, cpu, auto = timed(memory_limit=limit)
        chunk = auto.attrs["chunk_size"]
        fixed_wall, fixed_cpu, fixed = timed(chunk_size=chunk)
        same = np.allclose(auto["response"], fixed["response"], rtol=1e-12)
        shown = "host memory" if limit is None else f"{limit / 1e6:g} MB"
        print(
            f"memory_limit {shown:>12}: chunk {chunk:4d}; auto {wall:5.2f} s wall "
            f"{cpu:5.2f} s CPU, chunk_size={chunk} {fixed_wall:5.2f} s wall {fixed_cpu:5.2f} "
            f"s CPU; same results: {same}"
        )
        ratio = cpu / fixed_cpu
    print(f"CPU time of auto over the explicit chunk at the tightest limit: {ratio:.1f}x")


if __name__ == "__main__":
    main()
