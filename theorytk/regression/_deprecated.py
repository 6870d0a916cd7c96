"""Old names of `theorytk.regression`, kept for a deprecation period (delete this module, and
the `__getattr__` of the package that reads it, once scripts have moved)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from jaxtyping import Array, ArrayLike

from .. import kernels
from ._ridge import RidgeConfig, ridge_theory, simulate_ridge


def _lam_params(params: Mapping[str, ArrayLike]) -> dict[str, ArrayLike]:
    """The old params of the ridge model ("ridge": the mean-loss lambda) with "lam" instead."""
    return {("lam" if name == "ridge" else name): value for name, value in params.items()}


def simulate(params: Mapping[str, ArrayLike], key: Array, *, config: RidgeConfig) -> dict:
    """Deprecated: `simulate_ridge` with the mean-loss ridge under its old name "ridge"."""
    return simulate_ridge(_lam_params(params), key, config=config)


def theory(params: Mapping[str, ArrayLike], *, config: RidgeConfig) -> dict:
    """Deprecated: `ridge_theory` with the mean-loss ridge under its old name "ridge"."""
    return ridge_theory(_lam_params(params), config=config)


_RENAMED = {
    "simulate": (simulate, "theorytk.regression.simulate_ridge, with params['lam'] for 'ridge'"),
    "theory": (theory, "theorytk.regression.ridge_theory, with params['lam'] for 'ridge'"),
}
_MOVED = ("LaplaceKernel", "MLPKernel", "RBFKernel")


def deprecated_attribute(name: str) -> Any:
    """The object behind an old name, with a DeprecationWarning naming the new one."""
    if name in _MOVED:
        obj, new = getattr(kernels, name), f"theorytk.kernels.{name}"
    elif name in _RENAMED:
        obj, new = _RENAMED[name]
    else:
        raise AttributeError(f"module 'theorytk.regression' has no attribute {name!r}")
    warnings.warn(
        f"theorytk.regression.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=3
    )
    return obj
