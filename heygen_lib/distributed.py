"""Running one script in several processes: which process am I, how many are there, who writes.

``torchrun --nproc_per_node N script`` (and ``accelerate launch``) start N copies of the same script and tell each
its place through environment variables: ``RANK`` (0..N-1 over all machines), ``LOCAL_RANK`` (0..on this machine,
which GPU to take) and ``WORLD_SIZE`` (N over all machines). Without a launcher none is set and the helpers here
answer as for one process, so the same code runs in a notebook, in one process and under torchrun.

Rules the kit follows in several processes:
- every process computes, **only rank 0 writes** (final model, logs, artifacts; `on_main`), and the others wait for
  it where they read what it wrote (`wait_for_everyone`);
- a batch size in a config means rows per step summed over all processes: each takes `per_process_batch` of it, so
  the optimiser sees the same global batch, and the same learning rate fits, whatever the number of processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def world_size() -> int:
    """How many processes run this script (1 without a launcher)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's number among all of them, 0 to `world_size() - 1` (0 without a launcher)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's number on its own machine: the GPU it takes."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Whether this process is rank 0, the one that writes."""
    return rank() == 0


def launched() -> bool:
    """Whether a launcher (torchrun, accelerate launch) started this process as one of several."""
    return world_size() > 1


def init(backend: str | None = None) -> None:
    """Join the process group the launcher described (nccl on GPUs, gloo on CPUs); nothing for one process.
    `transformers.Trainer` does this itself; hand-written loops (the text GAN) call it."""
    if not launched() or dist.is_initialized():
        return
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend)


def device() -> torch.device:
    """This process's device: its own GPU (``cuda:LOCAL_RANK``) when there are GPUs, else the CPU."""
    return torch.device("cuda", local_rank()) if torch.cuda.is_available() else torch.device("cpu")


def wait_for_everyone() -> None:
    """Block until every process reaches this line (e.g. before reading what rank 0 wrote)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def on_main(write: Callable[[], T]) -> T | None:
    """Call `write` on rank 0 only, then let every process continue once it is done; returns its value on rank 0."""
    value = write() if is_main() else None
    wait_for_everyone()
    return value


def per_process_batch(global_batch: int, processes: int | None = None) -> int:
    """Rows each process takes so that together they make `global_batch`; refuses a batch that does not split."""
    processes = processes or world_size()
    if global_batch % processes:
        raise ValueError(f"a batch of {global_batch} rows does not split evenly over {processes} processes: "
                         f"choose a multiple of {processes}")
    return global_batch // processes


def say(message: str) -> None:
    """Print `message` once (on rank 0), not once per process."""
    if is_main():
        print(message, flush=True)
