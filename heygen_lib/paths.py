"""Where the kit finds its data and writes what it makes.

One setting moves everything the notebooks make: ``HEYGEN_ARTIFACTS_DIR``. On Colab, point it at Google Drive (the
bootstrap cell's "keep artifacts on Drive" box does) and a later session, or another notebook's runtime, finds the
models and data sets earlier notebooks made. Without it, artifacts go to the kit's ``artifacts/`` folder.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from heygen_lib.settings import input_folder, output_folder

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_ENV = "HEYGEN_ARTIFACTS_DIR"
DATA_ENV = "HEYGEN_DATA_DIR"
# What a fresh artifacts folder still shares with the usual one: the record of lesson checks.
SHARED_CACHES = ("lessons",)


def data_dir() -> Path:
    """The kit's `data/` folder (``HEYGEN_DATA_DIR`` overrides it: an existing folder, checked on first use)."""
    chosen = os.environ.get(DATA_ENV, "").strip()
    return _chosen_data_dir(chosen) if chosen else PROJECT_ROOT / "data"


@lru_cache
def _chosen_data_dir(value: str) -> Path:
    return input_folder(value, DATA_ENV, f"point it at the folder that holds your data files, or unset {DATA_ENV}")


def runs_dir() -> Path:
    """Where the main job writes executed notebooks (git-ignored)."""
    return PROJECT_ROOT / "runs"


def artifacts_dir() -> Path:
    """Where the kit writes what it makes and reuses: tiny models, checkpoints, exported data (git-ignored).
    ``HEYGEN_ARTIFACTS_DIR`` moves it: a folder the kit can write to or create, checked on first use."""
    chosen = os.environ.get(ARTIFACTS_ENV, "").strip()
    return _chosen_artifacts_dir(chosen) if chosen else PROJECT_ROOT / "artifacts"


@lru_cache
def _chosen_artifacts_dir(value: str) -> Path:
    return output_folder(value, ARTIFACTS_ENV, "point it at a folder you can write to (it is created if missing), "
                                               f"or unset {ARTIFACTS_ENV}")


def fresh_artifacts_dir(folder: Path) -> Path:
    """Make `folder` an empty artifacts folder, as a fresh Colab runtime has, except for links to the current
    folder's `SHARED_CACHES`. Point ``HEYGEN_ARTIFACTS_DIR`` at it to run a notebook as if it were the first."""
    shared = artifacts_dir()
    folder.mkdir(parents=True, exist_ok=False)
    for name in SHARED_CACHES:
        (shared / name).mkdir(parents=True, exist_ok=True)  # so what a fresh run builds lands in the shared cache
        (folder / name).symlink_to((shared / name).resolve(), target_is_directory=True)
    return folder


def shown_path(path: str | Path) -> str:
    """A path as the kit prints it, never this machine's absolute path: relative to the kit when inside it, as
    ``$HEYGEN_ARTIFACTS_DIR/...`` when inside artifacts kept elsewhere (e.g. on Google Drive), else as given."""
    path = Path(os.path.abspath(path))
    if path.is_relative_to(PROJECT_ROOT):
        return str(path.relative_to(PROJECT_ROOT))
    artifacts = Path(os.path.abspath(artifacts_dir()))
    if path.is_relative_to(artifacts):
        return str(Path("$HEYGEN_ARTIFACTS_DIR") / path.relative_to(artifacts))
    return str(path)
