"""A sweep run in a separate process: several forced CPU devices, or one of several hosts.

python tests/sweep_worker.py OUT.nc --devices 4
python tests/sweep_worker.py OUT.nc --process-id 0 --num-processes 2 --port 12345
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def noisy_response(params, key):
    """Random draws and a nonlinear function of them: sensitive to any key mix-up."""
    import jax
    import jax.numpy as jnp

    draws = jax.random.normal(key, (16,))
    return {
        "draw": draws[0],
        "response": params["scale"] * jnp.sum(jnp.tanh(draws * params["shift"])),
    }


def worker_grid():
    from theorytk import sweep

    return sweep.Grid(
        scale=sweep.geomspace(0.1, 10.0, 6), shift=np.linspace(-1, 1, 5), seed=range(3)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
    import jax

    jax.config.update("jax_enable_x64", True)
    if args.num_processes:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{args.port}",
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    from theorytk import sweep

    ds = sweep.run(
        noisy_response, worker_grid(), key=jax.random.key(7), chunk_size=11, progress=False
    )
    ds.attrs["n_devices"] = len(jax.devices())
    ds.attrs["n_local_devices"] = len(jax.local_devices())
    ds.attrs["process_count"] = jax.process_count()
    sweep.save(ds, args.out)
    if args.num_processes:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
