"""A sweep run in a separate process: several forced CPU devices, or one of several hosts.

python tests/sweep_worker.py OUT.nc --devices 4 [--loop]
python tests/sweep_worker.py OUT.nc --process-id 0 --num-processes 2 --port 12345

--loop sweeps the refillable random walk `walk` in refilled lanes instead of `noisy_response`;
--solve sweeps `two_solves` (batched LAPACK calls: the jaxlib 0.10 CPU deadlock) instead.
--chunk-size N|auto [--memory-limit BYTES] sizes the chunks; --store PATH [--resume] writes
(or resumes) a progress store; the result's attrs then record
the chunks this process computed.
"""

from __future__ import annotations

import argparse

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


def two_solves(params, key):
    """Two independent ridge solves per point: batched LAPACK calls under vmap."""
    import jax
    import jax.numpy as jnp

    total = 0.0
    for j in range(2):
        a = jax.random.normal(jax.random.fold_in(key, j), (60, 40))
        gram = a.T @ a + params["scale"] * jnp.eye(40)
        total = total + jnp.linalg.solve(gram, a.T @ jnp.ones(60)).sum()
    return {"response": total}


def solve_grid():
    from theorytk import sweep

    return sweep.Grid(scale=sweep.geomspace(0.1, 10.0, 8), seed=range(64))


def worker_grid():
    from theorytk import sweep

    return sweep.Grid(
        scale=sweep.geomspace(0.1, 10.0, 6), shift=np.linspace(-1, 1, 5), seed=range(3)
    )


THRESHOLD = 3.0
WALK_LANES = 3


def walk_loop(budget: int):
    """A random walk x_{n+1} = x_n + drift + N(0, 1) from x_0 = start until x >= THRESHOLD.

    Its increments come from fold_in(key, n), so a walk's path does not depend on the lane or
    the batch it runs in. Run lengths range from 0 (start >= THRESHOLD) to the budget.
    """
    import jax
    import jax.numpy as jnp

    from theorytk import sweep

    def init(params, key):
        start = jnp.asarray(params["start"])
        return (params["drift"], key), start

    def step(data, x, n):
        drift, key = data
        return x + drift + jax.random.normal(jax.random.fold_in(key, n), (), x.dtype)

    def stopped(data, x):
        return x >= THRESHOLD

    def finish(data, result):
        return {"end": result.state, "steps": result.steps, "status": result.status}

    return sweep.Loop(init, step, stopped, finish, budget=budget, segment=4)


def walk_grid():
    from theorytk import sweep

    return sweep.Grid(drift=[-0.2, 0.0, 0.1, 0.5, 2.0], start=[-3.0, 0.0, 2.5, 3.5], seed=range(3))


def make_walk():
    from theorytk import sweep

    @sweep.refillable(lambda config: walk_loop(config))
    def walk(params, key, *, config):
        """The walk of `walk_loop(config)` (config: the step budget)."""
        return sweep.run_loop(walk_loop(config), params, key)

    return walk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--port", type=int)
    parser.add_argument("--loop", action="store_true")
    parser.add_argument("--solve", action="store_true")
    parser.add_argument("--chunk-size", type=lambda s: s if s == "auto" else int(s), default=11)
    parser.add_argument("--memory-limit", type=int)
    parser.add_argument("--store")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    import jax

    # the device count, before JAX's first computation; a user's XLA_FLAGS are kept
    jax.config.update("jax_num_cpu_devices", args.devices)
    jax.config.update("jax_enable_x64", True)
    if args.num_processes:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    from theorytk import sweep

    if args.num_processes:
        sweep.initialize_distributed(
            f"127.0.0.1:{args.port}", args.num_processes, args.process_id, timeout=120
        )

    computed = []
    options = dict(
        key=jax.random.key(7),
        chunk_size=args.chunk_size,
        progress=False,
        store=args.store,
        resume=args.resume,
        on_chunk=lambda info: computed.append(info.chunk),
    )
    if args.memory_limit:
        options["memory_limit"] = args.memory_limit
    # the suite's threefry lowering (tests/conftest.py): results compare bitwise with its runs
    with sweep.unrolled_threefry():
        if args.loop:
            ds = sweep.run(make_walk(), walk_grid(), config=40, lanes=WALK_LANES, **options)
        elif args.solve:
            ds = sweep.run(two_solves, solve_grid(), **options)
        else:
            ds = sweep.run(noisy_response, worker_grid(), **options)
    ds.attrs["computed_chunks"] = ",".join(map(str, computed))
    ds.attrs["n_devices"] = len(jax.devices())
    ds.attrs["n_local_devices"] = len(jax.local_devices())
    ds.attrs["process_count"] = jax.process_count()
    sweep.save(ds, args.out)
    if args.num_processes:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
