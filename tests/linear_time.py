"""Linear time, checked the way the kit checks it: one run, two sizes, the ratio of the best times.

A timed unit test would fail on a slow or busy machine; a ratio of two sizes measured in the same run does not move
with the machine's speed. The rule: doubling the input may at most triple the time (a linear function doubles it, a
quadratic one quadruples it). It is measured over two doublings at once, n and 4n copies, against 3 x 3 = 9: a
linear function lands near 4, far from the bound, and a quadratic one near 16, so neither a busy moment nor a
quadratic term still small at n decides the verdict. Times are the process's CPU time, which other programs on a
shared machine do not inflate, the best of a few runs with the garbage collector off (as `timeit` does).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable

SCALE = 4  # the larger input is this many times the smaller: two doublings
MAX_RATIO = 3.0**2  # each doubling may at most triple the time
MIN_SECONDS = 0.002  # a run shorter than this is mostly the clock's and the cache's noise: the text is made longer
MAX_CHARS = 400_000  # the longest smaller text tried while looking for a measurable time


def best_time(function: Callable[[str], object], text: str, repeats: int = 3) -> float:
    """The fastest of `repeats` runs, in CPU seconds: interruptions only ever add time."""
    best = float("inf")
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.process_time()
            function(text)
            best = min(best, time.process_time() - start)
    finally:
        if collecting:
            gc.enable()
    return best


def growth_ratio(function: Callable[[str], object], unit: str, copies: int, repeats: int = 3) -> float:
    """How many times longer `function` takes on `unit` repeated 4n times than n times (compare with `MAX_RATIO`).

    n starts at `copies` and is scaled up (at most to `MAX_CHARS` characters) where one run is shorter than
    `MIN_SECONDS`; a function still that quick there is measured against `MIN_SECONDS` (too fast to be quadratic at
    any length a user can paste)."""
    first = best_time(function, unit * copies, repeats=1)  # also warms caches and lazy imports
    if first < MIN_SECONDS:
        copies = max(copies, min(copies * math.ceil(MIN_SECONDS / max(first, 1e-7)), MAX_CHARS // len(unit)))
    small = best_time(function, unit * copies, repeats)
    return best_time(function, unit * (SCALE * copies), repeats) / max(small, MIN_SECONDS)
