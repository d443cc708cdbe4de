"""Linear time, checked the way the kit checks it: one run, two sizes, the ratio of the best times.

A timed unit test would fail on a slow or busy machine; a ratio of two sizes measured in the same run does not move
with the machine's speed. Doubling the input of a linear function about doubles its time; of a quadratic one, about
quadruples it, so the bound sits between the two: more than three times is a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_RATIO = 3.0  # doubling the input may at most triple the time
MIN_SECONDS = 0.01  # below this a run's time is mostly the timer's and the scheduler's noise
MAX_CHARS = 400_000  # the largest small size tried while looking for a measurable time


def best_time(function: Callable[[str], object], text: str, repeats: int = 3) -> float:
    """The fastest of `repeats` runs, in seconds: the machine's other work only ever adds time."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(text)
        best = min(best, time.perf_counter() - start)
    return best


def doubling_ratio(function: Callable[[str], object], unit: str, copies: int, repeats: int = 3) -> float:
    """How many times longer `function` takes on `unit` repeated 2n times than n times, with n = `copies`, doubled
    while one run of n copies is too quick to time (under `MIN_SECONDS`)."""
    function(unit * 8)  # warm caches and lazy imports, so the first size does not pay for them
    small = best_time(function, unit * copies, repeats)
    while small < MIN_SECONDS and len(unit) * copies * 2 <= MAX_CHARS:
        copies *= 2
        small = best_time(function, unit * copies, repeats)
    return best_time(function, unit * (2 * copies), repeats) / max(small, 1e-6)
