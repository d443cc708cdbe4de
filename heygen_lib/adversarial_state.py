"""What every adversarial trainer of the kit shares: a guarded update step and one checkpoint layout to resume from.

The text GAN trainer (`heygen_lib.gan.training.GANTrainer`), the LSTM dialogue GAN and the pretrained-LM dialogue GAN
each hold some networks, their optimisers, step counters, seeded random generators and a history. `trainer_state`
packs them the same way for `heygen_lib.checkpoints.write_checkpoint` (atomic write), and `restore_trainer_state`
reads them back with ``weights_only=True`` after checking the config, so every trainer resumes the same way and a
fix to resuming reaches all of them. `guarded_update` is the one optimizer step: finite loss or stop, backward,
clip, step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from heygen_lib.checkpoints import global_rng_state, read_checkpoint, restore_global_rng, write_checkpoint


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def check_finite(phase: str, where: str, **values: float) -> None:
    """Raise `TrainingDiverged` naming the phase, the value and `where` (e.g. the step counters) if any value is NaN
    or infinite."""
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise TrainingDiverged(f"{phase} {name} is {value} at {where}: lower the learning rates, raise gradient "
                                   "clipping, or resume from the last checkpoint")


class Replicas(Protocol):
    """What `guarded_update` needs to run in several processes (`heygen_lib.gan.data_parallel.DataParallel`)."""

    def mean(self, value: torch.Tensor) -> torch.Tensor: ...  # a number averaged over the processes

    def average_gradients(self, parameters: Iterable[nn.Parameter]) -> None: ...  # after backward, before the step


def guarded_update(optimizer: torch.optim.Optimizer, loss: torch.Tensor, parameters: Iterable[nn.Parameter],
                   clip: float, phase: str = "update", where: str = "", replicas: Replicas | None = None) -> float:
    """One optimizer step on `loss` after checking it is finite, with the gradient norm clipped at `clip`; returns
    the gradient norm before clipping. With `replicas` (several processes) the check is on the loss averaged over
    them, so that every process stops or none does, and the gradients are averaged before clipping."""
    check_finite(phase, where, loss=(loss if replicas is None else replicas.mean(loss)).item())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parameters = [p for p in parameters if p.grad is not None]
    if replicas is not None:
        replicas.average_gradients(parameters)
    norm = nn.utils.clip_grad_norm_(parameters, clip)
    optimizer.step()
    return float(norm)


def trainer_state(config: Any, modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
                  generators: Mapping[str, torch.Generator], **extra: Any) -> dict[str, Any]:
    """One dict of tensors and plain values: the config (a dataclass), each module's weights, each optimiser's
    state, each seeded generator's state, the global random state (dropout), and `extra` (steps, history...)."""
    return {
        "config": asdict(config),
        **global_rng_state(),
        "modules": {name: module.state_dict() for name, module in modules.items()},
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "generators": {name: gen.get_state() for name, gen in generators.items()},
        **extra,
    }


def save_trainer(path: str | Path, config: Any, modules: Mapping[str, nn.Module],
                 optimizers: Mapping[str, torch.optim.Optimizer], generators: Mapping[str, torch.Generator],
                 **extra: Any) -> Path:
    """`trainer_state` written atomically to `path`."""
    return write_checkpoint(trainer_state(config, modules, optimizers, generators, **extra), path)


def restore_trainer_state(path: str | Path, device: torch.device, config: Any, modules: Mapping[str, nn.Module],
                          optimizers: Mapping[str, torch.optim.Optimizer],
                          generators: Mapping[str, torch.Generator],
                          check: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Load what `save_trainer` wrote into the given modules, optimisers and generators (refusing a checkpoint made
    with another config, or one `check` refuses by raising, before anything is loaded) and restore the global
    random state; returns the whole state for the trainer's extras."""
    state = read_checkpoint(path, device, config)
    if check is not None:
        check(state)
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
    for name, generator in generators.items():
        generator.set_state(state["generators"][name].cpu())
    restore_global_rng(state)
    return state
