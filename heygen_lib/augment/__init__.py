"""Augmentation: back-translation, reversal, perturbation and mixing, with quality filters.

Submodules: `base` (the common interface and provenance), `protect` (spans no augmenter may change), `perturb` (EDA
edits and typos, WordNet synonyms via `wordnet`), `backtranslate` (MarianMT) and `apertium` (rule-based, offline),
`reversal`, `mixing`, `filters`, `evaluate` (diversity, fidelity and realism scores) and `selection` (the rule that
turns the measured table into the pool notebook 05 trains on).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from heygen_lib.augment.base import (AugmentReport, DialogueAugmenter, Target, TextAugmenter, augment_pairs,
                                     augmented_pairs_path, provenance)

if TYPE_CHECKING:
    from heygen_lib.profile import Profile

__all__ = ["AugmentReport", "DialogueAugmenter", "TextAugmenter", "augment_pairs", "augmented_pairs_path",
           "ensure_augmented_pairs", "provenance"]


def ensure_augmented_pairs(profile: Profile | None = None, target: Target = "context") -> Path:
    """Notebook 02's pool for `target`; where it is missing, build it now with the same rule (a quick version: two
    rates per augmenter, on the profile's pairs) and say so in one line."""
    path = augmented_pairs_path(target)
    if path.is_file():
        return path
    from heygen_lib.augment.selection import make_pool
    from heygen_lib.paths import shown_path
    from heygen_lib.profile import active_profile
    from heygen_lib.quiet import quiet_file_progress

    start = time.perf_counter()
    with quiet_file_progress():  # the encoder's "Loading weights" bar would be a stray bar in the notebook
        pairs, selection = make_pool(profile or active_profile(), target, rates=(0.1, 0.2))
    chosen = ", ".join(name if rate is None else f"{name} {rate}" for name, rate in selection) or "nothing"
    print(f"{shown_path(path)} was missing (notebook 02 writes it): built the rule-selected {target} pool now, "
          f"{len(pairs)} pairs from {chosen} in {time.perf_counter() - start:.0f} s")
    return path
