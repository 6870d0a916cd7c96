"""Intervals the gossip experiments report: t intervals of means and delta-method ratios."""

from __future__ import annotations

import numpy as np
from scipy import stats


def mean_interval(samples: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(mean, half-width of its 95% Student-t interval) over `axis`, ignoring NaN samples."""
    x = np.asarray(samples, dtype=float)
    count = np.sum(np.isfinite(x), axis=axis)
    mean = np.nanmean(x, axis=axis)
    sem = np.nanstd(x, axis=axis, ddof=1) / np.sqrt(count)
    return mean, stats.t.ppf(0.975, np.maximum(count - 1, 1)) * sem


def ratio_interval(
    top: np.ndarray, bottom: np.ndarray, axis: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """(mean(top) / mean(bottom), 95% half-width by the delta method) for independent samples."""
    t, b = np.asarray(top, float), np.asarray(bottom, float)
    mt, mb = t.mean(axis), b.mean(axis)
    st = t.std(axis, ddof=1) / np.sqrt(t.shape[axis])
    sb = b.std(axis, ddof=1) / np.sqrt(b.shape[axis])
    ratio = mt / mb
    return ratio, 1.96 * np.abs(ratio) * np.hypot(st / mt, sb / mb)
