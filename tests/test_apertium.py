"""Apertium back-translation: a real round trip offline, marks removed, spans kept, batches kept in order."""

import random

import pytest

from heygen_lib.augment.apertium import (ApertiumBackTranslator, ApertiumConfig, _MARK, _tidy, apertium_available,
                                        placeholder_effect, translate)
from heygen_lib.augment.evaluate import meaning_change_rates, wilson_interval

from linear_time import MAX_RATIO, growth_ratio

needs_apertium = pytest.mark.skipif(not apertium_available(), reason="apt-get install apertium apertium-eng-spa")


def test_unknown_word_marks_are_removed_but_not_inside_addresses():
    # Placeholders carry the protected spans ("#48213", addresses) through translation, so a mark before a word is
    # always Apertium's; inside a word ("jo@example.com") it is left alone.
    assert _MARK.sub("", "I *sended the #foto to @home, jo@example.com") == "I sended the foto to home, jo@example.com"


def test_tidy_collapses_spaces_and_keeps_the_sources_lower_case_start():
    assert _tidy("It could  I send it ,  please ?", like="could you send it, please?") == "it could I send it, please?"


@needs_apertium
def test_a_batch_comes_back_in_order_one_translation_per_text():
    texts = ["the red car", "Where is my parcel?", "thanks a lot", "I have been waiting for three weeks."]
    assert translate(texts, "eng-spa") == [translate([text], "eng-spa")[0] for text in texts]


@needs_apertium
def test_round_trip_rephrases_and_keeps_protected_spans():
    texts = ["Could you send me the tracking number, please? I have been waiting for three weeks.",
             "Refund of $54.90 for order BC-4821937 to jo@example.com by March 3rd, 2024.", "", "   "]
    back = ApertiumBackTranslator().augment(texts, random.Random(0))
    assert back[0] != texts[0] and "waiting for three weeks" in back[0]
    for span in ("$54.90", "BC-4821937", "jo@example.com", "March 3rd, 2024"):
        assert span in back[1]
    assert back[2:] == [None, None]


@needs_apertium
def test_a_time_counted_back_from_now_survives_the_round_trip_whole():
    # Held apart from its "2 days", "ago" went to Spanish as "hace" and came back "does".
    [back] = ApertiumBackTranslator().augment(["cancelled my order 2 days ago and still see the money"], random.Random(0))
    assert "2 days ago" in back and "does" not in back


@needs_apertium
def test_the_placeholder_effect_compares_round_trips_with_and_without_placeholders():
    texts = ["cancelled my order 2 days ago and still see the money", "it was cancelled on 16 May", "no span here"]
    effect = placeholder_effect(ApertiumBackTranslator(), texts)
    assert effect.compared == 2 and 0 <= effect.changed <= 2 and len(effect.examples) == effect.changed


def test_putting_spans_back_takes_time_linear_in_their_number(monkeypatch):
    # The engine's time is not the kit's: with an engine that returns its input, what is timed is the placeholders
    # going in and the spans coming back, over a turn of 8,000 comma-joined masked addresses and four times as many.
    monkeypatch.setattr("heygen_lib.augment.apertium.translate", lambda texts, mode, timeout_s=120.0: list(texts))
    translator = ApertiumBackTranslator.__new__(ApertiumBackTranslator)
    translator.config = ApertiumConfig()
    assert translator.augment(["<email>, <email>"], random.Random(0)) == ["<email>, <email>"]
    assert growth_ratio(lambda text: translator.augment([text], random.Random(0)), "<email>,", 8000) <= MAX_RATIO


def test_wilson_interval_matches_a_known_value():
    low, high = wilson_interval(22, 40)
    assert (round(low, 3), round(high, 3)) == (0.398, 0.693)


def test_meaning_change_rates_read_the_hand_labels_per_setting():
    rates = meaning_change_rates()
    assert [(r["settings"], r["judged"], r["changed"]) for r in rates] == [
        ({"max_senses": None, "min_count": 0}, 40, 27), ({"max_senses": 1, "min_count": 1}, 40, 22)]
