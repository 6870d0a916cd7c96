"""T_c(P) from a sweep over (P, T): fixed-level crossings and the collapse exponent.

Sclocchi, Geiger & Wyart (ICML 2023, Sec. 3) find that in the lazy regime the relative weight
change at the end of training grows as ||w - w_0|| / ||w_0|| ~ T^delta P^gamma once the noise
matters, so that the temperature at which it reaches a fixed level (where the net escapes the
lazy regime) is T_c ~ P^-a with a = gamma / delta, and curves of ||w - w_0|| / ||w_0|| for
different P collapse when plotted against T P^a.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike, Float

from theorytk import fit


def level_temperatures(
    values: Float[ArrayLike, "nP nT"], T: Float[ArrayLike, " nT"], level: float
) -> Float[np.ndarray, " nP"]:
    """T_c(P): for each P the temperature at which `values` first reaches `level`.

    The crossing along increasing T, interpolated linearly in log(values) against log T
    (`fit.critical_line`); NaN where the curve starts above the level or never reaches it.

    Args:
        values: `Float[ArrayLike, "nP nT"]` a positive observable (e.g. ||w - w_0|| / ||w_0||
            or the relative NTK change), NaN where a run failed.
        T: `Float[ArrayLike, "nT"]` the temperatures, > 0.
        level: the fixed level, > 0.

    Returns:
        `Float[np.ndarray, "nP"]` T_c for each P.
    """
    if not level > 0:
        raise ValueError(f"level must be > 0, got {level}")
    values = np.asarray(values, float)
    rows = np.arange(values.shape[0], dtype=float)
    logs = np.log(np.where(values > 0, values, np.nan))
    return fit.critical_line(rows, np.asarray(T, float), logs, float(np.log(level)))


def collapse_cost(
    values: Float[ArrayLike, "nP nT"],
    T: Float[ArrayLike, " nT"],
    P: Float[ArrayLike, " nP"],
    a: float,
    floor: float,
) -> float:
    """Mean squared mismatch in log(values) of the curves plotted against x = log T + a log P.

    For every kept point (value >= `floor`, finite) of curve i and every other curve j whose
    kept x-range contains it, the difference between log value_i and curve j interpolated
    linearly at that x (the pairwise measure of data-collapse quality, Bhattacharjee & Seno,
    J. Phys. A 34, 6375, 2001). +inf when fewer than two curves overlap.

    Args:
        values: `Float[ArrayLike, "nP nT"]` the observable, one row per P.
        T: `Float[ArrayLike, "nT"]` increasing temperatures.
        P: `Float[ArrayLike, "nP"]` training-set sizes.
        a: the trial exponent of T P^a.
        floor: only values >= floor enter (the noise-dominated part of the curves).

    Returns:
        The mean squared difference, or inf.
    """
    values = np.asarray(values, float)
    x = np.log(np.asarray(T, float))[None, :] + a * np.log(np.asarray(P, float))[:, None]
    keep = np.isfinite(values) & (values >= floor)
    curves = [(x[i, keep[i]], np.log(values[i, keep[i]])) for i in range(values.shape[0])]
    squares = []
    for i, (xi, yi) in enumerate(curves):
        for j, (xj, yj) in enumerate(curves):
            if i == j or xj.size < 2:
                continue
            inside = (xi >= xj.min()) & (xi <= xj.max())
            order = np.argsort(xj)
            squares.extend((yi[inside] - np.interp(xi[inside], xj[order], yj[order])) ** 2)
    return float(np.mean(squares)) if len(squares) >= 2 else float("inf")


def collapse_exponent(
    values: Float[ArrayLike, "seeds nP nT"],
    T: Float[ArrayLike, " nT"],
    P: Float[ArrayLike, " nP"],
    *,
    floor: float,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
    bounds: tuple[float, float] = (-1.5, 1.5),
) -> tuple[float, float, float]:
    """The exponent a that best collapses the seed-mean curves against T P^a, with a
    bootstrap-over-seeds interval.

    a minimises `collapse_cost` of the seed means: over a grid of step 0.05 in `bounds`,
    then of step 0.002 within 0.05 of the best coarse value. The interval: resample the
    seeds with replacement (the same seeds for every P, since a seed's data sets are nested
    in P), recompute the seed means and their best a, and take the (1 - level)/2 and
    (1 + level)/2 quantiles.

    Args:
        values: `Float[ArrayLike, "seeds nP nT"]` the observable per seed, NaN where a run
            failed.
        T: `Float[ArrayLike, "nT"]` increasing temperatures.
        P: `Float[ArrayLike, "nP"]` training-set sizes.
        floor: only seed means >= floor enter the cost.
        n_boot: bootstrap resamples.
        level: coverage of the interval.
        seed: of the resampling (numpy).
        bounds: the range of trial exponents.

    Returns:
        (a, lower, upper).
    """
    values = np.asarray(values, float)
    if values.ndim != 3 or values.shape[0] < 2:
        raise ValueError(f"values must be (seeds >= 2, nP, nT), got shape {values.shape}")

    def best(sample: np.ndarray) -> float:
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(sample, axis=0)
        a = np.nan
        for grid in (np.arange(bounds[0], bounds[1] + 1e-9, 0.05), np.linspace(-0.05, 0.05, 51)):
            grid = grid if np.isnan(a) else a + grid
            costs = np.array([collapse_cost(mean, T, P, trial, floor) for trial in grid])
            if not np.isfinite(costs.min()):
                return np.nan
            a = float(grid[int(np.argmin(costs))])
        return a

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, values.shape[0], size=(n_boot, values.shape[0]))
    boots = np.array([best(values[d]) for d in draws])
    lower, upper = np.nanquantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return best(values), float(lower), float(upper)
