"""Training checkpoints the kit's trainers share: written atomically, read with ``weights_only=True``.

A trainer puts its models, optimisers, counters and random-generator states in one dict of tensors and plain values.
`write_checkpoint` writes a temporary file, fsyncs it, and only then renames it over the old one, so an interrupted
save (or a power cut) leaves the previous checkpoint intact; a temporary left by a killed save is overwritten by the
next. `read_checkpoint` never unpickles code, names the file in every error, and refuses a checkpoint made with
another config, naming the fields that differ.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from heygen_lib.jsonl_log import os_error


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, not the kit's, or written with another config."""


def global_rng_state() -> dict[str, Any]:
    """The global CPU and CUDA generators (dropout and other unseeded draws use them)."""
    return {"torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_global_rng(state: dict[str, Any]) -> None:
    """Put back what `global_rng_state` saved (CUDA state only where there is a GPU)."""
    torch.set_rng_state(state["torch_rng"].cpu())
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])


def temporary_path(path: str | Path) -> Path:
    """Where `write_checkpoint` writes before the rename (one fixed name, so a killed save's leftover is reused)."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


def write_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Save `state` to `path` through a temporary file, fsynced before the rename, so a crash mid-save never leaves
    half a checkpoint; on an error the temporary file is removed, and a failed write (a full disk) is an `OSError`
    naming the checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:  # "wb" truncates a leftover of a killed save
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        # torch's writer reports a failed write as a RuntimeError ("unexpected pos ..."), the OSError as its context
        cause = err if isinstance(err, OSError) else err.__context__ if isinstance(err, RuntimeError) else None
        if isinstance(cause, OSError):
            raise os_error(cause, f"could not save the checkpoint {path}: {cause.strerror or cause}; the previous "
                                  "checkpoint there is unchanged (is the disk full?)") from err
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
    return path


def read_checkpoint(path: str | Path, device: torch.device, config: Any) -> dict[str, Any]:
    """The state saved at `path` (tensors and plain values only), if it was written with the same `config` (a
    dataclass, stored as ``asdict(config)`` under "config"). Every failure is a `CheckpointError` naming the file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as err:  # weights_only refused something that is not tensors and plain values
        raise CheckpointError(f"{path}: refused, it holds more than tensors and plain values ({err})") from None
    except (OSError, EOFError, RuntimeError, zipfile.BadZipFile, ValueError) as err:
        size = path.stat().st_size if path.exists() else 0
        raise CheckpointError(f"{path}: not a readable checkpoint ({size} bytes; empty or cut short? "
                              f"{type(err).__name__}: {err}); delete it to start over") from None
    if not isinstance(state, dict) or "config" not in state:
        raise CheckpointError(f"{path}: no 'config' entry, so not a checkpoint written by the kit's trainers")
    expected = asdict(config)
    saved = state["config"]
    if saved != expected:
        if isinstance(saved, dict):
            missing = "(missing)"  # not None: a field saved as None and absent now differs too
            differ = "; ".join(f"{name}: saved {saved.get(name, missing)!r}, now {expected.get(name, missing)!r}"
                               for name in sorted(set(saved) | set(expected))
                               if saved.get(name, missing) != expected.get(name, missing))
        else:
            differ = f"saved config {saved!r}"
        raise CheckpointError(f"{path} was written with another {type(config).__name__}; {differ}")
    return state
