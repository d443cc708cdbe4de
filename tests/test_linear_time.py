"""Every public text function runs in linear time on hostile input: the augmenters, cleaning, protected spans and
names, the tokenizers and the chat's input cleaning, each fed the same pathological texts at two sizes
(`linear_time.growth_ratio`: doubling the text may at most triple the best time, measured over two doublings).

A user reaches these with their own files (`HEYGEN_DATA_DIR`) and the chat box, so a text built to make a regular
expression backtrack, or to make a loop scan every span per span, must cost time in proportion to its length.
"""

from __future__ import annotations

import random
import re

from heygen_lib.augment.apertium import ApertiumBackTranslator, ApertiumConfig
from heygen_lib.augment.perturb import (RandomDeletion, RandomDeletionConfig, RandomInsertion, RandomInsertionConfig,
                                        RandomSwap, RandomSwapConfig, SynonymReplacement, SynonymReplacementConfig,
                                        TypoConfig, Typos)
from heygen_lib.augment.protect import broken_spans, names_in, protected_spans, with_protected
from heygen_lib.augment.reversal import SentenceReversal, WordReversal, WordReversalConfig, split_sentences
from heygen_lib.augment.wordnet import wordnet_available
from heygen_lib.chat.chatbot import clean_message
from heygen_lib.data import Dialogue, Turn, clean_dialogues
from heygen_lib.data.cleaning import CleaningConfig, CleaningReport, _step_names, clean_text
from heygen_lib.text import word_tokens

from linear_time import MAX_RATIO, growth_ratio

# Long texts, each a unit repeated between a prefix and a suffix: runs a pattern may backtrack over (a long word, a
# capitalised one ended by a quote, one before a domain, dotted and hyphenated runs), many protected spans in one
# token, many sentences, marks, and characters cleaning removes. Each is measured at n and 4n copies of its unit,
# n at least `START_CHARS` characters' worth: a paste of some kilobytes, where a quadratic path starts to dominate.
TEXTS = {
    "one long word": ("", "a", ""),
    "a capitalised word ended by a quote": ("A", "a", "'"),
    "a word before a domain": ("", "a", ".com"),
    "dotted run": ("", "a.", ""),
    "hyphenated run": ("", "a1-", ""),
    "amounts glued by full stops": ("", "$1.2.", ""),
    "sentences with an amount": ("", "I paid $5. ", ""),
    "comma-joined masks": ("", "<email>,", ""),
    "names and codes": ("", "Brightcart Plus BC-4821937, ", ""),
    "marks": ("", "?!…", ""),
    "invisible characters": ("", "\u200b\u202e", ""),
    "emoji": ("", "😊", ""),
}
START_CHARS = 2000


def _fake_apertium(texts, mode, timeout_s=120.0):
    return list(texts)  # the engine's own time is not the kit's: the round trip around it is what is measured


def apertium_round_trip(monkeypatch):
    monkeypatch.setattr("heygen_lib.augment.apertium.translate", _fake_apertium)
    translator = ApertiumBackTranslator.__new__(ApertiumBackTranslator)
    translator.config = ApertiumConfig()
    return translator


def _or_refused(function, text, **kwargs):
    """`function(text)`, or its refusal: a chat message of invisible characters alone is refused as empty, which
    must come as fast as any answer."""
    try:
        return function(text, **kwargs)
    except ValueError as refused:
        return refused


def text_functions(monkeypatch):
    """Each public text function as a function of one text."""
    config = CleaningConfig(max_turn_words=None)
    rng = random.Random(0)

    def augmenter(made):
        return lambda text: made.augment([text], rng)

    found = {
        "clean_text": lambda text: clean_text(text, config, CleaningReport(steps=dict.fromkeys(_step_names(config), 0))),
        "clean_dialogues": lambda text: clean_dialogues([Dialogue("d", (Turn("a", text), Turn("b", text)), "t")]),
        "word_tokens": word_tokens,
        "split_sentences": split_sentences,
        "protected_spans": protected_spans,
        "broken_spans": lambda text: broken_spans(text, text[::-1]),
        "with_protected": lambda text: with_protected(text, [m.span() for m in re.finditer(r"\S+", text)]),
        "names_in": lambda text: names_in([text]),
        "clean_message": lambda text: _or_refused(clean_message, text, max_chars=10**7),
        "random swap": augmenter(RandomSwap(RandomSwapConfig(rate=0.1))),
        "random deletion": augmenter(RandomDeletion(RandomDeletionConfig(rate=0.1))),
        "typos": augmenter(Typos(TypoConfig(rate=0.1))),
        "word reversal": augmenter(WordReversal()),
        "word reversal, marks move": augmenter(WordReversal(WordReversalConfig(punctuation="move"))),
        "word reversal per sentence": augmenter(WordReversal(WordReversalConfig(per_sentence=True))),
        "sentence reversal": augmenter(SentenceReversal()),
        "back-translation (Apertium) around the engine": augmenter(apertium_round_trip(monkeypatch)),
    }
    if wordnet_available():
        found["synonym replacement"] = augmenter(SynonymReplacement(SynonymReplacementConfig(rate=0.1)))
        found["random insertion"] = augmenter(RandomInsertion(RandomInsertionConfig(rate=0.1)))
    return found


def test_doubling_any_pathological_text_at_most_triples_the_time_of_any_text_function(monkeypatch):
    slow = []
    for name, function in text_functions(monkeypatch).items():
        for kind, (prefix, unit, suffix) in TEXTS.items():
            ratio = growth_ratio(lambda middle: function(prefix + middle + suffix), unit, START_CHARS // len(unit))
            if ratio > MAX_RATIO:
                slow.append(f"{name} on {kind} ({unit!r} repeated): {ratio:.1f}x the time for 4x the text")
    assert not slow, "\n".join(slow)
