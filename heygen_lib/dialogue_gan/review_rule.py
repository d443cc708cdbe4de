"""The scripted reviewer's rule: what a headless run accepts in place of a person, stated as absolute thresholds.

A person accepts a generated reply when it reads like a real one. The rule asks three things of each candidate, each
calibrated on **real held-out replies** (never on the candidates themselves, so it may accept nothing):

- the **independent judge** (a discriminator the generator never trained against, on another encoder's features)
  gives it a P(real) at least that of the real held-out replies' `real_quantile` quantile: it looks at least as real
  as all but the least real-looking real replies;
- its **perplexity under the MLE model** is at most the real replies' ``1 - real_quantile`` quantile: a model of
  the data finds it no stranger than all but the strangest real replies;
- it is **readable**: every word of letters is one the training pairs or the English lexicon (WordNet, with
  its inflections) knows, so no glued word pieces ("reachation") reach the training data.

The export's filters (unfinished, copies, length, near duplicates, n-gram perplexity) have already run. The widget
records people's decisions in the same store, and a person's decision is never overwritten by the script.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan.review import ReviewStore, key_of
from heygen_lib.text import word_tokens


def lexicon_check(known_texts: Iterable[str]) -> Callable[[str], bool]:
    """A test of one lower-case word: in the training texts' words, or a WordNet lemma or inflection of one (where
    WordNet is installed; without it, the training words alone)."""
    known = {w for text in known_texts for w in word_tokens(text)}
    try:
        from heygen_lib.augment.wordnet import load_wordnet, wordnet_available

        wordnet = load_wordnet() if wordnet_available() else None
    except ImportError:
        wordnet = None

    def is_word(word: str) -> bool:
        return word in known or (wordnet is not None and wordnet.morphy(word) is not None)

    return is_word


def invented_words(text: str, is_word: Callable[[str], bool]) -> list[str]:
    """The words of letters in `text` that `is_word` does not know."""
    return [w for w in word_tokens(text) if w.isalpha() and not is_word(w)]


@dataclass(frozen=True)
class ReviewRule:
    """Thresholds of the scripted reviewer, each read off real held-out replies (`calibrated`)."""

    min_judge: float  # the independent judge's P(real)
    max_perplexity: float  # per-token perplexity under the MLE model
    real_quantile: float = 0.1  # the share of real held-out replies each threshold would turn away
    is_word: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)  # None: no readability gate

    @classmethod
    def calibrated(cls, real_judge: Sequence[float], real_perplexity: Sequence[float], is_word=None,
                   real_quantile: float = 0.1) -> ReviewRule:
        """The thresholds that turn away `real_quantile` of real held-out replies on each score: the judge floor at
        that quantile of their P(real), the perplexity ceiling at ``1 - real_quantile``."""
        if not 0 <= real_quantile < 0.5:
            raise ValueError(f"real_quantile must be in [0, 0.5), got {real_quantile}")
        return cls(float(np.quantile(real_judge, real_quantile)),
                   float(np.quantile(real_perplexity, 1 - real_quantile)), real_quantile, is_word)

    @property
    def reviewer(self) -> str:
        readable = "; every word known" if self.is_word else ""
        return (f"script (stands in for a person): accept judge P(real) >= {self.min_judge:.3g} and MLE perplexity "
                f"<= {self.max_perplexity:.1f}{readable} (each turns away {self.real_quantile:.0%} of real "
                "held-out replies)")

    def reasons(self, pair: Pair) -> list[str]:
        """Why the rule rejects `pair` (empty: it accepts)."""
        scores = pair.meta["provenance"]["scores"]
        found = []
        if not scores["judge"] >= self.min_judge:
            found.append(f"judge P(real) {scores['judge']:.2f} < {self.min_judge:.2f}")
        if not scores["mle_perplexity"] <= self.max_perplexity:
            found.append(f"perplexity {scores['mle_perplexity']:.1f} > {self.max_perplexity:.1f}")
        if self.is_word and (unknown := invented_words(pair.response.text, self.is_word)):
            found.append("unknown words: " + ", ".join(unknown[:3]))
        return found

    def accepts(self, pair: Pair) -> bool:
        return not self.reasons(pair)

    def pass_rates(self, judge: Sequence[float], perplexity: Sequence[float], texts: Sequence[str]) -> dict[str, float]:
        """The share of replies (real or generated, given their scores) that pass each gate and all of them: the
        real held-out replies' row shows what the rule would turn away from real data."""
        judged = [j >= self.min_judge for j in judge]
        fluent = [p <= self.max_perplexity for p in perplexity]
        readable = [not (self.is_word and invented_words(t, self.is_word)) for t in texts]
        share = lambda flags: sum(flags) / len(flags) if flags else float("nan")  # noqa: E731
        return {"judge": share(judged), "perplexity": share(fluent), "readable": share(readable),
                "accepted": share([a and b and c for a, b, c in zip(judged, fluent, readable)])}


def rule_review(store: ReviewStore, candidates: Sequence[Pair], rule: ReviewRule) -> Counter:
    """Decide every *pending* candidate by `rule` (decisions already in the store, a person's or an earlier run's,
    stay); returns the decisions made."""
    made: Counter = Counter()
    for pair in store.pending(candidates):
        decision = "accept" if rule.accepts(pair) else "reject"
        store.record(key_of(pair), decision, reviewer=rule.reviewer)
        made[decision] += 1
    return made
