"""Where the kit finds its data and writes what it makes."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The kit's `data/` folder (``HEYGEN_DATA_DIR`` overrides it)."""
    return Path(os.environ.get("HEYGEN_DATA_DIR", PROJECT_ROOT / "data"))


def runs_dir() -> Path:
    """Where the main job writes executed notebooks (git-ignored)."""
    return PROJECT_ROOT / "runs"


def artifacts_dir() -> Path:
    """Where the kit writes what it makes and reuses: tiny models, checkpoints, exported data (git-ignored)."""
    return Path(os.environ.get("HEYGEN_ARTIFACTS_DIR", PROJECT_ROOT / "artifacts"))
