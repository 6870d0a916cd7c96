"""Analytic NNGP + NTK of a deep ReLU network: theorytk vs neural-tangents 0.6.5, side by side.

    python benchmarks/ntk_analytic.py                       # theorytk only
    NT_PYTHON=/work/nt-venv/bin/python python benchmarks/ntk_analytic.py
    python benchmarks/ntk_analytic.py --split --repeats 20 --rounds 4   # per-layer vs fixed
    python benchmarks/ntk_analytic.py --profile --repeats 20            # per compiled kernel

Depth-5 ReLU network, sigma_w = sqrt(2), sigma_b = 0.1, the symmetric 2000 x 2000 Gram of
inputs of dimension 100 (x2 = None), float32. Both libraries are timed after a warm-up
compile, `--repeats` times each, in alternating rounds (so a load spike on the shared machine
hits both); neural-tangents runs in a subprocess of the venv named by NT_PYTHON, made with

    python3 -m venv /work/nt-venv && /work/nt-venv/bin/pip install "neural-tangents==0.6.5" \
        "jax==0.4.23" "jaxlib==0.4.23" "numpy<2" "scipy<1.13" "ml-dtypes<0.5" "tensorflow==2.15.1"

Prints min and median wall and CPU time of both (CPU time: all threads of the process), the
float32 accuracy of both against theorytk's float64 result (rel. error = max |K32 - K64| /
max |K64|), a roofline estimate of the theorytk computation at this machine's rates measured
in the same run, the speed-up in min wall, median wall and min CPU time, and last the smallest
of the three (target >= 10x; on a loaded machine a short call more often escapes preemption,
which favours its min wall time, hence the conservative headline). Measured runs, and what
limits the headline on a quiet machine (the median wall time): docs/ntk.md, section 1.
"""

from __future__ import annotations

import argparse
import collections
import functools
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

if "--profile" in sys.argv:  # per-kernel trace events; XLA reads its flags once, at start-up
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 reference; the timed runs are float32

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from theorytk.kernels import get_activation, mlp_kernels  # noqa: E402

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
        start, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(kernel_fn(x, None, ("nngp", "ntk")))
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    print(json.dumps(times), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--split",
        action="store_true",
        help="only split theorytk's time into per-layer and fixed parts: min CPU time at "
        "depths 3 and 9, timed in alternating rounds",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only list theorytk's compiled kernels by their total time per call (count x "
        "fastest run, from a jax.profiler trace of --repeats calls)",
    )
    args = parser.parse_args()
    sigma_w, sigma_b = float(np.sqrt(2.0)), 0.1
    x = np.random.default_rng(0).standard_normal((args.n, args.d)).astype(np.float32)
    if args.split:
        _print_depth_split(x, args, sigma_w, sigma_b)
        return
    kernel = jax.jit(
        functools.partial(
            mlp_kernels, depth=args.depth, activation="relu", sigma_w=sigma_w, sigma_b=sigma_b
        )
    )
    if args.profile:
        _print_profile(kernel, x, args.repeats)
        return
    ours32 = jax.block_until_ready(kernel(x))
    ref64 = kernel(x.astype(np.float64))
    nt = _start_nt(x, args, sigma_w, sigma_b)
    timings: dict[str, list[tuple[float, float]]] = {"theorytk": [], "neural-tangents": []}
    for _ in range(args.rounds):
        timings["theorytk"] += _time(lambda: jax.block_until_ready(kernel(x)), args.repeats)
        if nt is not None:
            nt[0].stdin.write(f"{args.repeats}\n")
            nt[0].stdin.flush()
            timings["neural-tangents"] += [tuple(t) for t in json.loads(nt[0].stdout.readline())]
    print(
        f"NNGP+NTK, depth-{args.depth} ReLU, sigma_w = sqrt(2), sigma_b = {sigma_b}, "
        f"{args.n} x {args.n} inputs of dim {args.d}, float32; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"{'':16s} {'wall min':>9s} {'median':>9s} {'CPU min':>9s} {'median':>9s}   "
        "max rel. error vs float64 (nngp, ntk)"
    )
    results = {"theorytk": ours32}
    if nt is not None:
        results["neural-tangents"] = nt[1]()
    for name, times in timings.items():
        if not times:
            continue
        wall, cpu = np.asarray(times).T * 1e3
        errors = ", ".join(
            f"{_rel_error(a, b):.1e}" for a, b in zip(results[name], ref64, strict=True)
        )
        print(
            f"{name:16s} {wall.min():7.1f}ms {np.median(wall):7.1f}ms {cpu.min():7.1f}ms "
            f"{np.median(cpu):7.1f}ms   {errors}"
        )
    _print_roofline(args, sigma_w, sigma_b, min(t[0] for t in timings["theorytk"]))
    if nt is None:
        print("set NT_PYTHON to a python with neural-tangents 0.6.5 to time it side by side")
        return
    nt[0].stdin.close()
    ours, theirs = np.asarray(timings["theorytk"]), np.asarray(timings["neural-tangents"])
    ratios = {
        "min wall time": theirs[:, 0].min() / ours[:, 0].min(),
        "median wall time": np.median(theirs[:, 0]) / np.median(ours[:, 0]),
        "min CPU time": theirs[:, 1].min() / ours[:, 1].min(),
    }
    print("speed-up in " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()))
    ratio = min(ratios.values())
    verdict = "meets" if ratio >= 10 else "MISSES"
    print(f"speed-up over neural-tangents, smallest of the three ({verdict} >= 10x): {ratio:.1f}x")


def _print_depth_split(x: np.ndarray, args: argparse.Namespace, sigma_w: float, sigma_b: float):
    """Min CPU time of theorytk at depths 3 and 9 (same structure: a scan over the layers),
    and the per-layer and depth-independent parts of a straight line through the two."""
    depths, cpu = (3, 9), {3: [], 9: []}
    kernels = {
        depth: jax.jit(
            functools.partial(
                mlp_kernels, depth=depth, activation="relu", sigma_w=sigma_w, sigma_b=sigma_b
            )
        )
        for depth in depths
    }
    for depth in depths:
        jax.block_until_ready(kernels[depth](x))
    for _ in range(args.rounds):
        for depth in depths:
            run = functools.partial(lambda f: jax.block_until_ready(f(x)), kernels[depth])
            cpu[depth] += [t[1] for t in _time(run, args.repeats)]
    low, high = (min(cpu[depth]) * 1e3 for depth in depths)
    per_layer = (high - low) / (depths[1] - depths[0])
    print(
        f"theorytk min CPU time: depth 3 {low:.1f} ms, depth 9 {high:.1f} ms; per layer "
        f"{per_layer:.2f} ms, independent of the depth {low - depths[0] * per_layer:.1f} ms "
        f"(load average {os.getloadavg()[0]:.1f})"
    )


def _print_profile(kernel, x: np.ndarray, repeats: int) -> None:
    """Each compiled kernel (XLA thunk) of one call: launches per call and count x its fastest
    run (the least it costs, free of preemption), largest first, from a jax.profiler trace."""
    jax.block_until_ready(kernel(x))
    folder = tempfile.mkdtemp()
    with jax.profiler.trace(folder):
        for _ in range(repeats):
            jax.block_until_ready(kernel(x))
    trace = jax.profiler.ProfileData.from_file(
        glob.glob(f"{folder}/**/*.xplane.pb", recursive=True)[0]
    )
    count, fastest = collections.Counter(), {}
    for plane in trace.planes:
        for line in plane.lines:
            for event in line.events:
                if event.name.startswith(("ThunkExecutor", "end:", "$")) or line.name == "python":
                    continue
                count[event.name] += 1
                fastest[event.name] = min(fastest.get(event.name, np.inf), event.duration_ns)
    costs = {name: count[name] / repeats * fastest[name] / 1e6 for name in count}
    launches = sum(count.values()) / repeats
    print(
        f"theorytk: {launches:.0f} kernel launches per call (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"{'kernel':40s} {'per call':>8s} {'fastest':>9s} {'count x fastest':>16s}")
    for name, cost in sorted(costs.items(), key=lambda item: -item[1])[:15]:
        print(
            f"{name:40s} {count[name] / repeats:8.0f} {fastest[name] / 1e3:7.1f}us {cost:14.2f}ms"
        )
    total = sum(cost for name, cost in costs.items() if not name.startswith("while"))
    print(
        f"sum of count x fastest over all kernels (loops excluded: they hold them): {total:.1f} ms"
    )


def _print_roofline(args: argparse.Namespace, sigma_w: float, sigma_b: float, best: float) -> None:
    """The time the computation would take at this machine's elementwise flop rate and memory
    bandwidth (both measured now), against the best time achieved.

    Work: the n(n+1)/2 distinct entries of the symmetric Gram, each through `depth` layers at
    the flops XLA counts for one layer (sqrt counted as one flop: a lower bound), plus the
    x x^T matmul. Traffic: the two n x n float32 outputs written once if every layer stays in
    cache; 16 bytes per entry per layer more (read and write nngp and ntk) if layers stream.
    """
    n, d, depth = args.n, args.d, args.depth
    flops_entry = _layer_flops(sigma_w, sigma_b)
    entries = n * (n + 1) / 2
    flops = depth * entries * flops_entry + 2 * d * entries
    out_bytes, layer_bytes = 2 * 4 * n * n, 16 * entries
    flop_rate, bandwidth = _peak_rates()
    cached = max(flops / flop_rate, out_bytes / bandwidth)
    streamed = max(flops / flop_rate, (out_bytes + depth * layer_bytes) / bandwidth)
    print(
        f"roofline: {flops_entry:.0f} flops per entry per layer (XLA cost analysis), "
        f"{entries * flops_entry / 1e6:.0f} Mflop and {layer_bytes / 1e6:.0f} MB (if streamed) "
        f"per layer over {entries / 1e6:.2f}M distinct entries; measured now {flop_rate / 1e9:.1f} "
        f"Gflop/s elementwise, {bandwidth / 1e9:.1f} GB/s read"
    )
    print(
        f"estimate {cached * 1e3:.1f} ms (layers in cache) to {streamed * 1e3:.1f} ms (layers "
        f"streamed); theorytk achieved {best * 1e3:.1f} ms = {best / cached:.1f}x the in-cache "
        "estimate"
    )


def _layer_flops(sigma_w: float, sigma_b: float) -> float:
    """Flops per entry of one hidden layer (relu map and Dense) on float32, by XLA's count."""
    relu = get_activation("relu")

    def layer(nngp: jax.Array, ntk: jax.Array, var: jax.Array) -> tuple[jax.Array, jax.Array]:
        post, dot = relu.kernel(nngp, var[:, None], var[None, :])
        nngp = sigma_w**2 * post + sigma_b**2
        return nngp, nngp + sigma_w**2 * ntk * dot

    size = 512
    square = jax.ShapeDtypeStruct((size, size), jnp.float32)
    cost = jax.jit(layer).lower(square, square, jax.ShapeDtypeStruct((size,), jnp.float32))
    cost = cost.cost_analysis()
    return (cost["flops"] + cost.get("transcendentals", 0.0)) / size**2


def _peak_rates() -> tuple[float, float]:
    """(flop/s of a float32 multiply-add chain in one fusion, bytes/s of a sum over 64 MB)."""
    steps, small, large = 64, 2**20, 2**24

    def chain(v: jax.Array) -> jax.Array:
        for _ in range(steps):
            v = v * 0.999 + 0.001
        return v

    chain = jax.jit(chain)
    read = jax.jit(jnp.sum)
    a, b = jnp.ones(small, jnp.float32), jnp.ones(large, jnp.float32)
    jax.block_until_ready((chain(a), read(b)))  # compile
    chain_time = min(_time(lambda: jax.block_until_ready(chain(a)), 10))[0]
    read_time = min(_time(lambda: jax.block_until_ready(read(b)), 10))[0]
    return 2 * steps * small / chain_time, 4 * large / read_time


def _time(fn, repeats: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of `repeats` calls of fn."""
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
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
