"""Grids of named hyperparameter axes: the points a sweep visits."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._domain import GridError


@dataclass(frozen=True)
class StaticValues:
    """Marks an axis as static: its values change shapes or control flow.

    A static axis is looped over in Python (one compile per value) and its values reach
    the swept function as concrete Python scalars, so they may set array shapes.
    """

    values: Sequence[Any]


def static(values: Iterable[Any]) -> StaticValues:
    """Mark `values` as a static (shape-changing) axis, e.g. `Grid(n=static([100, 200]))`."""
    return StaticValues(tuple(values))


def geomspace(start: float, stop: float, num: int) -> np.ndarray:
    """`num` geometrically spaced values from `start` to `stop` (both included, both > 0)."""
    if not (start > 0 and stop > 0):
        raise GridError(f"geomspace needs start > 0 and stop > 0, got start={start}, stop={stop}")
    _check_num(num)
    return np.geomspace(start, stop, num)


def linspace(start: float, stop: float, num: int) -> np.ndarray:
    """`num` evenly spaced values from `start` to `stop` (both included)."""
    _check_num(num)
    return np.linspace(start, stop, num)


def _check_num(num: int) -> None:
    if not (isinstance(num, (int, np.integer)) and num >= 1):
        raise GridError(f"the number of grid values must be an integer >= 1, got {num!r}")


@dataclass(frozen=True)
class Axis:
    """One named axis of a grid: its values and whether it is static."""

    name: str
    values: np.ndarray
    is_static: bool

    def __len__(self) -> int:
        return len(self.values)


def _as_axis(name: Any, values: Any) -> Axis:
    if not isinstance(name, str) or not name.isidentifier():
        raise GridError(f"axis names must be identifiers, got {name!r}")
    is_static = isinstance(values, StaticValues)
    raw = values.values if is_static else values
    if isinstance(raw, range):
        raw = list(raw)
    array = np.asarray(raw)
    if array.ndim != 1:
        raise GridError(f"axis {name!r} must be a 1-D sequence of values, got shape {array.shape}")
    if array.size == 0:
        raise GridError(f"axis {name!r} is empty; every axis needs at least one value")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise GridError(f"axis {name!r} must hold real numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise GridError(f"axis {name!r} must hold real numbers, got complex values")
    if not np.all(np.isfinite(array)):
        bad = array[~np.isfinite(array)]
        raise GridError(f"axis {name!r} has non-finite values {bad.tolist()}; all must be finite")
    values, counts = np.unique(array, return_counts=True)
    if np.any(counts > 1):
        raise GridError(
            f"axis {name!r} repeats the values {values[counts > 1].tolist()}; "
            "each value must appear once (a repeated value would be computed twice and "
            "collapse in figures); use a 'seed' axis for replicates"
        )
    return Axis(name, array, is_static)


class Grid:
    """The Cartesian product of named axes.

    Axes are given as keyword arguments (`Grid(ridge=geomspace(1e-4, 10, 32), seed=range(8))`)
    or as `(name, values)` pairs when their order should be explicit. Mark shape-changing
    axes with `static(...)`. Axis order is the dimension order of the result.

    An axis named `seed` is a replicate axis: the swept function need not read it, since
    each point already receives its own key.
    """

    def __init__(self, *pairs: tuple[str, Any], **axes: Any):
        items = [self._pair(p) for p in pairs] + list(axes.items())
        names = [name for name, _ in items]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate axis names {duplicated}; each axis name must appear once")
        if not items:
            raise ValueError("a Grid needs at least one axis")
        self.axes: tuple[Axis, ...] = tuple(_as_axis(n, v) for n, v in items)

    @staticmethod
    def _pair(pair: Any) -> tuple[str, Any]:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"positional axes must be (name, values) pairs, got {pair!r}")
        return pair

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def static_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if a.is_static)

    @property
    def dynamic_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if not a.is_static)

    def static_points(self) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
        """Each combination of static values: (its indices, {name: Python scalar})."""
        axes = self.static_axes
        for index in np.ndindex(*(len(a) for a in axes)):
            yield index, {a.name: a.values[i].item() for a, i in zip(axes, index, strict=True)}

    def __repr__(self) -> str:
        parts = [
            f"{a.name}={'static ' * a.is_static}[{len(a)}: {a.values[0]:g}..{a.values[-1]:g}]"
            for a in self.axes
        ]
        return f"Grid({', '.join(parts)})"
