"""Run D-SGD and gradient tracking with 16 nodes on 4 forced CPU devices and on one device.

Prints the largest absolute differences; run by test_sharding.py in a subprocess (the device
count must be set before JAX starts).
"""

from __future__ import annotations

import jax
import numpy as np
import optax

# four CPU devices, before JAX's first computation; a user's XLA_FLAGS are kept
jax.config.update("jax_num_cpu_devices", 4)
jax.config.update("jax_enable_x64", True)

from theorytk import gossip  # noqa: E402


def main() -> None:
    assert len(jax.devices()) == 4
    mesh = jax.make_mesh((4,), ("nodes",))
    problem = gossip.random_quadratic(jax.random.key(0), 16, 3, noise=0.3)
    x0 = jax.random.normal(jax.random.key(1), (16, 3))
    key = jax.random.key(2)
    builds = {
        "dsgd": lambda p, mix: gossip.dsgd(p, mix, optax.sgd(0.05), stochastic=True),
        "gt": lambda p, mix: gossip.gradient_tracking(p, mix, 0.01, stochastic=True),
    }
    metrics = lambda s: {"c": gossip.consensus_error(s.x)}  # noqa: E731
    for topology, mixing in (
        ("ring", "ring"),
        ("exponential", gossip.metropolis_hastings(gossip.exponential(16))),
    ):
        w = gossip.metropolis_hastings(gossip.ring(16)) if topology == "ring" else mixing
        for name, build in builds.items():
            x, trace = gossip.run_sharded(
                build, problem, x0, key, steps=60, mesh=mesh, mixing=mixing
            )
            state, single = gossip.run(
                build(problem, gossip.as_stack(w)), x0, key, steps=60, metrics=metrics
            )
            dx = np.abs(np.asarray(x) - np.asarray(state.x)).max()
            dc = np.abs(np.asarray(trace) - np.asarray(single["c"])).max()
            print(f"{topology} {name} {dx:.3e} {dc:.3e} {float(single['c'].max()):.3e}")


if __name__ == "__main__":
    main()
