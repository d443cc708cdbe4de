"""Quiet loading: transformers' per-file progress bars switched off for the length of a block.

A bottom-layer helper with no imports from the kit, so any module (augmentation, fine-tuning, the dialogue GAN) can
use it without reaching into another topic's module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_file_progress() -> Iterator[None]:
    """Silence transformers' per-file bars ("Loading weights", "Writing model shards"): a fine-tuning run saves a
    checkpoint at every evaluation and a notebook would fill with them. Trainer's own progress bar is not affected."""
    from transformers.utils import logging as hf_logging  # imported here: transformers is slow to import

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
