"""Corpus statistics a reader wants to see before training on a corpus."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from heygen_lib.data.dialogue import Dialogue
from heygen_lib.data.pairs import Pair
from heygen_lib.text import word_tokens


def turn_lengths(dialogues: Sequence[Dialogue]) -> list[int]:
    """Words (and punctuation marks) per turn."""
    return [len(word_tokens(turn.text)) for d in dialogues for turn in d.turns]


def turns_per_dialogue(dialogues: Sequence[Dialogue]) -> list[int]:
    return [len(d.turns) for d in dialogues]


def response_lengths(pairs: Sequence[Pair]) -> list[int]:
    """Tokens per response: what a response model must learn to produce."""
    return [len(word_tokens(p.response.text)) for p in pairs]


def vocabulary_growth(dialogues: Sequence[Dialogue], points: int = 30) -> tuple[list[int], list[int]]:
    """Distinct word types seen against tokens read, at `points` evenly spaced positions (Heaps' law curve)."""
    tokens = [tok for d in dialogues for turn in d.turns for tok in word_tokens(turn.text)]
    if not tokens:
        return [], []
    marks = sorted({max(1, round(len(tokens) * (i + 1) / points)) for i in range(points)})
    seen: set[str] = set()
    sizes, start = [], 0
    for mark in marks:
        seen.update(tokens[start:mark])
        sizes.append(len(seen))
        start = mark
    return marks, sizes


def heaps_exponent(tokens_read: Sequence[int], types: Sequence[int]) -> float:
    """The slope beta of Heaps' law V = K N^beta, fitted by least squares on log V against log N (NaN for < 2 points)."""
    if len(tokens_read) < 2:
        return float("nan")
    return float(np.polyfit(np.log(tokens_read), np.log(types), 1)[0])


def vocabulary_table(corpora: Mapping[str, Sequence[Dialogue]]) -> list[dict[str, object]]:
    """Per corpus: tokens read N, distinct tokens V, the type/token ratio V/N and Heaps' exponent beta."""
    rows = []
    for source, dialogues in corpora.items():
        tokens_read, types = vocabulary_growth(dialogues)
        n, v = (tokens_read[-1], types[-1]) if tokens_read else (0, 0)
        rows.append({"corpus": source, "tokens N": f"{n:,}", "types V": f"{v:,}", "V / N": v / n if n else float("nan"),
                     "Heaps β": heaps_exponent(tokens_read, types)})
    return rows


def top_ngrams(dialogues: Sequence[Dialogue], n: int = 2, k: int = 10) -> list[tuple[str, int]]:
    """The `k` most frequent word n-grams within turns (punctuation excluded), most frequent first."""
    counts: Counter[str] = Counter()
    for d in dialogues:
        for turn in d.turns:
            words = [tok for tok in word_tokens(turn.text) if tok[0].isalnum() or tok[0] == "_"]
            counts.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]
