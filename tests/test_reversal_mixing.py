import random
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heygen_lib.augment.protect import protected_texts
from heygen_lib.augment.mixing import SpliceConfig, SpliceDialogues, mix_corpora
from heygen_lib.augment.reversal import (
    SentenceReversal,
    SwapRoles,
    WordReversal,
    WordReversalConfig,
    split_sentences,
)
from heygen_lib.data import Dialogue, Turn, clean_dialogues, load_support_set

from linear_time import MAX_RATIO, growth_ratio

RNG = random.Random(0)
STAY, MOVE = WordReversal(), WordReversal(WordReversalConfig(punctuation="move"))


@pytest.fixture(scope="module")
def support():
    return load_support_set()


@pytest.fixture(scope="module")
def cleaned(support):
    return clean_dialogues(support)[0]


def dialogue(id: str, speakers: str = "ca", meta: dict | None = None, n_turns: int = 6) -> Dialogue:
    names = {"c": "customer", "a": "agent", "x": "supervisor"}
    turns = tuple(Turn(names[speakers[i % len(speakers)]], f"{id} says {i}") for i in range(n_turns))
    return Dialogue(id, turns, "test", meta or {})


# --- word reversal ---

_WORDS = ["hi", "Don't", "kettle", "1.7L", "BC-4821937", "e.g. ", "Dr. ", "<email>", "ça", "我很好"]
_MARKS = ["😊", ",", "?!", "...", "(", ")", "."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_WORDS + _MARKS), st.sampled_from(["", " ", "  "])), min_size=1, max_size=12))
def test_word_reversal_is_its_own_inverse_on_token_order(pieces):
    text, previous = "", None
    for piece, gap in pieces:
        if previous in _WORDS and piece in _WORDS and not text.endswith(" "):
            text += " "  # two words always have a space or a mark between them
        if previous in (".", "...") and piece in _WORDS and not text.endswith(" "):
            text += " "  # "hi.hi" is one word, as "1.7L" is
        text, previous = text + piece + gap, piece
    for augmenter in (STAY, MOVE):
        [once] = augmenter.augment([text], RNG)
        if once is not None:
            assert augmenter.augment([once], RNG) == [text]


def test_word_reversal_is_its_own_inverse_on_every_support_turn(support):
    """Wherever reversing makes no new protected span: "day 4" reversed reads "4 day", which is then one unit."""
    texts = [turn.text for d in support for turn in d.turns]
    for augmenter in (STAY, MOVE):
        once = augmenter.augment(texts, RNG)
        kept = [(text, new) for text, new in zip(texts, once)
                if new is not None and sorted(protected_texts(new)) == sorted(protected_texts(text))]
        assert len(kept) > 0.9 * len(texts)
        assert augmenter.augment([new for _, new in kept], RNG) == [text for text, _ in kept]


def test_word_reversal_keeps_punctuation_in_place_and_masks_whole():
    assert STAY.augment(["Hi, please email <email> today!", "Hi, how are you?"], RNG) == [
        "today, <email> email please Hi!",
        "you, are how Hi?",
    ]


def test_word_reversal_with_moving_punctuation_mirrors_every_token():
    assert MOVE.augment(["Hi, how are you?"], RNG) == ["?you are how ,Hi"]


def test_word_reversal_per_sentence_keeps_words_in_their_sentence():
    augmenter = WordReversal(WordReversalConfig(per_sentence=True))
    assert augmenter.augment(["Hi, how are you? I'm fine, thanks.", "Hi? ok"], RNG) == [
        "you, are how Hi? thanks fine, I'm.",
        None,  # no sentence has two words
    ]


@pytest.mark.parametrize("text", ["", "hi", "😊👍", "!!! ...", "<email>"])
def test_word_reversal_returns_none_with_fewer_than_two_words(text):
    assert STAY.augment([text], RNG) == [None]


def test_word_reversal_rejects_an_unknown_punctuation_mode():
    with pytest.raises(ValueError, match="punctuation"):
        WordReversal(WordReversalConfig(punctuation="drop"))


# --- sentences ---


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("Dr. Lee called. She said hi.", ["Dr. Lee called.", "She said hi."]),
        ("Try e.g. the Brightcart one. Works fine", ["Try e.g. the Brightcart one.", "Works fine"]),
        ("I waited... and nothing. Then... Nothing came", ["I waited... and nothing.", "Then...", "Nothing came"]),
        ("Really?! No way!!! ok thats a relief. but why", ["Really?!", "No way!!!", "ok thats a relief.", "but why"]),
        ("The 1.7L one costs $47.80. ...yes", ["The 1.7L one costs $47.80.", "...yes"]),
        ('He said "stop." Then left', ['He said "stop."', "Then left"]),
        ("pens, clips etc. and paper etc. Done", ["pens, clips etc. and paper etc.", "Done"]),
        ("¿Dónde está? 我很好。你呢？", ["¿Dónde está?", "我很好。", "你呢？"]),
        ("  !!! Hello.  ", ["!!! Hello."]),
        ("", []),
    ],
)
def test_sentence_splitter_handles_abbreviations_ellipses_and_mixed_marks(text, sentences):
    assert split_sentences(text) == sentences


def test_sentence_reversal_keeps_every_sentence(support):
    texts = [turn.text for d in support for turn in d.turns]
    rewrites = SentenceReversal().augment(texts, RNG)
    multi = [(text, new) for text, new in zip(texts, rewrites) if len(split_sentences(text)) > 1]
    assert len(multi) > 1000
    for text, new in multi:
        sentences, position = split_sentences(text), 0
        for sentence in reversed(sentences):  # every sentence, verbatim, in reverse order
            position = new.index(sentence, position) + len(sentence)
        assert len(new) - len(text) in (0, 1)  # at most a full stop added


def test_sentence_reversal_gives_an_unpunctuated_last_sentence_a_full_stop():
    assert SentenceReversal().augment(["thanks. works now", "Where is it? I paid!"], RNG) == [
        "works now. thanks.",
        "I paid! Where is it?",
    ]


@pytest.mark.parametrize("text", ["", "hi there", "Dr. Lee is here", "😊", "I waited... and waited"])
def test_sentence_reversal_returns_none_for_single_sentence_turns(text):
    assert SentenceReversal().augment([text], RNG) == [None]


def test_reversals_keep_the_words_of_long_and_non_english_turns():
    long = " ".join(f"😊 ¿Mi pedido {i} no ha llegado todavía?" for i in range(2000))
    for augmenter in (STAY, MOVE, SentenceReversal()):
        [new] = augmenter.augment([long], RNG)
        assert new != long
        assert Counter(re.findall(r"\w+", new)) == Counter(re.findall(r"\w+", long))
        assert Counter(new.replace(" ", "")) == Counter(long.replace(" ", ""))


# --- role swap ---


def test_role_swap_swaps_exactly_two_labels_and_keeps_texts(support):
    odd = [dialogue("solo", "c"), dialogue("three", "cax")]
    swapped, report = SwapRoles().augment_dialogues(support + odd, seed=7)
    assert len(swapped) == len(support) and report.skipped == 2
    for original, new in zip(support, swapped):
        assert [t.text for t in new.turns] == [t.text for t in original.turns]
        assert all(
            {old.speaker, turn.speaker} == {"customer", "agent"} for old, turn in zip(original.turns, new.turns)
        )
        assert new.id == f"{original.id}/swapped" and new.meta["intents"] == original.meta["intents"]
        assert new.meta["provenance"]["from"] == f"support:{original.id}"
        assert new.meta["provenance"]["seed"] == 7


# --- splicing ---


def strictly_alternates(turns) -> bool:
    return all(a.speaker != b.speaker for a, b in zip(turns, turns[1:]))


def test_splices_keep_speaker_alternation_and_only_join_one_intent(cleaned):
    assert all(strictly_alternates(d.turns) for d in cleaned)
    by_id = {d.id: d for d in cleaned}
    splices, report = SpliceDialogues(SpliceConfig(per_dialogue=2)).augment_dialogues(cleaned, seed=0)
    assert len(splices) == 2 * len(cleaned) and report.skipped == 0
    for splice in splices:
        record = splice.meta["provenance"]
        head, tail = by_id[record["from"].split(":")[1]], by_id[record["tail"].split(":")[1]]
        assert head.id != tail.id
        assert head.meta["intents"][0] == tail.meta["intents"][0] == record["group"] == splice.meta["intents"][0]
        assert splice.turns == head.turns[: record["head_turns"]] + tail.turns[record["tail_from"] :]
        assert strictly_alternates(splice.turns)


def test_splice_cut_after_customer_continues_with_the_other_dialogues_agent(support):
    splices, _ = SpliceDialogues(SpliceConfig(cut_after="customer")).augment_dialogues(support)
    assert len(splices) > 250
    for splice in splices:
        cut = splice.meta["provenance"]["head_turns"]
        assert (splice.turns[cut - 1].speaker, splice.turns[cut].speaker) == ("customer", "agent")


def test_splice_groups_by_categories_or_a_key_function():
    greetings = [dialogue(f"greet{i}", meta={"categories": ["greetings"]}) for i in range(3)]
    food = [dialogue(f"food{i}", meta={"categories": ["food"]}) for i in range(3)]
    by_category, _ = SpliceDialogues(SpliceConfig(group_by="categories")).augment_dialogues(greetings + food)
    by_prefix, _ = SpliceDialogues(key=lambda d: d.id[:4]).augment_dialogues(greetings + food)
    for splices in (by_category, by_prefix):
        assert len(splices) == 6
        assert all(s.meta["provenance"]["from"][5:9] == s.meta["provenance"]["tail"][5:9] for s in splices)
    assert by_prefix[0].meta["provenance"]["params"]["key"].endswith("<lambda>")


def test_splice_counts_the_dialogues_it_cannot_open():
    dialogues = [
        dialogue("a1", meta={"intents": ["order"]}),
        dialogue("a2", meta={"intents": ["order"]}),
        dialogue("lonely", meta={"intents": ["refund"]}),
        dialogue("untagged"),
        dialogue("mono", "c", meta={"intents": ["billing"]}),
        dialogue("mono2", "c", meta={"intents": ["billing"]}),
    ]
    splices, report = SpliceDialogues().augment_dialogues(dialogues)
    assert sorted((s.meta["provenance"]["from"], s.meta["provenance"]["tail"]) for s in splices) == [
        ("test:a1", "test:a2"),
        ("test:a2", "test:a1"),
    ]
    assert report.skipped == 4
    assert report.notes == [
        "1 dialogue(s) without a group (no meta['intents'])",
        "1 dialogue(s) alone in their group",
        "2 dialogue(s) with no matching cut in any partner",
    ]


def test_splice_is_deterministic_for_a_seed(cleaned):
    def ids(seed):
        return [d.id for d in SpliceDialogues().augment_dialogues(cleaned, seed=seed)[0]]

    assert ids(3) == ids(3) != ids(4)


def test_splice_needs_at_least_one_per_dialogue():
    with pytest.raises(ValueError, match="per_dialogue"):
        SpliceDialogues(SpliceConfig(per_dialogue=0))


# --- corpus mixing ---


def corpora():
    return {
        "support": [dialogue(f"s{i}") for i in range(300)],
        "chitchat": [dialogue(f"c{i}") for i in range(1000)],
        "chatterbot": [dialogue(f"b{i}") for i in range(50)],
    }


def test_corpus_mix_meets_proportions_exactly_and_is_deterministic():
    proportions = {"support": 0.6, "chitchat": 0.29, "chatterbot": 0.11}
    mix, counts = mix_corpora(corpora(), proportions, total=200, seed=1)
    assert counts == {"support": 120, "chitchat": 58, "chatterbot": 22}
    assert Counter(d.id[0] for d in mix) == {"s": 120, "c": 58, "b": 22}
    assert len({d.id for d in mix}) == 200  # no repeats without replace
    again, _ = mix_corpora(corpora(), proportions, total=200, seed=1)
    other, _ = mix_corpora(corpora(), proportions, total=200, seed=2)
    assert [d.id for d in mix] == [d.id for d in again] != [d.id for d in other]


def test_corpus_mix_rounds_to_whole_dialogues_that_sum_to_the_total():
    _, counts = mix_corpora(corpora(), {"support": 1 / 3, "chitchat": 1 / 3, "chatterbot": 1 / 3}, total=100)
    assert counts == {"support": 34, "chitchat": 33, "chatterbot": 33}


def test_corpus_mix_takes_as_many_as_the_scarcest_corpus_allows():
    mix, counts = mix_corpora(corpora(), {"support": 0.5, "chitchat": 0.4, "chatterbot": 0.1})
    assert counts == {"support": 250, "chitchat": 200, "chatterbot": 50} and len(mix) == 500


def test_corpus_mix_refuses_a_share_a_corpus_cannot_supply_unless_told_to_repeat():
    proportions = {"support": 0.5, "chitchat": 0.0, "chatterbot": 0.5}
    with pytest.raises(ValueError, match="'chatterbot' has 50 dialogues, fewer than its share of 60.*at most 100"):
        mix_corpora(corpora(), proportions, total=120)
    mix, counts = mix_corpora(corpora(), proportions, total=120, replace=True)
    repeats = Counter(d.id for d in mix if d.id.startswith("b"))
    assert counts["chatterbot"] == 60 and sorted(Counter(repeats.values()).items()) == [(1, 40), (2, 10)]


@pytest.mark.parametrize(
    "proportions, match",
    [
        ({"support": 0.5, "chitchat": 0.5}, "missing \\['chatterbot'\\]"),
        ({"support": 0.5, "chitchat": 0.3, "chatterbot": 0.1}, "summing to 1"),
        ({"support": 1.5, "chitchat": -0.6, "chatterbot": 0.1}, "non-negative"),
    ],
)
def test_corpus_mix_checks_its_proportions(proportions, match):
    with pytest.raises(ValueError, match=match):
        mix_corpora(corpora(), proportions, total=10)


def test_word_reversal_time_grows_linearly_with_the_number_of_protected_spans():
    reverse = lambda text: WordReversal().augment([text], random.Random(0))
    assert growth_ratio(reverse, "$1.2.", 1000) <= MAX_RATIO  # "$1.2" is a protected amount, "." a mark after it
    assert growth_ratio(reverse, "<email>,", 1000) <= MAX_RATIO  # a cleaned turn of comma-joined addresses


def test_sentence_reversal_time_grows_linearly_with_the_number_of_sentences():
    assert growth_ratio(lambda text: SentenceReversal().augment([text], random.Random(0)), "I paid $5. ",
                          1000) <= MAX_RATIO
