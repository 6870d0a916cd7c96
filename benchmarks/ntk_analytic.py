"""Analytic NNGP + NTK of a deep ReLU network: theorytk vs neural-tangents 0.6.5, side by side.

    python benchmarks/ntk_analytic.py                       # theorytk only
    NT_PYTHON=/work/nt-venv/bin/python python benchmarks/ntk_analytic.py

Depth-5 ReLU network, sigma_w = sqrt(2), sigma_b = 0.1, the symmetric 2000 x 2000 Gram of
inputs of dimension 100 (x2 = None), float32. Both libraries are timed after a warm-up
compile, `--repeats` times each, in alternating rounds (so a load spike on the shared machine
hits both); neural-tangents runs in a subprocess of the venv named by NT_PYTHON (it needs
jax 0.4.23). Prints min and median wall time, the speed-up (target >= 3x), and the float32
accuracy of both against theorytk's float64 result (rel. error = max |K32 - K64| / max |K64|).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time

import jax

jax.config.update("jax_enable_x64", True)  # float64 reference; the timed runs are float32

import numpy as np  # noqa: E402

from theorytk.kernels import mlp_kernels  # noqa: E402

_NT_SCRIPT = r"""
import json, sys, time
import numpy as np, jax
from neural_tangents import stax
depth, sigma_w, sigma_b, repeats, path = sys.argv[1:6]
depth, repeats = int(depth), int(repeats)
layers = []
for _ in range(depth):
    layers += [stax.Dense(1, W_std=float(sigma_w), b_std=float(sigma_b)), stax.Relu()]
layers.append(stax.Dense(1, W_std=float(sigma_w), b_std=float(sigma_b)))
kernel_fn = jax.jit(stax.serial(*layers)[2], static_argnames="get")
x = np.load(path)
out = jax.block_until_ready(kernel_fn(x, None, ("nngp", "ntk")))
np.save(path + ".nt.npy", np.stack([np.asarray(k) for k in out]))
print("READY", flush=True)
for line in sys.stdin:
    times = []
    for _ in range(int(line)):
        start = time.perf_counter()
        jax.block_until_ready(kernel_fn(x, None, ("nngp", "ntk")))
        times.append(time.perf_counter() - start)
    print(json.dumps(times), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sigma_w, sigma_b = float(np.sqrt(2.0)), 0.1
    x = np.random.default_rng(0).standard_normal((args.n, args.d)).astype(np.float32)
    kernel = jax.jit(
        functools.partial(
            mlp_kernels, depth=args.depth, activation="relu", sigma_w=sigma_w, sigma_b=sigma_b
        )
    )
    ours32 = jax.block_until_ready(kernel(x))
    ref64 = kernel(x.astype(np.float64))
    nt = _start_nt(x, args, sigma_w, sigma_b)
    timings: dict[str, list[float]] = {"theorytk": [], "neural-tangents": []}
    for _ in range(args.rounds):
        timings["theorytk"] += _time(lambda: jax.block_until_ready(kernel(x)), args.repeats)
        if nt is not None:
            nt[0].stdin.write(f"{args.repeats}\n")
            nt[0].stdin.flush()
            timings["neural-tangents"] += json.loads(nt[0].stdout.readline())
    print(
        f"NNGP+NTK, depth-{args.depth} ReLU, sigma_w = sqrt(2), sigma_b = {sigma_b}, "
        f"{args.n} x {args.n} inputs of dim {args.d}, float32; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'':16s} {'min':>9s} {'median':>9s}   max rel. error vs float64 (nngp, ntk)")
    results = {"theorytk": ours32}
    if nt is not None:
        results["neural-tangents"] = nt[1]()
    for name, times in timings.items():
        if not times:
            continue
        errors = ", ".join(
            f"{_rel_error(a, b):.1e}" for a, b in zip(results[name], ref64, strict=True)
        )
        print(f"{name:16s} {min(times) * 1e3:7.1f}ms {np.median(times) * 1e3:7.1f}ms   {errors}")
    if nt is None:
        print("set NT_PYTHON to a python with neural-tangents 0.6.5 to time it side by side")
        return
    nt[0].stdin.close()
    ratio_min = min(timings["neural-tangents"]) / min(timings["theorytk"])
    ratio_med = np.median(timings["neural-tangents"]) / np.median(timings["theorytk"])
    verdict = "meets" if min(ratio_min, ratio_med) >= 3 else "MISSES"
    print(
        f"speed-up over neural-tangents: {ratio_min:.1f}x (min), {ratio_med:.1f}x (median) "
        f"({verdict} the target >= 3x)"
    )


def _time(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _rel_error(a: jax.Array, b: jax.Array) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _start_nt(x: np.ndarray, args: argparse.Namespace, sigma_w: float, sigma_b: float):
    """(process, results loader) of the neural-tangents timing subprocess, or None."""
    python = os.environ.get("NT_PYTHON")
    if not python:
        return None
    path = os.path.join(tempfile.mkdtemp(), "x.npy")
    np.save(path, x)
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    cmd = [python, "-c", _NT_SCRIPT, str(args.depth), str(sigma_w), str(sigma_b), "0", path]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd="/"
    )
    if proc.stdout.readline().strip() != "READY":
        sys.exit("neural-tangents subprocess failed to start")
    return proc, lambda: np.load(path + ".nt.npy")


if __name__ == "__main__":
    main()
