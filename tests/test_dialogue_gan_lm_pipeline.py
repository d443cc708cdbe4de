"""The seed-guarded readings, BLEU's brevity penalty and the scripted review rule of the LM dialogue GAN."""

import math

import pytest

from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan.lm_pipeline import (SeedComparison, brevity_penalty, reading, unseen_word_reading,
                                              unseen_word_share, verdict)
from heygen_lib.dialogue_gan.review import ReviewStore
from heygen_lib.dialogue_gan.review_rule import ReviewRule, rule_review


def test_brevity_penalty_charges_short_replies_only():
    assert brevity_penalty(["a b c d"], ["w x y z"]) == 1.0
    assert brevity_penalty(["a b"], ["w x y z"]) == pytest.approx(math.exp(1 - 4 / 2))


def test_unseen_words_are_the_letter_words_found_in_no_known_text():
    known = ["Your order ships today.", "Sorry about the delay!"]
    assert unseen_word_share(["Your order ships today, 1234!"], known) == 0.0  # numbers and punctuation don't count
    assert unseen_word_share(["Your returnels shipsa today."], known) == pytest.approx(2 / 4)
    assert unseen_word_share([], known) == 0.0


def test_the_unseen_word_reading_flags_invented_words_only_well_above_the_real_share():
    assert "invented words" in unseen_word_reading(0.20, 0.03)
    assert "about as many as in real replies" in unseen_word_reading(0.04, 0.03)
    assert "about as many as in real replies" in unseen_word_reading(0.0, 0.0)


def _comparison(adv, ctl):
    return SeedComparison({"adversarial": [{"judge P(real)": v} for v in adv],
                           "teacher forcing only": [{"judge P(real)": v} for v in ctl]}, {})


def test_a_difference_inside_the_seed_spread_is_no_difference():
    assert verdict(_comparison([0.50, 0.60, 0.70], [0.55, 0.50, 0.60]), "judge P(real)", "adversarial",
                   "teacher forcing only") == "no difference"


def test_a_difference_beyond_twice_its_standard_error_is_read_in_the_metric_direction():
    comparison = _comparison([0.80, 0.81, 0.79], [0.50, 0.51, 0.49])
    assert verdict(comparison, "judge P(real)", "adversarial", "teacher forcing only") == "better"
    assert verdict(comparison, "judge P(real)", "teacher forcing only", "adversarial") == "worse"


def test_the_mean_and_spread_are_over_seeds():
    comparison = _comparison([0.2, 0.4, 0.6], [0.5])
    assert comparison.mean("adversarial", "judge P(real)") == pytest.approx(0.4)
    assert comparison.std("adversarial", "judge P(real)") == pytest.approx(0.2)
    assert comparison.rows()[0]["judge P(real)"] == "0.400 ± 0.200"


def _candidate(i, judge, ppl, text=None):
    return Pair((Turn("customer", f"question {i}"),), Turn("agent", text or f"answer {i}"), f"d{i}", "gan", 1,
                meta={"candidate_key": f"k{i}", "provenance": {"scores": {"judge": judge, "mle_perplexity": ppl}}})


def test_the_rule_accepts_only_candidates_the_judge_and_the_mle_model_both_pass(tmp_path):
    store = ReviewStore(tmp_path / "review.jsonl")
    candidates = [_candidate(0, 0.9, 10.0), _candidate(1, 0.3, 10.0), _candidate(2, 0.9, 25.0)]
    made = rule_review(store, candidates, ReviewRule(min_judge=0.5, max_perplexity=24.0))
    assert dict(made) == {"accept": 1, "reject": 2}
    decided = store.decisions()
    assert [decided[f"k{i}"].decision for i in range(3)] == ["accept", "reject", "reject"]
    assert "stands in for a person" in decided["k0"].reviewer


def test_the_rule_never_overwrites_a_decision_already_made(tmp_path):
    store = ReviewStore(tmp_path / "review.jsonl")
    store.record("k0", "reject", reviewer="a person")
    made = rule_review(store, [_candidate(0, 0.99, 1.0)], ReviewRule(min_judge=0.5, max_perplexity=24.0))
    assert not made and store.decisions()["k0"].reviewer == "a person"


def test_reading_names_its_noise_and_says_no_difference():
    text = reading(_comparison([0.50, 0.60, 0.70], [0.55, 0.50, 0.60]), "adversarial", "teacher forcing only")
    assert "over 3 training seeds" in text and "no difference" in text and "judge P(real) (+0.050, noise ±" in text


def test_ensure_reviewed_pairs_returns_an_existing_export_without_building(tmp_path, monkeypatch, capsys):
    from heygen_lib.dialogue_gan import ensure_reviewed_pairs, lm_pipeline
    from heygen_lib.dialogue_gan.review import reviewed_pairs_path

    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    monkeypatch.setattr(lm_pipeline, "build_reviewed_export", lambda *a, **k: pytest.fail("rebuilt"))
    reviewed_pairs_path().parent.mkdir(parents=True)
    reviewed_pairs_path().write_text("", encoding="utf-8")
    assert ensure_reviewed_pairs() == tmp_path / "dialogue_gan" / "reviewed_pairs.jsonl"
    assert capsys.readouterr().out == ""


def test_the_rule_is_calibrated_on_real_replies_and_may_accept_no_candidate():
    rule = ReviewRule.calibrated(real_judge=[0.1 * k for k in range(11)], real_perplexity=[10.0 * k for k in range(11)],
                                 real_quantile=0.1)
    assert rule.min_judge == pytest.approx(0.1) and rule.max_perplexity == pytest.approx(90.0)
    weak = [_candidate(i, judge, 20.0) for i, judge in enumerate([0.01, 0.02, 0.05])]  # all below the real floor
    assert not any(rule.accepts(p) for p in weak)  # the candidates' own scores never lower the bar
    assert rule.accepts(_candidate(9, 0.5, 20.0))


def test_the_readability_gate_rejects_invented_words_and_says_which():
    rule = ReviewRule(min_judge=0.0, max_perplexity=1e9, is_word=lambda w: w in {"your", "order", "ships"})
    assert rule.accepts(_candidate(0, 0.5, 1.0, "Your order ships, 1234!"))  # numbers and punctuation are no words
    glued = _candidate(1, 0.5, 1.0, "Your reachation ships")
    assert rule.reasons(glued) == ["unknown words: reachation"]


def test_the_lexicon_knows_the_training_words_and_english_inflections():
    from heygen_lib.augment.wordnet import wordnet_available
    from heygen_lib.dialogue_gan.review_rule import lexicon_check

    is_word = lexicon_check(["Brightcart parcel"])
    assert is_word("brightcart") and not is_word("reachation")
    if wordnet_available():
        assert is_word("accounted") and is_word("cameras")


def test_claims_follow_the_numbers_and_say_cannot_tell_inside_the_noise():
    from heygen_lib.dialogue_gan.lm_pipeline import claims

    same = _comparison([0.50, 0.60, 0.70], [0.55, 0.50, 0.60])
    for runs in same.runs.values():
        for run in runs:
            run["MLE perplexity"] = 50.0
    filter_claim, gan_claim = claims({"balanced": 0.75}, 87, same)
    assert filter_claim["verdict"].startswith("supported") and gan_claim["verdict"].startswith("cannot tell")
    assert claims({"balanced": 0.55}, 87, same)[0]["verdict"].startswith("cannot tell")
