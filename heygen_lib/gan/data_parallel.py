"""What the text GAN needs to train in several processes (``torchrun``): DDP around any method, seeded shards of
generated samples, and numbers averaged over processes.

`DistributedDataParallel` averages gradients over processes during ``backward``, but only for what went through
the wrapped module's ``forward``. A generator's training calls are other methods (``nll``, ``token_nll``,
``gumbel_sample``), so `parallel_calls` wraps a module in a thin `_Calls` module whose forward runs any function of
it: ``call(lambda g: g.nll(batch))`` is DDP-watched under torchrun and a plain call in one process.

Generated samples are drawn in *shards*: shard s of draw d comes from its own `torch.Generator` seeded with
(seed, d, s), and each process draws its own shards. What a run samples therefore depends on the seed, the number
of draws so far (saved in checkpoints) and the number of shards, not on which process drew which shard: a run with
K shards gives the same numbers in 1, 2 or K processes, and resumes on any number of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from heygen_lib import distributed


class _Calls(nn.Module):
    """Runs ``fn(module, ...)`` as this module's forward, so that DDP sees every method of `module`."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(self.module, *args)


def parallel_calls(module: nn.Module, find_unused_parameters: bool = False) -> Callable[..., Any]:
    """``call(fn, *args)`` returns ``fn(module, *args)``: directly in one process; under torchrun through
    `DistributedDataParallel`, which makes every process start from rank 0's weights and averages the gradients of
    what `fn` computed over all processes in ``backward``. Pass `find_unused_parameters` when some calls leave
    parameters out (a VAE generator samples without its encoder). The module itself stays unwrapped: its state dict,
    and so every checkpoint, is the same whatever the number of processes."""
    if not distributed.launched():
        return lambda fn, *args: fn(module, *args)
    device = next(module.parameters()).device
    return DistributedDataParallel(_Calls(module), device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=find_unused_parameters)


def shard_seed(seed: int, draw: int, shard: int) -> int:
    """The seed of shard `shard` of draw number `draw`, mixed from (seed, draw, shard) through numpy's SeedSequence
    (well-mixed: neighbouring draws and shards get unrelated streams); fits ``torch.manual_seed``. For code that
    seeds a whole call (``generate``) rather than passing a `torch.Generator`."""
    return int(np.random.SeedSequence([seed, draw, shard]).generate_state(1, np.uint64)[0]) >> 1


def shard_generators(seed: int, draw: int, shards: range, device: torch.device) -> list[torch.Generator]:
    """One random generator per shard in `shards` for draw number `draw`, seeded with `shard_seed`."""
    return [torch.Generator(device=device).manual_seed(shard_seed(seed, draw, shard)) for shard in shards]


def mean_over_processes(value: torch.Tensor) -> torch.Tensor:
    """`value` averaged over all processes (each process holding the same number of rows); itself in one."""
    if not distributed.launched():
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / distributed.world_size()


def from_rank_0(compute: Callable[[], Any]) -> Any:
    """`compute()` on rank 0, its (picklable) value handed to every process: evaluations and checks whose outcome
    all processes must agree on, computed once."""
    if not distributed.launched():
        return compute()
    box = [compute() if distributed.is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
