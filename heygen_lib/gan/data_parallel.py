"""Training in several processes (``torchrun``) behind one seam: `DataParallel`, which the adversarial trainers call
wherever their single-process algorithm touches a batch, a gradient or a number to record.

In one process every method of `DataParallel` hands back what it was given (all rows, the same gradients, the same
numbers), so `heygen_lib.gan.training.GANTrainer` and `heygen_lib.dialogue_gan.lm_training.AdversarialLMTrainer`
read as the algorithm on one machine. Under torchrun:

- each process starts from rank 0's weights (`share_weights`) and takes its slice of every global batch (`rows`);
- after ``backward`` the gradients are averaged over the processes (`average_gradients`): every process then makes
  the same optimiser step, as if it had seen the whole batch (what `DistributedDataParallel` does during backward);
- generated samples are drawn in *shards*: shard s of draw d comes from its own `torch.Generator` seeded with
  (seed, d, s), and each process draws its own shards (`generated`). What a run samples therefore depends on the
  seed, the number of draws so far (saved in checkpoints) and the number of shards, not on which process drew which
  shard: a run with K shards gives the same numbers in 1, 2 or K processes, and resumes on any number of them;
- SeqGAN's rollouts, the costly part, are split the same way, and every process then receives the whole batch of
  samples and rewards (`whole_batch`), so the policy-gradient step, with its batch-mean baseline, is the same code
  on the same numbers in every process;
- a batch of contexts can be cut into seeded shards too, of which each process draws its own (`my_shards`): the
  dialogue GAN keeps a context's samples, rewards and baseline inside the shard that drew them;
- recorded numbers are averaged over processes (`mean_values`) and evaluations run once, on rank 0 (`on_rank_0`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from heygen_lib import distributed

T = TypeVar("T")
Draw = Callable[[int, "torch.Generator | None"], Any]  # draw(rows, rng) -> a tensor or a tuple of tensors [rows, ...]


class DataParallel:
    """How one trainer's batches, gradients and records are shared among the processes torchrun started.

    `sample_shards` K draws every batch of generated samples as K seeded shards, which makes a run reproducible on
    any number of processes that divides K (the batch size must be a multiple of K). None: one shard per process
    under torchrun, and in one process the global random state, as in the notebooks."""

    def __init__(self, seed: int, batch_size: int, sample_shards: int | None, device: torch.device):
        self.processes, self.rank = distributed.world_size(), distributed.rank()
        self.shards = sample_shards or (self.processes if self.processes > 1 else None)
        if self.shards is not None:
            distributed.per_process_batch(batch_size)  # refuses a batch that does not split over processes
            distributed.per_process_batch(self.shards)
            if batch_size % self.shards:
                raise ValueError(f"a batch of {batch_size} does not split into {self.shards} sample shards")
        self.seed, self.device = seed, device
        self.draws = 0  # batches of generated samples drawn so far: with the seed, what the next shards draw

    @property
    def launched(self) -> bool:
        return self.processes > 1

    # --- weights and gradients ------------------------------------------------------------------------------------

    def share_weights(self, *modules: nn.Module) -> None:
        """Every process takes rank 0's weights."""
        if self.launched:
            for module in modules:
                for tensor in [*module.parameters(), *module.buffers()]:
                    dist.broadcast(tensor.data, src=0)

    def average_gradients(self, parameters: Iterable[nn.Parameter]) -> None:
        """Each gradient becomes its mean over the processes (one all-reduce of them all, flattened)."""
        if not self.launched:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= self.processes
            offset = 0
            for g in grads:
                g.copy_(flat[offset: offset + g.numel()].view_as(g))
                offset += g.numel()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """`value` averaged over the processes (each holding the same number of rows); itself in one process."""
        return mean_over_processes(value)

    def part_of_sum(self, part: torch.Tensor) -> torch.Tensor:
        """`part`, this process's share of a sum over the global batch, weighted so that the mean over processes
        (of gradients, `average_gradients`, and of numbers, `mean`) is the whole sum; itself in one process."""
        return part * self.processes

    def mean_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` with every tensor (a number this process computed on its rows) replaced by its mean over the
        processes, as a float; other values (already the same in every process) as they are."""
        local = [k for k, v in values.items() if isinstance(v, torch.Tensor)]
        out = dict(values)
        if local:
            stacked = torch.stack([values[k].detach().double().reshape(()) for k in local])
            if self.launched:
                stacked = mean_over_processes(stacked.to(self.device)).cpu()
            out |= {k: float(v) for k, v in zip(local, stacked.tolist())}
        return out

    def on_rank_0(self, compute: Callable[[], Any]) -> Any:
        """`compute()` on rank 0, its value handed to every process (evaluations every process must agree on)."""
        return from_rank_0(compute)

    # --- rows -----------------------------------------------------------------------------------------------------

    def rows(self, index: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This process's part of the global batch `index` and its weight in the batch mean: all of it and 1.0 in
        one process. An uneven split (an epoch's last batch) weighs each part by its rows; a process left without
        rows takes one row at weight 0, so that it still joins the gradient average."""
        if not self.launched:
            return index, 1.0
        mine = index.tensor_split(self.processes)[self.rank]
        if not len(mine):
            return index[:1], 0.0
        return mine, len(mine) * self.processes / len(index)

    def generated(self, n: int, draw: Draw) -> Any:
        """This process's `n` rows of a batch of generated samples, ``draw(rows, rng)``: one call with the global
        random state when unsharded; else one call per shard of this process, each with its seeded generator."""
        if self.shards is None:
            return draw(n, None)
        parts = [draw(n * self.processes // self.shards, rng) for rng in self._shard_rngs()]
        return _concatenate(parts)

    def whole_batch(self, batch_size: int, draw: Draw) -> Any:
        """A whole batch of `batch_size` generated rows in every process: each process draws its shards
        (`generated`), then all processes exchange them, in shard order."""
        mine = self.generated(distributed.per_process_batch(batch_size), draw)
        if not self.launched:
            return mine
        columns = mine if isinstance(mine, tuple) else (mine,)
        gathered = []
        for column in columns:
            parts = [torch.empty_like(column) for _ in range(self.processes)]
            dist.all_gather(parts, column.contiguous())
            gathered.append(torch.cat(parts))
        return tuple(gathered) if isinstance(mine, tuple) else gathered[0]

    def my_shards(self, batch: Sequence[T]) -> list[tuple[int, Sequence[T]]]:
        """This process's shards of the global `batch`, each with its number (which seeds what it draws): every
        shard in turn in one process, as one when unsharded."""
        size = len(batch) // (self.shards or 1)
        return [(shard, batch[shard * size: (shard + 1) * size]) for shard in self._my_shard_numbers()]

    def shard_rngs(self) -> list[torch.Generator] | None:
        """One seeded generator per shard of this process for the next draw (None when unsharded)."""
        return None if self.shards is None else self._shard_rngs()

    def _shard_rngs(self) -> list[torch.Generator]:
        self.draws += 1
        return shard_generators(self.seed, self.draws, self._my_shard_numbers(), self.device)

    def _my_shard_numbers(self) -> range:
        per_process = (self.shards or 1) // self.processes
        return range(self.rank * per_process, (self.rank + 1) * per_process)


def _concatenate(parts: list[Any]) -> Any:
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(column) for column in zip(*parts))
    return torch.cat(parts)


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
