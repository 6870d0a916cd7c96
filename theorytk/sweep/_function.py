"""How the engine calls a user's function: signature, parameter use, returned metrics."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.extend
import numpy as np

from ._grid import Grid
from ._loop import Loop, loop_factory

SEED_AXIS = "seed"


class _MissingParam(KeyError):
    pass


class _RecordingParams(dict):
    """A params dict that remembers which names the function read (during an abstract trace)."""

    def __init__(self, values: Mapping[str, Any]):
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        if name not in self.keys():
            raise _MissingParam(name)
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return super().get(name, default)

    def __iter__(self):
        self.read.update(self.keys())
        return super().__iter__()

    def items(self):
        self.read.update(self.keys())
        return super().items()

    def values(self):
        self.read.update(self.keys())
        return super().values()


@dataclass(frozen=True)
class SweptFunction:
    """A user function normalised to `call(params, key)`, with its metrics' shapes."""

    fn: Callable[..., Any]
    takes_key: bool
    config: Any
    passes_config: bool

    def __call__(self, params: Mapping[str, Any], key: Any) -> Mapping[str, Any]:
        args = (params, key) if self.takes_key else (params,)
        kwargs = {"config": self.config} if self.passes_config else {}
        return self.fn(*args, **kwargs)

    def loop(self) -> Loop | None:
        """The `Loop` of a function marked `refillable` (for its config), else None."""
        make_loop = loop_factory(self.fn)
        return None if make_loop is None else make_loop(self.config)

    @property
    def name(self) -> str:
        module = getattr(self.fn, "__module__", "?")
        return f"{module}.{getattr(self.fn, '__qualname__', repr(self.fn))}"


def wrap_function(fn: Callable[..., Any], config: Any) -> SweptFunction:
    """Decide how to call `fn`: `fn(params, key)` or `fn(params)`, plus `config=` if taken."""
    if not callable(fn):
        raise TypeError(f"the swept function must be callable, got {type(fn).__name__}")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return SweptFunction(fn, True, config, config is not None)
    parameters = signature.parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in parameters if p.kind in kinds and p.name != "config"]
    var_positional = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
    takes_config = "config" in signature.parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )
    if config is not None and not takes_config:
        raise TypeError(
            f"config was given but {fn!r} takes no `config` argument; "
            "define it as fn(params, key, *, config) or drop config="
        )
    declared = signature.parameters.get("config")
    if config is None and declared is not None and declared.default is inspect.Parameter.empty:
        raise TypeError(
            f"{getattr(fn, '__qualname__', fn)!r} takes a required `config` argument, but "
            "run() got no config=; pass its configuration as config="
        )
    takes_key = var_positional or len(positional) >= 2
    return SweptFunction(fn, takes_key, config, takes_config)


@dataclass(frozen=True)
class MetricSpec:
    """Names and dtypes of the metrics a function returns (status not included)."""

    dtypes: dict[str, np.dtype]
    reports_status: bool
    computation: str = ""  # a digest of the traced computation (jaxpr and constants)


_INSPECTED: dict[tuple, MetricSpec] = {}


def inspect_function(
    swept: SweptFunction, grid: Grid, static_params: Mapping[str, Any], key: Any
) -> MetricSpec:
    """Trace `swept` abstractly once: check the params it reads and the metrics it returns.

    The outcome is remembered for a hashable function and config, so repeated sweeps of the
    same function over axes of the same names and dtypes skip the trace.
    """
    memo = (
        swept,
        tuple((a.name, a.is_static, canonical_dtype(a.values).str) for a in grid.axes),
        tuple(sorted(static_params.items())),
        str(jax.typeof(key)),
    )
    try:
        return _INSPECTED[memo]
    except KeyError:
        spec = _inspect(swept, grid, static_params, key)
        if len(_INSPECTED) < 256:
            _INSPECTED[memo] = spec
        return spec
    except TypeError:  # an unhashable config: trace every time
        return _inspect(swept, grid, static_params, key)


def _inspect(
    swept: SweptFunction, grid: Grid, static_params: Mapping[str, Any], key: Any
) -> MetricSpec:
    structs = {
        a.name: jax.ShapeDtypeStruct((), canonical_dtype(a.values)) for a in grid.dynamic_axes
    }
    read: set[str] = set()

    def traced(dynamic: dict[str, Any], point_key: Any) -> Any:
        params = _RecordingParams({**static_params, **dynamic})
        try:
            return swept(params, point_key)
        finally:
            read.update(params.read)

    try:
        jaxpr, out = jax.make_jaxpr(traced, return_shape=True)(structs, key)
    except TypeError as error:
        if "is not a valid JAX type" not in str(error):
            raise
        raise TypeError(
            "the swept function must return a dict of numeric scalars (JAX or NumPy numbers); "
            f"it returned a value JAX cannot hold: {error}"
        ) from None
    except _MissingParam as missing:
        raise ValueError(
            f"the swept function reads params[{missing.args[0]!r}], but the grid has no such axis; "
            f"grid axes are {list(grid.names)}"
        ) from None
    spec = _metric_spec(out, computation_digest(jaxpr))
    unread = [n for n in grid.names if n not in read and n != SEED_AXIS]
    if unread:
        raise ValueError(
            f"the swept function does not read the grid axes {unread}; it reads {sorted(read)}. "
            f"Every axis must be a parameter the function takes (only {SEED_AXIS!r} may be unread)."
        )
    return spec


def computation_digest(jaxpr: jax.extend.core.ClosedJaxpr) -> str:
    """SHA-256 of a traced computation: the jaxpr's text and the bytes of its constants.

    Two functions with the same digest compute the same thing on the same inputs, so a
    resumed sweep refuses a store written by a model whose body has changed since.
    """
    digest = hashlib.sha256(str(jaxpr.jaxpr).encode())
    for const in jaxpr.consts:
        if jax.dtypes.issubdtype(getattr(const, "dtype", None), jax.dtypes.prng_key):
            const = jax.random.key_data(const)
        array = np.asarray(const)
        digest.update(f"{array.dtype}{array.shape}".encode() + array.tobytes())
    return digest.hexdigest()


def _metric_spec(out: Any, computation: str) -> MetricSpec:
    if not isinstance(out, Mapping):
        got = f"an array of shape {out.shape}" if hasattr(out, "shape") else type(out).__name__
        raise TypeError(
            f"the swept function must return a dict of scalar metrics, got {got}; "
            "return e.g. {'test_mse': ..., 'train_mse': ...}"
        )
    dtypes: dict[str, np.dtype] = {}
    for name, value in out.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"metric names must be identifiers, got {name!r}")
        shape = getattr(value, "shape", None)
        if shape != ():
            raise TypeError(
                f"metric {name!r} must be a scalar per point, got shape {shape}; "
                "return one named scalar per quantity"
            )
        if name != "status":
            dtypes[name] = np.dtype(value.dtype)
    if not dtypes:
        raise TypeError("the swept function returned no metrics; return at least one scalar")
    return MetricSpec(dtypes, "status" in out, computation)


def canonical_dtype(values: np.ndarray) -> np.dtype:
    """The dtype JAX will use for these axis values (float64 -> float32 unless x64 is on)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(values.dtype))
