"""Sharded gossip (ppermute ring, sharded matmul) equals the single-device run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jax
import optax
import pytest

from theorytk import gossip

WORKER = Path(__file__).with_name("sharded_worker.py")


def test_sharded_runs_on_4_devices_equal_single_device_runs():
    # a subprocess with a timeout: the forced device count needs a fresh JAX, and a hang fails
    done = subprocess.run(
        [sys.executable, str(WORKER)], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.split("\n")
    rows = [line.split() for line in lines if line.strip()]
    assert len(rows) == 4
    for topology, method, dx, dc, c_max in rows:
        # same arithmetic up to reassociation of sums of <= 16 terms over 60 steps: float64
        # rounding ~ 60 * 16 * 2.2e-16 * |x| with |x| = O(1): 1e-12 is a wide bound.
        assert float(dx) < 1e-12, (topology, method, dx)
        assert float(dc) < 1e-12 * max(1.0, float(c_max)), (topology, method, dc)


def test_sharded_run_refuses_a_node_count_the_devices_do_not_divide():
    mesh = jax.make_mesh((1,), ("nodes",))
    problem = gossip.random_quadratic(jax.random.key(0), 6, 2)
    with pytest.raises(ValueError, match=r"\(6, 6\)"):
        gossip.run_sharded(
            lambda p, mix: gossip.dsgd(p, mix, optax.sgd(0.1)),
            problem,
            problem.init_nodes(jax.random.key(1)),
            jax.random.key(2),
            steps=3,
            mesh=mesh,
            mixing=gossip.metropolis_hastings(gossip.ring(5)),
        )
