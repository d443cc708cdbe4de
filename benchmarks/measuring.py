"""What the benchmark scripts share: timed passes, peak memory, and running one measurement in a fresh process.

Peak memory on CUDA is ``torch.cuda.max_memory_allocated`` since `reset_peak`; on a CPU it is the process's resident
high-water mark (``ru_maxrss``), which only ever grows: subtract the level `reset_peak` returned to get what the
measured code added, or run each measurement `in_fresh_process` so that the process's peak is the measurement's own.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch


def _is_cuda(device: str | torch.device) -> bool:
    return torch.device(device).type == "cuda"


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB (``ru_maxrss`` is bytes on macOS, KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def reset_peak(device: str | torch.device) -> float:
    """Start a measurement: on CUDA reset the peak counter. Returns the level now, in MiB (CUDA: allocated memory;
    CPU: the peak resident memory so far), to subtract from `peak_mb` afterwards."""
    if _is_cuda(device):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / 2**20
    return peak_rss_mb()


def peak_mb(device: str | torch.device) -> float:
    """The peak in MiB: CUDA memory allocated since `reset_peak`, or the process's peak resident memory."""
    if _is_cuda(device):
        return torch.cuda.max_memory_allocated() / 2**20
    return peak_rss_mb()


def in_fresh_process(measure: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``measure(*args)`` in a new (spawned) Python process, so that its peak memory is its own."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure, args)


def hardware(device: str | torch.device) -> str:
    """What the numbers were measured on, for a benchmark's first line."""
    return torch.cuda.get_device_name(0) if _is_cuda(device) else f"CPU, {torch.get_num_threads()} threads"


def memory_label(device: str | torch.device) -> str:
    """The memory column's name: what `peak_mb` measures on this device."""
    return "peak GPU MB" if _is_cuda(device) else "peak RSS growth MB"


def fastest_pass(step: Callable[[Any], tuple[int, ...]], batches: Sequence[Any], repeats: int,
                 device: str | torch.device) -> tuple[float, tuple[int, ...], float]:
    """Run `step` over every batch, `repeats` times. Returns the fastest pass's seconds (on a shared machine the
    others were slowed down), the counts `step` returned summed over one pass, and the spread between passes
    (1 - fastest / slowest), the benchmark's own noise."""
    times, totals = [], ()
    for _ in range(repeats):
        start = time.perf_counter()
        totals = tuple(map(sum, zip(*(step(batch) for batch in batches))))
        if _is_cuda(device):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), totals, 1 - min(times) / max(times)


def torchrun_setting(script: str, arguments: Sequence[str], processes: int, threads: int) -> dict[str, Any]:
    """A fresh ``torchrun --standalone`` of `script` with `processes` processes of `threads` threads each; returns
    the JSON object its rank 0 printed last."""
    import json
    import os
    import subprocess
    from pathlib import Path

    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": f"{here.parent}{os.pathsep}{here}", "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               script, *arguments]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{processes} processes failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scaling_settings(processes: int, gpu: bool) -> list[tuple[int, int]]:
    """(processes, threads) to compare: 1 process, `processes` processes of one thread each, and on a CPU also
    1 process with as many threads (what the same cores give without data parallelism)."""
    return [(1, 1), (processes, 1)] + ([] if gpu else [(1, processes)])


def print_scaling(results: Sequence[dict[str, Any]], gpu: bool) -> None:
    """The table of tokens/s per setting (`scaling_settings` order, each a dict with processes, threads,
    "tokens/s" and spread), speed-up and scaling efficiency against the first, and what the numbers mean."""
    base = results[0]["tokens/s"]
    print(f"\n{'setting':<28} {'trained tok/s':>13} {'x 1 process':>11} {'efficiency':>10} {'repeat spread':>13}")
    for r in results:
        name = (f"{r['processes']} process{'es' if r['processes'] > 1 else ''}, "
                f"{r['threads']} thread{'s' if r['threads'] > 1 else ''}")
        speedup = r["tokens/s"] / base
        efficiency = f"{speedup / r['processes']:.2f}" if r["threads"] == 1 else "-"
        print(f"{name:<28} {r['tokens/s']:>13,.0f} {speedup:>11.2f} {efficiency:>10} {r['spread']:>13.0%}")
    p = results[1]["processes"]
    print(f"\nScaling efficiency with {p} processes: {results[1]['tokens/s'] / (p * base):.2f} (1.0 = perfect). "
          "'repeat spread' is how much one setting's own passes differed: differences within it are noise.")
    if not gpu:
        print("Measured on a shared CPU: other work on the same cores slows some passes; the best pass counts.")
