"""Compile JAX's threefry random draws on CPU without the rolled loop (same bits, faster)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from jax.extend.random import threefry2x32_p


@contextmanager
def unrolled_threefry() -> Iterator[None]:
    """Within the block, lower threefry2x32 on CPU as on every other platform: unrolled.

    JAX lowers the threefry2x32 hash on CPU as a rolled loop of 5 x 4 rounds whose rotation
    amounts are loop state, so LLVM cannot treat them as constants: every vmapped draw
    becomes a kernel of up to 1.5 MB of IR (each variable shift is guarded, and the guards
    are unswitched) and compiles in 1-2.5 s. The unrolled lowering that JAX uses on the
    other platforms has constant rotations and computes the same 32-bit integers, so the
    draws are bit for bit those of the rolled loop (`tests/test_unrolled_threefry.py`); a
    program's float results may still differ in the last bits where XLA fuses the code
    around a draw differently. Programs compiled inside the block keep the unrolled
    lowering when called later. A JAX without these lowering tables (they are private)
    leaves the block a no-op.

    `benchmarks/threefry_compile.py` measures the compile time with and without it.
    """
    try:
        from jax._src.interpreters import mlir
    except ImportError:  # pragma: no cover - a JAX that moved its lowering tables
        yield
        return
    cpu = mlir._platform_specific_lowerings.get("cpu", {})
    rolled, unrolled = cpu.get(threefry2x32_p), mlir._lowerings.get(threefry2x32_p)
    if rolled is None or unrolled is None:  # pragma: no cover - already unrolled on CPU
        yield
        return
    cpu[threefry2x32_p] = unrolled
    try:
        yield
    finally:
        cpu[threefry2x32_p] = rolled
