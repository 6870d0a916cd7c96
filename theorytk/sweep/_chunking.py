"""`chunk_size="auto"`: the largest chunk whose compiled program fits in a device's memory.

A chunk's memory is read from XLA's analysis of the compiled program (arguments, outputs
and temporaries on one device), not guessed from the model: the engine compiles the chunk
it would run, and only if that does not fit compiles smaller ones. The memory it may plan
for is `MARGIN` of what each device has free (`Device.memory_stats()` on GPU and TPU; the
host's available memory, split over its CPU devices, on CPU), or of `memory_limit=`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import jax
import numpy as np
from jax.experimental import multihost_utils

MARGIN = 0.5
"""Fraction of a device's available memory that one chunk's program may use."""

CPU_CHUNK_CAP = 4096
"""Most points per chunk on CPU: beyond a few thousand points vmap gains nothing on a CPU,
while a longer chunk saves progress (and resumes) less often."""

DEVICE_CHUNK_CAP = 1 << 16
"""Most points per chunk and device on GPU and TPU."""

STORE_CHUNK = 4096
"""Points per block of a progress store written with `chunk_size="auto"` (done flags are
per point, so blocks and computed chunks need not match)."""

_TRIES = 4  # compilations of shrinking chunks, the last of one point per device


class ChunkMemoryError(ValueError):
    """Not even one point per device fits in the memory `chunk_size="auto"` may use."""


def chunk_cap(devices: Sequence[jax.Device]) -> int:
    """The largest chunk `auto` considers on these devices (`CPU_CHUNK_CAP` on CPU)."""
    if any(d.platform == "cpu" for d in devices):
        return CPU_CHUNK_CAP
    return DEVICE_CHUNK_CAP * len(devices)


def available_memory(devices: Sequence[jax.Device], memory_limit: int | None) -> float:
    """Bytes free on the fullest device of `devices` (`memory_limit` if given).

    GPU and TPU report `bytes_limit - bytes_in_use`; a CPU device, which reports nothing,
    gets the host's available memory (`host_memory`) divided among this process's CPU
    devices. Under `jax.distributed` every process gets the smallest value of all.
    """
    if memory_limit is not None:
        return float(memory_limit)
    local = [d for d in devices if d.process_index == jax.process_index()]
    stats = [d.memory_stats() for d in local]
    unreported = sum(1 for s in stats if not s or "bytes_limit" not in s)
    free = [s["bytes_limit"] - s.get("bytes_in_use", 0) for s in stats if s and "bytes_limit" in s]
    if unreported:
        free.append(host_memory() / unreported)
    least = min(free, default=math.inf)
    if jax.process_count() > 1:
        gathered = multihost_utils.process_allgather(np.float64(least))
        least = float(np.min(gathered))
    return least


def host_memory() -> float:
    """Bytes the host can still give this process: MemAvailable of /proc/meminfo, or what
    is left below a cgroup (container) limit if that is less; inf where neither is known."""
    available = math.inf
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return float(available)


def auto_chunk(
    memory: Callable[[int], int | None],
    n_points: int,
    n_devices: int,
    available: float,
    cap: int,
) -> int:
    """The largest chunk of at most `min(n_points, cap)` points that `memory` says fits.

    `memory(chunk)` is the bytes one device holds while running a chunk of that many
    points, padded to a multiple of `n_devices` (XLA's analysis of its compiled program;
    None if the backend gives none). A chunk fits when that is at most `MARGIN *
    available`. The full chunk is tried first (one compilation when it fits, the common
    case). Otherwise the chunk is scaled down in proportion to the overshoot, which lands
    at or below the largest fitting chunk when memory is a fixed part plus a part per point;
    from two measurements on, the line through them gives those parts, and the largest
    chunk the line allows is tried (when memory is such a line, at most three compilations
    find the largest fitting chunk). Chunks below the full one are multiples of the device
    count (of 8 per device from 8 up); one point per device is the last resort.
    """
    budget = MARGIN * available
    chunk = min(n_points, cap)
    used = memory(chunk)
    if used is None or used <= budget:
        return chunk
    tried = {chunk: used}
    for attempt in range(_TRIES):
        if chunk <= n_devices:
            break
        guess = _on_line(tried, budget, n_devices)
        if guess is None:
            guess = _round_down(chunk * budget / tried[chunk], n_devices)
        chunk = max(min(guess, chunk - n_devices), n_devices)
        if attempt == _TRIES - 1:
            chunk = n_devices
        tried[chunk] = memory(chunk) or 0
        if tried[chunk] <= budget:
            return _refined(memory, tried, budget, n_devices)
    points = "one point" if chunk <= n_devices else f"a chunk of {chunk} points"
    raise ChunkMemoryError(
        f"{points} per device needs about {_bytes(tried[chunk])} "
        "(XLA's memory analysis of the compiled chunk), "
        f"more than {MARGIN:.0%} of the {_bytes(available)} available; pass an integer "
        "chunk_size= to run it anyway, or a larger memory_limit="
    )


def _refined(
    memory: Callable[[int], int | None], tried: dict[int, int], budget: float, n_devices: int
) -> int:
    """The smallest chunk tried (it fits), or a larger one below the next chunk tried
    where the line through their measurements meets the budget, if that fits too."""
    fits, above = sorted(tried)[:2]
    larger = _on_line(tried, budget, n_devices)
    if larger is None or larger <= fits or larger >= above:
        return fits
    used = memory(larger)
    return larger if used is not None and used <= budget else fits


def _on_line(tried: dict[int, int], budget: float, n_devices: int) -> int | None:
    """The rounded chunk at which the line through the two smallest chunks tried (a fixed
    part plus a part per point) meets `budget`; None without two or with a flat line."""
    if len(tried) < 2:
        return None
    (a, used_a), (b, used_b) = sorted(tried.items())[:2]
    a, b = (-(-c // n_devices) * n_devices for c in (a, b))  # the padded lengths measured
    if b == a or used_b <= used_a:
        return None
    per_point = Fraction(used_b - used_a, b - a)
    return _round_down((Fraction(budget) - used_a) / per_point + a, n_devices)


def _round_down(chunk: float | Fraction, n_devices: int) -> int:
    """`chunk` rounded down to a multiple of 8 per device (1 per device below that)."""
    step = 8 * n_devices if chunk >= 8 * n_devices else n_devices
    return max(math.floor(chunk / step) * step, n_devices)


def _bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} PB"
