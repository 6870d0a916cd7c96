"""Peak memory of a sweep does not grow with the grid: 10^4 vs 10^6 points, same chunk size.

    python benchmarks/sweep_memory.py [--chunk-size 4096]

Each grid runs in a fresh process (peak RSS is per process); prints both peaks and their
ratio. Target: ratio < 1.5 (the results themselves, a few bytes per point, are the only
thing that grows).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def cheap(params, key):
    import jax
    import jax.numpy as jnp

    x = jax.random.normal(key, (64,)) * params["scale"]
    return {"mean_sq": jnp.mean(x**2), "max": jnp.max(x)}


def measure(n_points: int, chunk_size: int) -> dict:
    import jax
    import numpy as np

    from theorytk import sweep

    side = int(round(n_points**0.5))
    grid = sweep.Grid(scale=np.geomspace(0.1, 10.0, side), seed=range(n_points // side))
    start = time.perf_counter()
    ds = sweep.run(cheap, grid, key=jax.random.key(0), chunk_size=chunk_size, progress=False)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"points": int(ds["mean_sq"].size), "seconds": seconds, "peak_rss_mib": peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunk-size", type=int, default=4096)
    parser.add_argument("--points", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.points:
        print(json.dumps(measure(args.points, args.chunk_size)))
        return
    rows = []
    for points in (10**4, 10**6):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--points",
                str(points),
                "--chunk-size",
                str(args.chunk_size),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for row in rows:
        print(
            f"{row['points']:>9,d} points: peak RSS {row['peak_rss_mib']:7.1f} MiB, "
            f"{row['seconds']:6.2f} s ({row['points'] / row['seconds']:,.0f} points/s)"
        )
    ratio = rows[1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    verdict = "meets" if ratio < 1.5 else "MISSES"
    print(f"peak RSS ratio 10^6 / 10^4 = {ratio:.3f} ({verdict} the target < 1.5)")


if __name__ == "__main__":
    main()
