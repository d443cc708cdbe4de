"""The retraining round's honesty rules: disjoint feedback and selection conversations, step 0 as a candidate, and a
verdict that says "no change" inside the noise."""
import pytest

from heygen_lib.chat.retrain import (Comparison, StepChoice, choose_step, paired_change, round_verdict,
                                     split_by_conversation)
from heygen_lib.data import Pair, Turn


def pairs(conversations, per=3):
    return [Pair((Turn("customer", f"hi {c}"),), Turn("agent", f"hello {c} {i}"), f"c{c}", "test", i)
            for c in range(conversations) for i in range(per)]


def test_split_by_conversation_never_puts_one_conversation_in_both_parts():
    feedback, selection = split_by_conversation(pairs(10), share=0.5, seed=3)
    assert {p.dialogue_id for p in feedback}.isdisjoint({p.dialogue_id for p in selection})
    assert len(feedback) == len(selection) == 15
    with pytest.raises(ValueError, match="cannot be split"):
        split_by_conversation(pairs(1))


def history(*dev):
    return [{"phase": "dev", "step": step, "loss": loss} for step, loss in dev] + [
        {"phase": "train", "step": 5, "loss": 0.1}]


def test_the_starting_model_is_kept_unless_a_checkpoint_beats_it():
    assert choose_step(history((0, 2.0), (10, 2.1), (20, 2.05))) == StepChoice(0, 2.0, 2.0, 20, 2.05)
    assert choose_step(history((0, 2.0), (10, 2.0))).step == 0  # a tie keeps the start
    assert choose_step(history((0, 2.0), (10, 1.9), (20, 1.95))) == StepChoice(10, 1.9, 2.0, 10, 1.9)
    with pytest.raises(ValueError, match="step 0"):
        choose_step(history((10, 1.0)))


def test_paired_change_is_the_mean_difference_with_an_interval_around_it():
    before = [1.0, 2.0, 3.0, 4.0] * 10
    same = paired_change(before, before)
    assert (same.change, same.low, same.high) == (0.0, 0.0, 0.0) and same.inside_noise
    lower = paired_change(before, [b - 0.5 + 0.01 * (i % 3) for i, b in enumerate(before)])
    assert lower.low <= lower.change <= lower.high < 0 and not lower.inside_noise
    assert lower.change == pytest.approx(-0.5 + 0.01 * sum(i % 3 for i in range(40)) / 40)
    noisy = paired_change(before, [b + (0.5 if i % 2 else -0.5) for i, b in enumerate(before)])
    assert noisy.inside_noise and noisy.low < 0 < noisy.high


def test_the_verdict_says_no_change_inside_the_noise_or_when_step_0_is_kept():
    kept_start = StepChoice(0, 2.0, 2.0, 20, 2.05)
    trained = StepChoice(10, 1.9, 2.0, 10, 1.9)
    assert round_verdict(kept_start, Comparison(0.0, 0.0, 0.0, 40)).startswith("no change: no checkpoint beat")
    assert round_verdict(trained, Comparison(-0.01, -0.03, 0.01, 40)).startswith("no change: the kept checkpoint")
    assert round_verdict(trained, Comparison(-0.05, -0.08, -0.02, 40)).startswith("better:")
    assert round_verdict(trained, Comparison(0.05, 0.02, 0.08, 40)).startswith("worse:")
