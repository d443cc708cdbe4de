"""The scripted reviewer's rule: what a headless run accepts in place of a person, stated as thresholds.

A candidate is accepted when the **independent judge** (a discriminator the generator never trained against, on
another encoder's features, trained on held-out pairs) gives it P(real) >= `min_judge` (`for_candidates` sets it
at a quantile of the candidates' judge scores: a judge that calls nearly every generated reply fake still ranks
them), and its perplexity under the
MLE model is at most `max_perplexity_ratio` times the median perplexity of real held-out responses (it reads like
the data to a model of the data); everything else is rejected. The export's filters (unfinished, copies, length,
near duplicates, n-gram perplexity) have already run. It stands in for a person: the widget records people's
decisions in the same store, and a person's decision is never overwritten by the script.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan.review import ReviewStore, key_of


@dataclass(frozen=True)
class ReviewRule:
    """Thresholds of the scripted reviewer."""

    min_judge: float = 0.5  # the independent judge's P(real)
    max_perplexity_ratio: float = 2.0  # MLE perplexity / median perplexity of real held-out responses
    real_perplexity: float = 1.0  # that median (set from the data)

    @property
    def reviewer(self) -> str:
        return (f"script (stands in for a person): accept judge P(real) >= {self.min_judge:.3g} and MLE perplexity "
                f"<= {self.max_perplexity_ratio:g} x {self.real_perplexity:.1f}")

    @classmethod
    def for_candidates(cls, candidates: Sequence[Pair], judge_quantile: float, max_perplexity_ratio: float,
                       real_perplexity: float) -> ReviewRule:
        """The rule with `min_judge` at the `judge_quantile` quantile of the candidates' judge scores."""
        scores = sorted(p.meta["provenance"]["scores"]["judge"] for p in candidates)
        at = scores[min(len(scores) - 1, int(judge_quantile * len(scores)))]
        return cls(at, max_perplexity_ratio, real_perplexity)

    def accepts(self, pair: Pair) -> bool:
        scores = pair.meta["provenance"]["scores"]
        return (scores["judge"] >= self.min_judge
                and scores["mle_perplexity"] <= self.max_perplexity_ratio * self.real_perplexity)


def rule_review(store: ReviewStore, candidates: Sequence[Pair], rule: ReviewRule) -> Counter:
    """Decide every *pending* candidate by `rule` (decisions already in the store, a person's or an earlier run's,
    stay); returns the decisions made."""
    made: Counter = Counter()
    for pair in store.pending(candidates):
        decision = "accept" if rule.accepts(pair) else "reject"
        store.record(key_of(pair), decision, reviewer=rule.reviewer)
        made[decision] += 1
    return made
