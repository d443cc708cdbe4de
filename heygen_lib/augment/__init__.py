"""Augmentation: back-translation, reversal, perturbation and mixing, with quality filters.

Submodules: `base` (the common interface and provenance), `perturb` (EDA edits and typos, WordNet synonyms via
`wordnet`), `backtranslate`, `reversal`, `mixing`, `filters`, and `evaluate` (diversity and fidelity scores).
"""

from heygen_lib.augment.base import (AugmentReport, DialogueAugmenter, TextAugmenter, augment_pairs, augmented_pairs_path,
                                     provenance)

__all__ = ["AugmentReport", "DialogueAugmenter", "TextAugmenter", "augment_pairs", "augmented_pairs_path", "provenance"]
