"""Test configuration: analytic identities are checked in float64."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# Tiny batched LAPACK calls (vmapped Cholesky) slow down when OpenBLAS threads compete with
# XLA's own threads; one BLAS thread is faster here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# JAX's persistent compilation cache: a second run of the suite (and the subprocesses its
# tests start, which inherit the environment) loads compiled programs from .cache/jax in the
# repository (gitignored) instead of compiling them again. THEORYTK_TEST_CACHE=0 turns it off.
# Every program is kept, however fast it compiled: the many small ones of eager calls add up
# (`pytest tests/monotone/test_padding.py` from a warm cache: 15.7-16.5 s user CPU keeping
# all, 18.3-18.8 s keeping only those that took >= 0.2 s to compile).
if os.environ.get("THEORYTK_TEST_CACHE", "1") != "0":
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR",
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "jax"),
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax  # noqa: E402
import pytest  # noqa: E402

from theorytk import sweep  # noqa: E402

jax.config.update("jax_enable_x64", True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Run every test (its fixtures too) under `sweep.unrolled_threefry`, unless marked.

    The same random bits as JAX's rolled CPU lowering, compiled several times faster; a test
    marked `rolled_threefry` runs with JAX's own lowering. Subprocesses keep JAX's lowering.
    """
    if item.get_closest_marker("rolled_threefry"):
        return (yield)
    with sweep.unrolled_threefry():
        return (yield)
