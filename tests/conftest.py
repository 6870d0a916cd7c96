"""Test configuration: analytic identities are checked in float64."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# Tiny batched LAPACK calls (vmapped Cholesky) slow down when OpenBLAS threads compete with
# XLA's own threads; one BLAS thread is faster here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
