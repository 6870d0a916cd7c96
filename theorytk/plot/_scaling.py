"""Scaling plots: data on log-log axes with a fitted power law ``a x^(-b) + c`` annotated with its
exponent (:func:`scaling_plot`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from ._figure import figure_and_axes, save

Form = Literal["a*x^-b+c", "a*x^b+c"]
_FORMS = ("a*x^-b+c", "a*x^b+c")


def scaling_plot(
    x: ArrayLike,
    y: ArrayLike,
    fit: Any | None = None,
    *,
    yerr: ArrayLike | None = None,
    form: Form = "a*x^-b+c",
    ax: Axes | None = None,
    xlabel: str = "x",
    ylabel: str = "y",
    label: str = "data",
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
) -> Figure:
    """Log-log plot of data with an optional fitted power law annotated with its exponent.

    ``fit`` is duck-typed: any object with float attributes ``a``, ``b``, ``c`` (and optionally
    ``stderr``: a mapping or object with a ``b`` entry, or a length-3 sequence for ``(a, b, c)``;
    or a ``b_stderr`` attribute). The curve drawn is ``fit(x)`` if the object is callable,
    otherwise ``y = a * x**(-b) + c`` (``form="a*x^-b+c"``, the decaying scaling-law convention)
    or ``y = a * x**b + c`` (``form="a*x^b+c"``). If the fit object has a string attribute
    ``form`` equal to one of these, it takes precedence. The legend names the law with ``+c``
    unless the fit has ``with_constant=False``. A positive offset ``c`` is drawn as a
    dotted horizontal line. Points with non-positive or non-finite ``x`` or ``y`` cannot be shown
    on log axes and are dropped.

    Args:
        x: shape ``(n,)``.
        y: shape ``(n,)``.
        fit: fitted power law, or ``None``.
        yerr: optional error bars on ``y``, shape ``(n,)``.
        form: the power-law form of ``fit`` (see above).
        ax: axes to draw into; a new figure is created when omitted.
        xlabel: horizontal axis label.
        ylabel: vertical axis label.
        label: legend label of the data.
        title: axes title.
        path: if given, save the figure there.
        dpi: resolution of the saved figure.

    Returns:
        The figure.
    """
    xa, ya, ea = _points(x, y, yerr)
    keep = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    if not keep.any():
        raise ValueError("scaling_plot needs at least one point with finite positive x and y")
    form = _form_of(fit, form)
    fig, ax = figure_and_axes(ax, 5.2, 4.2)
    ax.errorbar(
        xa[keep],
        ya[keep],
        yerr=None if ea is None else ea[keep],
        fmt="o",
        markersize=5,
        capsize=2.5,
        color="C0",
        label=label,
        zorder=3,
    )
    if fit is not None:
        _draw_fit(ax, fit, form, xa[keep])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize="small", framealpha=0.85)
    save(fig, path, dpi)
    return fig


def _points(
    x: ArrayLike, y: ArrayLike, yerr: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``x``, ``y`` and ``yerr`` as flat float arrays of one length."""
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length; got {xa.size} and {ya.size}")
    if yerr is None:
        return xa, ya, None
    ea = np.asarray(yerr, dtype=float).ravel()
    if ea.shape != xa.shape:
        raise ValueError(f"yerr must have the length of x ({xa.size}); got {ea.size}")
    return xa, ya, ea


def _form_of(fit: Any | None, form: str) -> Form:
    """The fit's own ``form`` attribute if it names a known form, else ``form`` (checked)."""
    fit_form = getattr(fit, "form", None)
    if isinstance(fit_form, str) and fit_form in _FORMS:
        form = fit_form
    if form not in _FORMS:
        raise ValueError(f"form must be 'a*x^-b+c' or 'a*x^b+c'; got {form!r}")
    return form  # type: ignore[return-value]


def _draw_fit(ax: Axes, fit: Any, form: Form, xs: np.ndarray) -> None:
    """The fitted curve over the data's x range, labelled with ``b ± stderr``, and a dotted line
    at a positive offset ``c``."""
    try:
        a, b, c = (float(getattr(fit, k)) for k in ("a", "b", "c"))
    except AttributeError as err:
        raise ValueError(
            f"fit must have attributes a, b, c (power law); got {type(fit).__name__}"
        ) from err
    lo, hi = xs.min(), xs.max()
    grid = np.geomspace(lo, hi, 200) if hi > lo else np.array([lo])
    if callable(fit):
        curve = np.asarray(fit(grid), dtype=float)
    else:
        sign = -1.0 if form == "a*x^-b+c" else 1.0
        curve = a * grid ** (sign * b) + c
    err = _stderr_of(fit, "b")
    exp_text = f"{b:.3g}" if err is None else f"{b:.3g} ± {err:.2g}"
    power = "{-b}" if form == "a*x^-b+c" else "{b}"
    constant = "+c" if getattr(fit, "with_constant", True) else ""
    fit_label = f"fit $a\\,x^{power}{constant}$, b = {exp_text}"
    ok = np.isfinite(curve) & (curve > 0)
    ax.plot(grid[ok], curve[ok], color="C3", linewidth=1.8, label=fit_label, zorder=2)
    if c > 0:
        ax.axhline(c, color="0.4", linestyle=":", linewidth=1.2, label=f"c = {c:.3g}")


def _stderr_of(fit: Any, name: str) -> float | None:
    """The standard error of parameter ``name`` from ``fit.stderr`` (mapping, object or
    ``(a, b, c)`` sequence) or ``fit.<name>_stderr``; None when the fit has none."""
    err = getattr(fit, "stderr", None)
    if err is None:
        err = getattr(fit, f"{name}_stderr", None)
        return None if err is None else float(err)
    if isinstance(err, Mapping):
        return None if err.get(name) is None else float(err[name])
    if hasattr(err, name):
        return float(getattr(err, name))
    arr = np.asarray(err, dtype=float).ravel()
    if arr.size == 3:
        return float(arr["abc".index(name)])
    return None
