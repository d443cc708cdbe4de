"""Diversity and fidelity of augmented text, measured the same way for every augmenter and rate.

* diversity: distinct-2 of the augmented texts (higher: more varied) and their Self-BLEU-4 (lower: more varied);
* fidelity: cosine similarity of each text to its source under all-MiniLM-L6-v2 (meaning kept) and corpus BLEU-4
  against the source (wording kept);
* realism: perplexity under a word n-gram LM of the real training texts, as the median ratio of each text's
  perplexity to its source's (1 = as likely as the source; higher: reads less like the data). A ratio, because the LM
  has seen the sources (they are training texts), so their own perplexity is low and raw values would flatter them.

Compare rows of one table only: distinct-n and Self-BLEU depend on how many texts are scored, so every row scores
rewrites of the same source texts. Definitions of the metrics: `heygen_lib.metrics`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from collections.abc import Sequence
from statistics import mean, median
from typing import Any

import torch

from heygen_lib.augment.base import Target, originals_of
from heygen_lib.augment.filters import rewritten_text
from heygen_lib.data.pairs import Pair
from heygen_lib.language_models import PerplexityScorer
from heygen_lib.paths import data_dir
from heygen_lib.data.dialogue import DataFormatError
from heygen_lib.data.loaders import json_lines
from heygen_lib.metrics import SentenceEncoder, corpus_bleu, distinct_n, embedding_similarity, self_bleu


class CachingEncoder:
    """A sentence encoder that embeds each distinct text once: every row of a table compares with the same sources,
    so they are encoded for the first row only."""

    def __init__(self, encoder: SentenceEncoder):
        self.encoder = encoder
        self._cache: dict[str, Any] = {}

    def encode(self, texts: Sequence[str]) -> Any:
        new = [text for text in dict.fromkeys(texts) if text not in self._cache]
        if new:
            self._cache.update(zip(new, self.encoder.encode(new)))
        return torch.stack([self._cache[text] for text in texts])


def text_scores(
    texts: Sequence[str], sources: Sequence[str], encoder: SentenceEncoder, lm: PerplexityScorer
) -> dict[str, float]:
    """The table's columns for augmented `texts` rewritten from the aligned `sources`."""
    if not texts:
        raise ValueError("no texts to score: the augmenter made nothing")
    return {
        "texts": len(texts),
        "distinct-2": distinct_n(texts, 2),
        "self-BLEU-4": self_bleu(texts, 4).score,
        "similarity to source": mean(embedding_similarity(texts, sources, encoder)),
        "BLEU-4 vs source": corpus_bleu(texts, [[s] for s in sources]).score,
        "perplexity vs source": float(median(lm.perplexity(texts) / lm.perplexity(sources))),
    }


def real_scores(texts: Sequence[str], encoder: SentenceEncoder, lm: PerplexityScorer) -> dict[str, float]:
    """The same columns for unaugmented texts (each its own source): the row to compare augmenters with."""
    return text_scores(texts, texts, encoder, lm)


def pair_scores(
    new_pairs: Sequence[Pair],
    originals: Sequence[Pair],
    encoder: SentenceEncoder,
    lm: PerplexityScorer,
    target: Target = "response",
) -> dict[str, Any]:
    """`text_scores` of the rewritten part of augmented pairs, each against the same part of its original."""
    sources = originals_of(new_pairs, originals)
    if any(source is None for source in sources):
        raise ValueError("some augmented pairs name no pair among `originals` in their provenance")
    texts = [rewritten_text(p, target) for p in new_pairs]
    return text_scores(texts, [rewritten_text(o, target) for o in sources], encoder, lm)  # type: ignore[arg-type]


def meaning_change_rates(path: Path | None = None) -> list[dict[str, Any]]:
    """How often a synonym replacement changed the meaning of its sentence, per setting of the synonym lookup, from
    hand judgements (``data/synonym_judgements.jsonl``; its data card says how they were made), with a 95% Wilson
    interval: one row per setting, in file order."""
    path = path or data_dir() / "synonym_judgements.jsonl"
    by_setting: dict[str, list[bool]] = {}
    for line, record in json_lines(path):
        try:
            key = json.dumps(record["settings"], sort_keys=True)
            by_setting.setdefault(key, []).append(bool(record["meaning_changed"]))
        except (KeyError, TypeError) as error:
            raise DataFormatError(path, f"a judgement needs settings and meaning_changed ({error})", line) from None
    rows = []
    for key, judged in by_setting.items():
        low, high = wilson_interval(sum(judged), len(judged))
        rows.append({"settings": json.loads(key), "judged": len(judged), "changed": sum(judged),
                     "rate": sum(judged) / len(judged), "95% low": low, "95% high": high})
    return rows


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% for z = 1.96)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half
