"""Reversal: three readings of "reverse a dialogue", each its own augmenter.

* `WordReversal` reverses the order of the words in an utterance ("Hi, how are you?" -> "you, are how Hi?").
* `SentenceReversal` reverses the order of the sentences in a turn ("Thanks. Where is it?" -> "Where is it? Thanks.").
* `SwapRoles` exchanges the two speakers of a dialogue: the customer's lines become the agent's and back.

None of them invents words, so they are cheap; whether their output still reads like real data (useful as
training data) or only as a negative (for a discriminator that must tell real from fake) is for measurement to say.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from heygen_lib.augment.base import AugmentReport, DialogueAugmenter, TextAugmenter, provenance
from heygen_lib.augment.protect import inside, protected_spans, with_protected
from heygen_lib.data.dialogue import Dialogue, Turn

# --- Sentences ---------------------------------------------------------------------------------------------------

# A sentence ends in a run of . ! ? or … (or the full-width 。！？), maybe followed by closing quotes or brackets.
_END = re.compile(r"(?:[.!?…]+|[。！？]+)[\"'”’)\]]*")
_CLOSERS = "\"'”’)]"
_FULL_WIDTH_ENDS = "。！？"
# Abbreviations whose full stop never ends a sentence ("Dr. Lee", "e.g. the kettle").
_NEVER_FINAL = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "mt", "e.g", "i.e", "vs", "cf", "approx"})
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # letters joined by dots: u.s, p.m (not 47.80)
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
_SPACE = re.compile(r"\s*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in `text`, without the whitespace between them.

    Rules, chosen for chat text and needing no downloaded model: "?" and "!" (alone or in runs like "?!") end a
    sentence; "..." and "…" end one only before a capital ("I waited... Nothing came." is two, "wait... what" one);
    a full stop ends one before any word, capitalised or not (chat often is not), except after a title or "e.g."-like
    abbreviation, and after "etc." or dotted letters ("U.S.", "p.m.") only before a capital. A boundary needs
    whitespace after it (so "1.7L" and "...yes" stay whole), except after 。！？, and it never falls inside a protected
    span (`heygen_lib.augment.protect`). Punctuation-only sentences ("!!!") join the next one.
    """
    spans: list[tuple[int, int]] = []
    protected = protected_spans(text)
    start = _SPACE.match(text).end()
    first_letter = _LETTER_OR_DIGIT.search(text, start)  # has the sentence begun with a word yet?
    for match in _END.finditer(text):
        following = _SPACE.match(text, match.end()).end()
        if following == len(text):
            break
        terminator = match.group().rstrip(_CLOSERS)
        if terminator[0] not in _FULL_WIDTH_ENDS and following == match.end():
            continue  # no space after it: a decimal point, a leading "...", a URL
        if first_letter is None or first_letter.start() >= match.start():
            continue
        if not _ends_sentence(_previous_word(text, start, match.start()), terminator, text, following):
            continue
        if inside(match.end(), protected):  # "Jun. 4", "Mon. 3 June": a date's full stop ends nothing
            continue
        spans.append((start, match.end()))
        start = following
        first_letter = _LETTER_OR_DIGIT.search(text, start)
    end = len(text.rstrip())
    if start < end:
        spans.append((start, end))
    return spans


def _previous_word(text: str, start: int, end: int) -> str:
    """The run of non-space characters ending at `end` (not before `start`), lower-cased, opening marks dropped."""
    begin = end
    while begin > start and not text[begin - 1].isspace():
        begin -= 1
    return text[begin:end].lower().lstrip("(\"'“‘[")


def _ends_sentence(previous: str, terminator: str, text: str, following: int) -> bool:
    if terminator[0] in _FULL_WIDTH_ENDS or "?" in terminator or "!" in terminator:
        return True
    next_letter = _LETTER_OR_DIGIT.search(text, following, following + 64)
    next_is_capital = next_letter is not None and next_letter.group().isupper()
    if terminator != ".":
        return next_is_capital  # an ellipsis
    if previous in _NEVER_FINAL:
        return False
    if previous == "etc" or _DOTTED.fullmatch(previous):
        return next_is_capital
    return True


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, in order (see `sentence_spans` for the rules)."""
    return [text[start:end] for start, end in sentence_spans(text)]


def _ends_with_terminator(sentence: str) -> bool:
    core = sentence.rstrip(_CLOSERS)
    return bool(core) and core[-1] in ".!?…" + _FULL_WIDTH_ENDS


class SentenceReversal(TextAugmenter):
    """Reverses the order of the sentences in a turn; each sentence is kept verbatim with its own punctuation.

    A last sentence without end punctuation ("thanks. works now") gets a full stop when it moves to the front, or it
    would run into the next one ("works now. thanks."). None for texts of fewer than two sentences, which includes
    empty ones.
    """

    name = "sentence-reversal"
    config = None  # nothing to set

    def augment(self, texts: Sequence[str], rng: random.Random) -> list[str | None]:
        return [self._reverse(text) for text in texts]

    @staticmethod
    def _reverse(text: str) -> str | None:
        spans = sentence_spans(text)
        if len(spans) < 2:
            return None
        sentences = [text[start:end] for start, end in spans]
        if not _ends_with_terminator(sentences[-1]):
            sentences[-1] += "."
        gaps = [text[end:start] for (_, end), (start, _) in zip(spans, spans[1:])]  # the whitespace between them
        mirrored = [sentences[-1]]
        for gap, sentence in zip(reversed(gaps), reversed(sentences[:-1])):
            mirrored += [gap, sentence]
        return text[: spans[0][0]] + "".join(mirrored) + text[spans[-1][1] :]


# --- Words -------------------------------------------------------------------------------------------------------

_MASK = r"<\w+>"  # the cleaning step's <email>, <url>, <phone>: they stand for one word
_TOKEN = re.compile(
    rf"(?P<word>{_MASK}"
    r"|(?:[^\W\d_]\.){2,}(?!\w)"  # a dotted abbreviation with its last dot: e.g., i.e., p.m., U.S.
    r"|\b(?i:dr|mr|mrs|ms|prof|st|mt)\.(?!\w)"  # a title with its dot: Dr. Lee
    r"|\w+(?:['’./:-]\w+)*)"  # a word, keeping inner apostrophes, dots, hyphens: don't, 1.7L, BC-4821937, mix-up
    rf"|(?:(?!{_MASK})[^\w\s])+"  # a run of punctuation, symbols or emoji: ",", "?!", "...", "😊"
)


@dataclass(frozen=True)
class WordReversalConfig:
    """How `WordReversal` treats punctuation, and how far words may travel."""

    # "stay": punctuation, symbols and emoji keep their places and only the words reverse ("Hi, how are you?" ->
    # "you, are how Hi?"), so a question still ends in "?". "move": every token reverses, spacing mirrored
    # ("Hi, how are you?" -> "?you are how ,Hi"): the text read backwards, an obvious fake.
    punctuation: Literal["stay", "move"] = "stay"
    # False: words travel across the whole turn. True: they stay within their sentence, so a turn keeps its sentence
    # order and each sentence is reversed on its own: closer to real text.
    per_sentence: bool = False


class WordReversal(TextAugmenter):
    """Reverses the order of the words in each utterance.

    A word keeps its inner apostrophes, dots and hyphens ("don't", "1.7L", "BC-4821937"), and abbreviations their
    dot ("e.g.", "Dr."); a protected span ("$54.90", "jo@example.com", "March 3rd, 2024") moves as one word; masks such as ``<email>`` are words (they move whole); capitals stay on their words ("you,
    are how Hi?") rather than being fixed up, so the output is exactly what reversal makes. Reversing twice gives
    back the original text for ``per_sentence=False``, wherever words are parted by a space or a mark as in written
    text ("<email>hi" or "e.g..hi" are not). Scripts written without spaces (Chinese, Japanese) count one word per
    unbroken run.
    None for texts with fewer than two words (empty, emoji-only, a single word): there is nothing to reverse.
    """

    name = "word-reversal"

    def __init__(self, config: WordReversalConfig = WordReversalConfig()):
        if config.punctuation not in ("stay", "move"):
            raise ValueError(f"punctuation must be 'stay' or 'move', got {config.punctuation!r}")
        self.config = config

    def augment(self, texts: Sequence[str], rng: random.Random) -> list[str | None]:
        return [self._reverse(text) for text in texts]

    def _reverse(self, text: str) -> str | None:
        spans = sentence_spans(text) if self.config.per_sentence else [(0, len(text))]
        pieces, position, reversed_any = [], 0, False
        for start, end in spans:
            rewritten = self._reverse_span(text[start:end])
            reversed_any = reversed_any or rewritten is not None
            pieces += [text[position:start], rewritten if rewritten is not None else text[start:end]]
            position = end
        return "".join(pieces) + text[position:] if reversed_any else None

    def _reverse_span(self, text: str) -> str | None:
        tokens = _tokens(text)
        words = [text[start:end] for start, end, word in tokens if word]
        if len(words) < 2:
            return None
        if self.config.punctuation == "move":
            gaps = [text[a[1] : b[0]] for a, b in zip(tokens, tokens[1:])]
            mirrored = [text[tokens[-1][0] : tokens[-1][1]]]
            for gap, (start, end, _) in zip(reversed(gaps), reversed(tokens[:-1])):
                mirrored += [gap, text[start:end]]
            return text[: tokens[0][0]] + "".join(mirrored) + text[tokens[-1][1] :]
        backwards = reversed(words)
        pieces, position = [], 0
        for start, end, word in tokens:
            pieces += [text[position:start], next(backwards) if word else text[start:end]]
            position = end
        return "".join(pieces) + text[position:]


def _tokens(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_word) of each token of `text`; a protected span is one word, whatever is inside it, and a run
    of marks is cut where a protected span begins or ends (",$23.80": "," and "$23.80")."""
    cuts = sorted({edge for span in protected_spans(text) for edge in span})
    matches: dict[tuple[int, int], bool] = {}
    for match in _TOKEN.finditer(text):
        word, (start, end) = match.group("word") is not None, match.span()
        inner = [] if word else cuts[bisect.bisect_right(cuts, start) : bisect.bisect_left(cuts, end)]  # binary search
        edges = [start, *inner, end]
        matches.update({(a, b): word for a, b in zip(edges, edges[1:])})
    return [(start, end, protected or matches[start, end]) for start, end, protected in with_protected(text, matches)]


# --- Speakers ----------------------------------------------------------------------------------------------------


class SwapRoles(DialogueAugmenter):
    """Exchanges the two speaker labels of each two-speaker dialogue (customer <-> agent); the texts stay as they are.

    The result keeps the parent's ``meta`` (what was said has not changed) and gets the id ``<parent id>/swapped``.
    Dialogues with one speaker or more than two are skipped and counted in the report.
    """

    name = "swap-roles"
    config = None  # nothing to set

    def augment_dialogues(self, dialogues: Sequence[Dialogue], seed: int = 0) -> tuple[list[Dialogue], AugmentReport]:
        """Swapped copies of the two-speaker dialogues (no randomness: `seed` is only recorded in the provenance)."""
        made = []
        for dialogue in dialogues:
            speakers = dialogue.speakers
            if len(speakers) != 2:
                continue
            other = {speakers[0]: speakers[1], speakers[1]: speakers[0]}
            turns = tuple(Turn(other[turn.speaker], turn.text) for turn in dialogue.turns)
            meta = {**dialogue.meta, "provenance": provenance(self, seed, f"{dialogue.source}:{dialogue.id}")}
            made.append(replace(dialogue, id=f"{dialogue.id}/swapped", turns=turns, meta=meta))
        skipped = len(dialogues) - len(made)
        notes = [f"{skipped} dialogue(s) without exactly two speakers skipped"] if skipped else []
        return made, AugmentReport(self.name, inputs=len(dialogues), made=len(made), skipped=skipped, notes=notes)
