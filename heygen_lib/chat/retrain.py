"""A retraining round on feedback, judged honestly (notebook 06).

Three rules keep the round from fooling itself:

- **Feedback from data no later evaluation uses.** `split_by_conversation` cuts the dev split, whole conversations
  at a time, into a *feedback* part (the conversations people, or a scripted rater, give feedback on) and a
  *selection* part (which checkpoint to keep). The test split, which neither touches, measures the result.
- **The starting model is a candidate.** `choose_step` keeps the model as it was (step 0) unless a checkpoint of the
  round has a lower selection loss.
- **A verdict inside the noise says "no change".** `paired_change` compares the kept model with the starting one on
  the test split, pair by pair, with a bootstrap interval; `round_verdict` reads it.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from heygen_lib.data.pairs import Pair
from heygen_lib.nlg.evaluate import perplexity


def split_by_conversation(pairs: Sequence[Pair], share: float = 0.5, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(`share` of the conversations, the rest): no conversation has pairs in both parts."""
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    conversations = sorted({p.dialogue_id for p in pairs})
    random.Random(seed).shuffle(conversations)
    first = set(conversations[: max(1, round(share * len(conversations)))])
    if len(first) == len(conversations):
        raise ValueError(f"{len(conversations)} conversation(s) cannot be split in two")
    return [p for p in pairs if p.dialogue_id in first], [p for p in pairs if p.dialogue_id not in first]


@dataclass(frozen=True)
class StepChoice:
    """Which weights a round keeps: step 0 is the starting model."""

    step: int
    loss: float  # selection loss of the kept weights
    start_loss: float  # selection loss at step 0
    best_trained_step: int  # the round's best checkpoint (step > 0) and its loss, kept or not
    best_trained_loss: float


def choose_step(history: Sequence[dict]) -> StepChoice:
    """The step with the lowest dev ("selection") loss among the round's evaluations, step 0 included; on a tie the
    starting model stays (a change must earn its place). `history`: `FineTuneResult.history`."""
    dev = [(r["loss"], r["step"]) for r in history if r["phase"] == "dev"]
    start = [loss for loss, step in dev if step == 0]
    trained = [(loss, step) for loss, step in dev if step > 0]
    if not start or not trained:
        raise ValueError("the history needs a dev loss at step 0 and after it (fine_tune evaluates on start)")
    best_loss, best_step = min(trained)
    keep = best_loss < start[0]
    return StepChoice(best_step if keep else 0, best_loss if keep else start[0], start[0], best_step, best_loss)


@dataclass(frozen=True)
class Comparison:
    """Mean per-pair change of log-perplexity (after minus before; below 0: the model finds the real responses more
    likely) with its bootstrap interval over the pairs."""

    change: float
    low: float
    high: float
    pairs: int
    level: float = 0.95

    @property
    def inside_noise(self) -> bool:
        return self.low <= 0 <= self.high

    def describe(self) -> str:
        return (f"{self.change:+.4f} per pair ({self.level:.0%} bootstrap interval {self.low:+.4f} to "
                f"{self.high:+.4f}, {self.pairs} pairs)")


def pair_log_perplexities(model, tokenizer, pairs: Sequence[Pair], max_length: int) -> list[float]:
    """log perplexity of each pair's response given its context (`nlg.evaluate.perplexity`, one pair at a time)."""
    return [math.log(perplexity(model, tokenizer, [pair], max_length)) for pair in pairs]


def paired_change(before: Sequence[float], after: Sequence[float], resamples: int = 2000, seed: int = 0,
                  level: float = 0.95) -> Comparison:
    """`Comparison` of two models' per-pair scores on the same pairs: the mean difference and a percentile bootstrap
    interval (pairs resampled with replacement, the same draw for both models: the noise of which pairs were
    tested)."""
    if len(before) != len(after) or not before:
        raise ValueError(f"need the same non-zero number of scores, got {len(before)} and {len(after)}")
    diffs = [a - b for a, b in zip(after, before)]
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(resamples))
    tail = (1 - level) / 2
    low, high = means[int(tail * resamples)], means[min(resamples - 1, int((1 - tail) * resamples))]
    return Comparison(statistics.fmean(diffs), low, high, len(diffs), level)


def round_verdict(choice: StepChoice, comparison: Comparison) -> str:
    """One sentence that follows the numbers: "no change" when the starting model was kept or the test change is
    inside its interval; "better"/"worse" only outside it."""
    if choice.step == 0:
        return (f"no change: no checkpoint beat the starting model on the selection conversations (loss "
                f"{choice.start_loss:.4f} at step 0, best trained {choice.best_trained_loss:.4f} at step "
                f"{choice.best_trained_step}), so the round keeps the model it started from")
    kept = f"the kept checkpoint (step {choice.step}) changes test log-perplexity by {comparison.describe()}"
    if comparison.inside_noise:
        return f"no change: {kept}, an interval that holds 0"
    word = "better" if comparison.high < 0 else "worse"
    return f"{word}: {kept}, outside the noise"


def history_reading(comparison: Comparison) -> str:
    """What the earlier turns of a conversation do for a model, from `paired_change(last turn only, whole
    history)` of the real replies' log-perplexities: "no difference" inside the interval."""
    said = (f"The whole history instead of the last turn alone changes the real replies' log-perplexity by "
            f"{comparison.describe()}: ")
    if comparison.inside_noise:
        return said + ("no difference. This model answers the last message; the turns before it, though they are in "
                       "the prompt, barely change what it expects.")
    if comparison.high < 0:
        return said + "lower, outside the noise: the earlier turns help the model expect the real reply."
    return said + ("higher, outside the noise: the earlier turns make the real reply less likely, so this model "
                   "reads them as noise more than as context.")

