"""Training checkpoints the kit's trainers share: written atomically, read with ``weights_only=True``.

A trainer puts its models, optimisers, counters and random-generator states in one dict of tensors and plain values.
`write_checkpoint` replaces the file only once the new one is complete, so an interrupted save leaves the previous
checkpoint intact; `read_checkpoint` never unpickles code, and refuses a checkpoint made with another config.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch


def global_rng_state() -> dict[str, Any]:
    """The global CPU and CUDA generators (dropout and other unseeded draws use them)."""
    return {"torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_global_rng(state: dict[str, Any]) -> None:
    """Put back what `global_rng_state` saved (CUDA state only where there is a GPU)."""
    torch.set_rng_state(state["torch_rng"].cpu())
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])


def write_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Save `state` to `path` through a temporary file, so a crash mid-save never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def read_checkpoint(path: str | Path, device: torch.device, config: Any) -> dict[str, Any]:
    """The state saved at `path` (tensors and plain values only), if it was written with the same `config` (a
    dataclass, stored as ``asdict(config)`` under "config")."""
    state = torch.load(path, map_location=device, weights_only=True)
    if state["config"] != asdict(config):
        raise ValueError(f"{path} was written with another {type(config).__name__}: {state['config']}")
    return state
