import itertools
import os
import random
import re

import pytest

from heygen_lib.augment import augment_pairs
from heygen_lib.augment.perturb import (
    KEYBOARD_NEIGHBOURS,
    Chain,
    RandomDeletion,
    RandomDeletionConfig,
    RandomInsertion,
    RandomInsertionConfig,
    RandomSwap,
    RandomSwapConfig,
    SynonymReplacement,
    SynonymReplacementConfig,
    Typos,
    TypoConfig,
    synonyms,
    word_pos,
)
from heygen_lib.augment.wordnet import DATABASE_FILES, WordNetMissing, install_wordnet, lexnames_text, load_wordnet
from heygen_lib.data import Dialogue, Turn, build_pairs, load_support_set

UNUSABLE = ["", "   ", "😀🎉", "<email> <url>", "12345 67"]  # nothing any perturbation may touch


@pytest.fixture(scope="module")
def wordnet():
    """WordNet, or a skip on a developer machine without it; CI (where `make` installs it) must have it."""
    try:
        return load_wordnet()
    except WordNetMissing as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def agent_turns():
    return [p.response.text for p in build_pairs(load_support_set(), response_speaker="agent")][:120]


def words_of(text):
    return re.findall(r"<\w+>|\w+(?:['’-]\w+)*", text)


# --- Swap, deletion, typos (no WordNet) ---------------------------------------------------------------------------


@pytest.mark.parametrize("augmenter", [RandomSwap(), RandomDeletion(), Typos()], ids=lambda a: a.name)
def test_text_with_nothing_to_edit_gets_none(augmenter):
    assert augmenter.augment(UNUSABLE, random.Random(0)) == [None] * len(UNUSABLE)


def test_a_single_word_can_be_neither_swapped_nor_deleted():
    assert RandomSwap().augment(["hello!", "not <email>"], random.Random(0)) == [None, None]
    assert RandomDeletion().augment(["hello!", "not <email>"], random.Random(0)) == [None, None]


def test_swap_moves_sentence_capitals_with_the_position_but_keeps_names_and_i():
    assert RandomSwap().augment(["Thanks, Maria!", "I agree."], random.Random(0)) == ["Maria, thanks!", "Agree I."]


def test_swap_leaves_punctuation_numbers_masks_and_negations_in_place():
    text = "Please do not email <email> about order 4821937, it is handled."
    outs = {RandomSwap(RandomSwapConfig(rate=1.0)).augment([text], random.Random(seed))[0] for seed in range(20)}
    assert len(outs) > 10
    for out in outs:
        tokens = words_of(out)
        assert sorted(t.lower() for t in tokens) == sorted(t.lower() for t in words_of(text))
        assert [tokens[i] for i in (2, 4, 7)] == ["not", "<email>", "4821937"]
        assert re.sub(r"\w", "", out) == re.sub(r"\w", "", text)  # spaces and punctuation where they were


def test_deletion_never_empties_a_turn():
    texts = ["ok thanks", "Sure!", "yes, please", "Right away.", "a b c d e f g h i j"]
    for seed in range(30):
        out = RandomDeletion(RandomDeletionConfig(rate=1.0)).augment(texts, random.Random(seed))
        assert out[1] is None and out[3] is not None
        assert all(words_of(o) for o in out if o is not None)
        assert [len(words_of(o)) for o in out if o is not None] == [1, 1, 1, 1]


def test_deletion_keeps_masks_numbers_and_negations():
    out = RandomDeletion(RandomDeletionConfig(rate=1.0)).augment(["I do not want <email> 42 times"], random.Random(0))
    assert out == ["Not <email> 42"]


def test_deletion_leaves_tidy_punctuation_and_a_capital_start(agent_turns):
    outs = RandomDeletion(RandomDeletionConfig(rate=0.3)).augment(agent_turns, random.Random(1))
    for text, out in zip(agent_turns, outs):
        assert len(words_of(out)) < len(words_of(text))
        assert out[0].isupper() or not out[0].isalpha() or not text[0].isupper(), out  # may start at a number
        for bad in (" ,", ",,", ", .", " .", ",."):
            assert bad not in out or bad in text, (bad, out)
    ends = {out for seed in range(20) for out in RandomDeletion().augment(["Hi, thanks."], random.Random(seed))}
    assert ends == {"Thanks.", "Hi."}


def test_rate_sets_the_number_of_edited_words():
    text = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
    for rate, expected in ((0.5, 5), (0.3, 3), (0.01, 1)):
        out = Typos(TypoConfig(rate=rate)).augment([text], random.Random(2))[0]
        assert sum(a != b for a, b in zip(out.split(), text.split())) == expected


def one_typo_away(new, old):
    new, old = new.lower(), old.lower()  # a doubled capital reads "Pplease"
    if len(new) == len(old) + 1:  # doubled letter
        return any(new[:i] + new[i + 1 :] == old and new[i] == new[i - 1] for i in range(1, len(new)))
    if len(new) == len(old) - 1:  # dropped letter
        return any(old[:i] + old[i + 1 :] == new for i in range(len(old)))
    diff = [i for i in range(len(old)) if old[i] != new[i]]
    swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and (new[diff[0]], new[diff[1]]) == (old[diff[1]], old[diff[0]])
    keyboard = len(diff) == 1 and new[diff[0]].lower() in KEYBOARD_NEIGHBOURS[old[diff[0]].lower()]
    return swapped or keyboard


def test_typos_are_one_keyboard_slip_and_keep_case():
    text = "Please RESTART the Kettle and wait patiently"
    kinds = set()
    for seed in range(40):
        out = Typos(TypoConfig(rate=0.2)).augment([text], random.Random(seed))[0]
        changed = [(n, o) for n, o in zip(out.split(), text.split()) if n != o]
        assert len(changed) == 1 and one_typo_away(*changed[0]), changed
        new, old = changed[0]
        assert new.isupper() == old.isupper() and new[0].isupper() == old[0].isupper()
        kinds.add(len(new) - len(old))
    assert kinds == {-1, 0, 1}  # drops, same-length slips and doubles all happen
    only_keys = Typos(TypoConfig(rate=1.0, kinds=("keyboard",))).augment(["kettle"], random.Random(0))[0]
    assert one_typo_away(only_keys, "kettle") and len(only_keys) == 6


def test_keyboard_neighbours_are_the_adjacent_keys():
    assert set(KEYBOARD_NEIGHBOURS["s"]) == set("awedzx")
    assert set(KEYBOARD_NEIGHBOURS["g"]) == set("ftyhvb")
    assert set(KEYBOARD_NEIGHBOURS["q"]) == set("wa")


def test_bad_configuration_is_refused():
    for make in (
        lambda: RandomSwapConfig(rate=0),
        lambda: RandomDeletionConfig(rate=1.5),
        lambda: TypoConfig(kinds=("bogus",)),
        lambda: TypoConfig(kinds=()),
        lambda: SynonymReplacementConfig(max_senses=0),
        lambda: RandomInsertionConfig(min_pos_share=0.5),
    ):
        with pytest.raises(ValueError):
            make()


def doubled(word):
    return {word[:i] + word[i] + word[i:] for i in range(len(word))}


def test_chain_passes_on_texts_a_step_cannot_rewrite():
    chain = Chain(RandomSwap(), Typos(TypoConfig(kinds=("double",))))
    out = chain.augment(["hello", "<email>", "hello there"], random.Random(0))
    assert out[1] is None
    assert out[0] in doubled("hello")  # no swap possible: the typo step alone
    assert out[2] in {f"{w} hello" for w in doubled("there")} | {f"there {w}" for w in doubled("hello")}  # swap, typo
    assert chain.name == "random-swap+typos"
    assert chain.params()["steps"][0] == {"augmenter": "random-swap", "params": {"rate": 0.1}}


def test_augmenters_are_deterministic_for_a_seed(agent_turns):
    for augmenter in (RandomSwap(), RandomDeletion(), Typos()):
        first = augmenter.augment(agent_turns[:30], random.Random(7))
        assert first == augmenter.augment(agent_turns[:30], random.Random(7))
        assert first != augmenter.augment(agent_turns[:30], random.Random(8))


def test_augment_pairs_records_the_perturbation_in_provenance():
    turns = (Turn("customer", "where is my parcel?"), Turn("agent", "It left the warehouse this morning."))
    new, report = augment_pairs(build_pairs([Dialogue("d", turns, "test")]), RandomDeletion(), target="response", seed=3)
    assert report.made == 1 and len(words_of(new[0].response.text)) == 5
    assert new[0].meta["provenance"]["params"] == {"rate": 0.1}


def test_odd_input_does_not_crash():
    texts = ["¿Dónde está mi pedido?", "我的订单在哪里", "word " * 3000, "e-mail me: a@b <url>!!!"]
    rng = random.Random(0)
    for augmenter in (RandomSwap(), RandomDeletion(), Typos()):
        out = augmenter.augment(texts, rng)
        assert out[0] is not None and len(out) == 4


# --- WordNet set-up --------------------------------------------------------------------------------------------


def test_lexnames_lists_the_45_lexicographer_files_in_order():
    lines = lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"
    assert lines[29] == "29\tverb.body\t2" and lines[2] == "02\tadv.all\t4"


def test_wordnet_install_copies_once_and_writes_lexnames(tmp_path):
    source = tmp_path / "debian"
    source.mkdir()
    for name in DATABASE_FILES:
        (source / name).write_text(f"{name}\n")
    corpus = install_wordnet(source, tmp_path / "nltk_data")
    assert corpus == tmp_path / "nltk_data" / "corpora" / "wordnet"
    assert (corpus / "data.noun").read_text() == "data.noun\n" and (corpus / "lexnames").read_text() == lexnames_text()
    assert (corpus / "index.sense").stat().st_mode & 0o777 == 0o644
    before = {p.name: p.stat().st_ctime_ns for p in corpus.iterdir()}
    assert install_wordnet(source, tmp_path / "nltk_data") == corpus
    assert {p.name: p.stat().st_ctime_ns for p in corpus.iterdir()} == before


def test_wordnet_install_says_how_to_get_missing_files(tmp_path):
    with pytest.raises(WordNetMissing, match=r"no WordNet database.*apt-get install wordnet-base.*nltk\.download"):
        install_wordnet(tmp_path, tmp_path / "out")
    (tmp_path / "data.noun").write_text("")
    with pytest.raises(WordNetMissing, match=r"has no index\.noun, .*cntlist\.rev\. WordNet is not installed"):
        install_wordnet(tmp_path, tmp_path / "out")


# --- Synonyms (WordNet) ---------------------------------------------------------------------------------------


def test_only_words_with_one_dominant_part_of_speech_qualify(wordnet):
    assert [word_pos(w) for w in ("kettle", "quickly", "number", "sorry", "help")] == ["n", "r", "n", "a", "v"]
    assert word_pos("order") is None  # a noun and a verb about equally often
    assert word_pos("orders") is None and word_pos("chose") is None  # inflected: a synonym could not match
    assert synonyms("order") == () and synonyms("zzxq") == ()


def test_replacement_has_the_part_of_speech_of_the_word_it_replaces(wordnet, agent_turns):
    assert synonyms("help") == ("assist",)  # help.v.01 also lists "aid", which is as much a noun as a verb
    checked = 0
    for word in sorted({w.lower() for text in agent_turns[:60] for w in words_of(text)}):
        for synonym in synonyms(word):
            assert word_pos(synonym) == word_pos(word), (word, synonym)
            checked += 1
    assert checked > 50


def test_synonym_replacement_edits_only_replaceable_words_and_keeps_casing(wordnet):
    text = "Usually the kettle is in the warehouse."
    every_lemma = SynonymReplacementConfig(rate=1.0, min_count=0)  # "boiler" is never tagged as a kettle
    out = SynonymReplacement(every_lemma).augment([text], random.Random(0))[0]
    choices = itertools.product(*(synonyms(w, min_count=0) for w in ("usually", "kettle", "warehouse")))
    assert out in {f"{u.capitalize()} the {k} is in the {w}." for u, k, w in choices}
    shouted = SynonymReplacement(every_lemma).augment(["My Kettle, my KETTLE"], random.Random(0))
    assert shouted == ["My Boiler, my BOILER"]


def test_synonyms_must_be_attested_in_the_sense_they_come_from(wordnet):
    assert "mean solar day" in synonyms("day", min_count=0) and "mean solar day" not in synonyms("day")
    assert synonyms("day") == ("twenty-four hours",)  # tagged 3 times in day.n.01
    assert synonyms("kettle") == () and synonyms("kettle", min_count=0) == ("boiler",)


def test_stop_words_masks_numbers_and_ambiguous_words_are_never_replaced(wordnet):
    texts = [*UNUSABLE, "Your order is here", "Is it not there?"]
    for augmenter in (SynonymReplacement(SynonymReplacementConfig(rate=1.0)), RandomInsertion()):
        assert augmenter.augment(texts, random.Random(0)) == [None] * len(texts)


def test_insertion_adds_a_synonym_of_the_texts_own_words(wordnet):
    text = "the kettle is in the warehouse"
    inserted = set(synonyms("kettle", min_count=0)) | set(synonyms("warehouse", min_count=0))
    assert inserted
    for seed in range(10):
        out = RandomInsertion(RandomInsertionConfig(min_count=0)).augment([text], random.Random(seed))[0]
        assert any(out.replace(f"{s} ", "", 1) == text or out.replace(f" {s}", "", 1) == text for s in inserted), out


def test_synonym_augmenters_are_deterministic_for_a_seed(wordnet, agent_turns):
    for augmenter in (SynonymReplacement(), RandomInsertion()):
        first = augmenter.augment(agent_turns[:30], random.Random(7))
        assert first == augmenter.augment(agent_turns[:30], random.Random(7))
        assert first != augmenter.augment(agent_turns[:30], random.Random(8))


def test_wordnet_loads_english_without_the_multilingual_sense_map():
    from heygen_lib.augment.wordnet import load_wordnet, wordnet_available

    if not wordnet_available():
        pytest.skip("WordNet is not installed")
    reader = load_wordnet()
    assert reader.map30 is None and reader.get_version() == "3.0"
    assert "business_relationship" in {lemma.name() for synset in reader.synsets("account") for lemma in synset.lemmas()}
