"""Protected spans: found where they are, and left byte-identical by every augmenter (a property test)."""

import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heygen_lib.augment.apertium import ApertiumBackTranslator, apertium_available
from heygen_lib.augment.backtranslate import BackTranslator
from heygen_lib.augment.perturb import (Chain, RandomDeletion, RandomDeletionConfig, RandomInsertion,
                                        RandomInsertionConfig, RandomSwap, RandomSwapConfig, SynonymReplacement,
                                        SynonymReplacementConfig, TypoConfig, Typos)
from heygen_lib.augment.protect import broken_spans, data_names, names_in, protected_texts, with_protected
from heygen_lib.augment.reversal import SentenceReversal, WordReversal, WordReversalConfig, split_sentences

from linear_time import MAX_RATIO, growth_ratio

SPANS = [
    "jo.smith@example.com", "<email>", "https://brightcart.example/returns?id=4", "www.parcelwise.example/track",
    "brightcart.com/help", "$54.90", "£1,200", "€15", "30 days", "1.7L", "2.4 GHz", "15%", "BC-4821937", "#48213",
    "TCK-0093", "SPRING15", "12/03/2024", "2024-03-12", "March 3rd, 2024", "3 June", "10:30 am", "Brightcart Plus",
    "Parcelwise", "SwiftPost",
]
FILLER = ["the", "kettle", "machine", "replacement", "quickly", "customer", "delivery", "broken", "arrive", "day",
          "tomorrow", "please", "order", "refund", "send", "box", "week", "Thanks", "I", "happy", "gift", "price"]
MARKS = [" ", " ", " ", ", ", ". ", "? ", "! "]
STRONG = 0.3  # rates high enough that most words of a short text are edited


def augmenters():
    made = [
        SynonymReplacement(SynonymReplacementConfig(rate=STRONG)), RandomInsertion(RandomInsertionConfig(rate=STRONG)),
        RandomSwap(RandomSwapConfig(rate=STRONG)), RandomDeletion(RandomDeletionConfig(rate=STRONG)),
        Typos(TypoConfig(rate=STRONG)), Chain(RandomInsertion(), RandomSwap(), Typos()),
        WordReversal(), WordReversal(WordReversalConfig(punctuation="move")),
        WordReversal(WordReversalConfig(per_sentence=True)), SentenceReversal(),
    ]
    return made + ([ApertiumBackTranslator()] if apertium_available() else [])


AUGMENTERS = augmenters()


@st.composite
def texts_with_spans(draw):
    """A text of filler words and marks with protected spans among them, and the spans it holds."""
    pieces = draw(st.lists(st.one_of(st.sampled_from(FILLER), st.sampled_from(SPANS)), min_size=2, max_size=14))
    if not any(piece in SPANS for piece in pieces):
        pieces.append(draw(st.sampled_from(SPANS)))
    text = ""
    for piece in pieces:
        text += piece + draw(st.sampled_from(MARKS))
    return text.strip(), [piece for piece in pieces if piece in SPANS]


@pytest.mark.parametrize("augmenter", AUGMENTERS, ids=lambda a: a.name)
@settings(max_examples=8, deadline=None)
@given(batch=st.lists(texts_with_spans(), min_size=25, max_size=25))
def test_every_augmenter_leaves_protected_spans_byte_identical(augmenter, batch):
    texts = [text for text, _ in batch]
    rewrites = augmenter.augment(texts, random.Random(0))
    for (text, spans), new in zip(batch, rewrites):
        if new is not None:
            for span in spans:
                assert new.count(span) >= text.count(span), (augmenter.name, text, new, span)


def test_apertium_is_installed_where_make_setup_ran():
    """The smoke profile back-translates with Apertium: on a machine set up by `make setup` it must be there."""
    assert apertium_available(), "apt-get install apertium apertium-eng-spa (see the Makefile's setup)"


def test_spans_are_found_whole_with_their_units_and_currency():
    text = ("Order BC-4821937: refund of $54.90 to jo@example.com by March 3rd, 2024, see brightcart.example/ca. "
            "You have 30 days; the 1.7L kettle on 2.4 GHz Wi-Fi at 10:30 am, ticket #48213, 15% off with SPRING15.")
    assert protected_texts(text) == ["BC-4821937", "$54.90", "jo@example.com", "March 3rd, 2024",
                                     "brightcart.example/ca", "30 days", "1.7L", "2.4 GHz", "Wi-Fi", "10:30 am",
                                     "#48213", "15%", "SPRING15"]


def test_a_sentence_full_stop_after_a_url_is_not_part_of_it():
    assert protected_texts("Go to https://x.example/help. Then log in.") == ["https://x.example/help"]


def test_one_letter_units_must_touch_their_number():
    assert protected_texts("in 2 to 3 days, a 4x zoom") == ["2", "3 days", "4x"]


def test_names_are_capitalised_runs_written_mid_sentence_often_enough():
    texts = ["I use Brightcart Plus daily.", "Is Brightcart Plus free?", "Got Brightcart Plus.", "my brightcart plus",
             "Ask Tom.",
             "Ask Tom now.", "Kettle is here.", "The Kettle broke.", "the kettle again", "a kettle"]
    assert names_in(texts) == ("Brightcart Plus", "Tom")  # "Kettle": written in lower case far more often


def test_the_data_names_include_its_products_and_carriers():
    assert {"Brightcart Plus", "Parcelwise", "SwiftPost"} <= set(data_names())


def test_a_token_that_overlaps_a_span_joins_it():
    text = "see hi1.7L now"  # spans "hi1" and "7L"; a tokenizer that reads "hi1.7L" as one word
    assert with_protected(text, [(0, 3), (4, 10), (11, 14)]) == [(0, 3, False), (4, 10, True), (11, 14, False)]
    assert with_protected("pay $5", [(0, 3), (5, 6)]) == [(0, 3, False), (4, 6, True)]  # "$" is in no token


def test_broken_spans_counts_each_span_as_often_as_the_source_has_it():
    assert broken_spans("pay $5 now and $5 later", "pay $5 now and later") == ["$5"]
    assert broken_spans("refund of $54.90", "refund of $54. Twenty-four hour period 90") == ["$54.90"]


def test_a_date_full_stop_does_not_end_a_sentence():
    assert split_sentences("It ships Jun. 4 from us. Thanks.") == ["It ships Jun. 4 from us.", "Thanks."]


def test_a_neural_back_translation_that_loses_a_span_is_dropped(monkeypatch):
    translator = BackTranslator.__new__(BackTranslator)
    monkeypatch.setattr(translator, "round_trip", lambda texts, rng: (list(texts), ["refund of 54 dollars", "ok fine"]))
    assert translator.augment(["refund of $54.90", "ok, fine"], random.Random(0)) == [None, "ok fine"]


LONG_TOKENS = ["a", "a-", "a.", "a_", "a1-", "#a-", "a@", "1.", "x.com.", "Aa, "]


def test_protected_spans_run_in_linear_time_on_a_one_megabyte_token():
    # A child process with a deadline, so a quadratic pattern fails the test instead of hanging the suite.
    code = ("from heygen_lib.augment.protect import protected_spans\n"
            f"for unit in {LONG_TOKENS!r}:\n"
            "    protected_spans('hi ' + unit * (1_000_000 // len(unit)) + ' there', names=('Brightcart Plus',))\n")
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("finding protected spans in a 1 MB token took over 60 s: a span pattern is super-linear")


@pytest.mark.parametrize("text, first_word_kept", [("Ask Tom now. Tom Hardy came", False), ("hi, - Tom Hardy", True),
                                                   ("we sent Tom Hardy it", True), ("ok!\n  Tom Hardy", False),
                                                   ("  Tom Hardy", False)])
def test_a_name_run_at_a_sentence_start_loses_its_first_word(text, first_word_kept):
    found = names_in([text], min_count=1)
    assert ("Tom Hardy" in found) == first_word_kept


def test_a_time_counted_back_from_now_is_one_span_with_its_ago():
    assert protected_texts("sent 2 days ago, 3weeks ago and in 30 days; agony 4 days agora") == [
        "2 days ago", "3weeks ago", "30 days", "4 days"]


def test_names_in_time_grows_linearly_with_a_long_word():
    # "Aaaa...a'": a capitalised word ended by a quote; "aaaa...a.com": a lower-case word that looks like an address
    assert growth_ratio(lambda text: names_in(["A" + text + "'"]), "a", 4000) <= MAX_RATIO
    assert growth_ratio(lambda text: names_in([text + ".com"]), "a", 4000) <= MAX_RATIO
