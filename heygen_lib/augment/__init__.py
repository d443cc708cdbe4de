"""Augmentation: back-translation, reversal, perturbation and mixing, with quality filters."""

from heygen_lib.augment.base import AugmentReport, DialogueAugmenter, TextAugmenter, augment_pairs, provenance

__all__ = ["AugmentReport", "DialogueAugmenter", "TextAugmenter", "augment_pairs", "provenance"]
