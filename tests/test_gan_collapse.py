import pytest
import torch

from heygen_lib.gan.collapse import CollapseCheck
from heygen_lib.gan.evaluation import NOT_FLAGGED, nll_test_noise, text_reading
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig


def two_generators():
    torch.manual_seed(0)
    config = LSTMGeneratorConfig(vocab_size=30, max_len=6, embed_dim=8, hidden_dim=8)
    reference, other = LSTMGenerator(config), LSTMGenerator(config)
    return reference, other, torch.randint(30, (200, 6))


def check(reference, test):
    return CollapseCheck({"nll_test": 5.0, "distinct-3": 0.96, "unique": 1.0}, {"distinct-3": 0.003, "unique": 0.0},
                         reference, test)


def test_collapse_is_flagged_when_coverage_and_diversity_both_move_beyond_their_noise():
    reference, other, test = two_generators()
    se = nll_test_noise(other, reference, test)
    assert se > 0
    collapse = check(reference, test)
    # the Gumbel RSGAN case a fixed "distinct-3 down by 10%" rule missed: down 8%, while NLL_test rose
    flag = collapse.flag(other, {"nll_test": 5.0 + 10 * se, "distinct-3": 0.885, "unique": 1.0})
    assert "nll_test" in flag and "distinct-3" in flag
    # sharper samples that still cover the test data, or worse coverage with the same diversity: no collapse
    assert collapse.flag(other, {"nll_test": 5.0 + 2 * se, "distinct-3": 0.885, "unique": 1.0}) == NOT_FLAGGED
    assert collapse.flag(other, {"nll_test": 5.0 + 10 * se, "distinct-3": 0.955, "unique": 1.0}) == NOT_FLAGGED
    # more diverse and covering less is not collapse either (the move must be towards collapse)
    assert collapse.flag(other, {"nll_test": 5.0 + 10 * se, "distinct-3": 0.99, "unique": 1.0}) == NOT_FLAGGED


def test_a_number_whose_repeats_never_varied_sets_no_threshold():
    reference, other, test = two_generators()
    se = nll_test_noise(other, reference, test)
    moves = check(reference, test).moves(other, {"nll_test": 5.0 + 10 * se, "distinct-3": 0.96, "unique": 0.99})
    assert "unique" not in moves and moves["nll_test"][1] == pytest.approx(10.0)
    thresholds = {r["metric"]: r["flag beyond"] for r in check(reference, test).thresholds()}
    assert thresholds["distinct-3"] == pytest.approx(0.009) and thresholds["unique"].startswith("not used")


def test_seqgan_on_real_text_that_halved_distinct_2_is_flagged_and_its_bleu_never_ranked():
    # measured on real text: 4 SeqGAN steps took Self-BLEU-4 0.179 -> 0.508 and distinct-2 0.567 -> 0.282
    reference, other, test = two_generators()
    se = nll_test_noise(other, reference, test)
    collapse = CollapseCheck({"nll": 4.30, "self-BLEU-4": 0.179, "distinct-2": 0.567},
                             {"self-BLEU-4": 0.01, "distinct-2": 0.005}, reference, test, coverage="nll")
    seqgan = {"nll": 4.30 + 5 * se, "self-BLEU-4": 0.508, "distinct-2": 0.282, "BLEU-4": 0.30}
    flag = collapse.flag(other, seqgan)
    assert "self-BLEU-4" in flag and "distinct-2" in flag
    # MLE's curve: BLEU-4 rises as Self-BLEU-4 rises (colder); SeqGAN sits far above it, yet is not ranked
    curve = [{"temperature": t, "self-BLEU-4": x, "BLEU-4": y} for t, x, y in ((0.7, 0.6, 0.12), (1.0, 0.18, 0.08))]
    noise = {"self-BLEU-4": 0.01, "BLEU-4": 0.005}
    assert "BLEU-4 ranks it above MLE" in text_reading("SeqGAN", seqgan, curve, noise)
    reading = text_reading("SeqGAN", seqgan, curve, noise, collapse=flag)
    assert "**above**" in reading and "not ranked" in reading and "ranks it above" not in reading
