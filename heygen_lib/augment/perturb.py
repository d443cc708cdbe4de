"""Perturbation: EDA's four word edits (Wei & Zou, 2019) and keyboard typos, each a `TextAugmenter`.

EDA, "easy data augmentation", makes a new sentence with one kind of cheap edit, at a rate: the share of the words
that get edited, at least one edit per text (``max(1, round(rate * words))``; the paper's default rate is 0.1).

* `SynonymReplacement`: words replaced by a WordNet synonym.
* `RandomInsertion`: a synonym of one of the text's words inserted at a random position.
* `RandomSwap`: two words swap places.
* `RandomDeletion`: words removed.
* `Typos` (not EDA): a keyboard slip in some words. `Chain` applies several augmenters one after another.

Where this differs from EDA's own code, which lower-cases the text and strips all but letters first:

* Punctuation, numbers and casing are kept. Edits move whole words and leave the spaces and punctuation between them
  in place; a replaced "Kettle" becomes "Boiler", and a sentence still starts with a capital after a swap (a name
  that starts a sentence is taken for a sentence capital, and loses it if it moves).
* Protected spans (`heygen_lib.augment.protect`: masks, e-mails, URLs, dates, amounts with their units, codes such
  as ``BC-4821937``, the data's product names) are single units that are never edited, moved, re-cased, deleted or
  entered by an inserted word; numbers are never edited either; nor are negations ("not", "never", "don't"), as moving or dropping one flips the meaning.
  Stop words are never replaced or used for insertion (as in EDA).
* A synonym has the part of speech of the word it replaces. Offline there is no part-of-speech tagger, so only
  words WordNet reads in one dominant part of speech qualify (`word_pos`): "kettle" (a noun) does, "order" (a noun
  and a verb about equally often) does not. Synonyms come from a word's most frequent senses only (`synonyms`), but
  WordNet cannot tell which sense a text means: "tank" (a water tank) can still become "army tank".
* A text an edit cannot apply to gets None: empty or emoji-only text, no word with a synonym, fewer than two words
  to swap, a single word to delete.

The synonym augmenters need WordNet (see `heygen_lib.augment.wordnet`); swaps, deletions and typos do not.
"""

from __future__ import annotations

import functools
import random
import re
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from heygen_lib.augment.base import TextAugmenter
from heygen_lib.augment.protect import with_protected
from heygen_lib.augment.wordnet import load_wordnet

if TYPE_CHECKING:
    from nltk.corpus.reader.wordnet import Lemma

# Function words (never replaced, never a synonym source) and number words (numbers are kept). Written for the kit.
STOP_WORDS = frozenset(
    """
    i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers
    herself it its itself they them their theirs themselves one ones
    a an the this that these those some any each every all both either neither few many much more most less least
    other another such own same several
    what which who whom whose when where why how whatever whenever wherever whoever
    am is are was were be been being have has had having do does did doing done get gets got
    can could may might must shall should will would ought need
    about above across after against along among around at before behind below beneath beside besides between beyond
    by down during except for from in inside into near of off on onto out outside over past per since through
    throughout till to toward towards under until up upon via with within without
    and but or nor so yet if then than because as though although while whether unless once
    not no never none nobody nothing nowhere cannot
    very too also just only even still already again ever here there now else really quite rather almost enough
    yes yeah ok okay please thanks thank hi hello hey oh well sure let lets
    zero two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred thousand million
    first second third fourth fifth half
    """.split()
)
NEGATIONS = frozenset({"not", "no", "never", "nor", "neither", "none", "nobody", "nothing", "nowhere", "cannot"})

_UNIT = re.compile(r"<\w+>|\w+(?:['’-]\w+)*")  # a mask, or a word with inner apostrophes or hyphens
_LETTERS = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # a word of letters only (no digits: codes stay as they are)
_SENTENCE_END = re.compile(r"[.!?]")
_ALWAYS_CAPITAL = frozenset({"i", "i'm", "i've", "i'll", "i'd", "i’m", "i’ve", "i’ll", "i’d"})
_JOINERS = " \t,;:-–—"  # marks that tie a word to the next one: dropped with a deleted last word
_SEPARATORS = _JOINERS + ".!?"  # dropped with a deleted first word: the next word must not start with them
_SYNONYM_FORM = re.compile(r"[a-z]+(?:[-_'][a-z]+)*")  # lower case, no digits: no names ("Hawaii") or numbers


# --- Words, gaps and casing --------------------------------------------------------------------------------------


class _Unit:
    """One word, number, mask or protected span. A capital that only marks a sentence start is taken off and put back
    on render; a protected span is never edited, moved or re-cased."""

    __slots__ = ("text", "editable", "protected", "sentence_capital", "was_start")

    def __init__(self, text: str, at_start: bool = False, protected: bool = False):
        lower = text.lower()
        self.protected = protected
        self.editable = not protected and bool(_LETTERS.fullmatch(text)) and not _is_negation(lower)
        self.was_start = at_start
        capitalised = text[:1].isupper() and text[1:] == text[1:].lower()
        self.sentence_capital = at_start and self.editable and capitalised and lower not in _ALWAYS_CAPITAL
        self.text = lower if self.sentence_capital else text


def _is_negation(lower: str) -> bool:
    return lower in NEGATIONS or lower.endswith(("n't", "n’t"))


class _Words:
    """A text as units (words, numbers, masks) and the gaps around them: gap0 unit0 gap1 unit1 ... unitN-1 gapN."""

    def __init__(self, text: str):
        self.gaps: list[str] = []
        self.units: list[_Unit] = []
        end = 0
        for start, stop, protected in _unit_spans(text):
            gap = text[end:start]
            self.gaps.append(gap)
            at_start = not self.units or bool(_SENTENCE_END.search(gap))
            self.units.append(_Unit(text[start:stop], at_start, protected))
            end = stop
        self.gaps.append(text[end:])
        # Does the writer capitalise sentences? Then a word moved to a sentence start gets a capital too.
        self.capitalises = any(u.sentence_capital or (u.was_start and u.text[:1].isupper()) for u in self.units)

    def starts_sentence(self, i: int) -> bool:
        return i == 0 or bool(_SENTENCE_END.search(self.gaps[i]))

    def swap(self, i: int, j: int) -> None:
        self.units[i], self.units[j] = self.units[j], self.units[i]

    def insert(self, i: int, word: str) -> None:
        """Put `word` before unit `i` (after the last one when `i` is the number of units), a space after it."""
        self.gaps.insert(i + 1 if i < len(self.units) else i, " ")
        self.units.insert(i, _Unit(word))

    def delete(self, i: int) -> None:
        """Remove unit `i`, merging the gaps on either side so that punctuation reads right."""
        left, right = self.gaps[i], self.gaps[i + 1]
        if i == 0:  # "Hi, thanks" -> "thanks"
            merged = left + right.lstrip(_SEPARATORS)
        elif not left.strip():  # "in touch." -> "in."
            merged = right
        elif not right.strip():  # "touch, W and" -> "touch, and"; at the end "touch, W" -> "touch"
            merged = left if right else left.rstrip(_JOINERS)
        else:  # punctuation on both sides: keep a sentence end if there is one, else the left side's
            merged = right if _SENTENCE_END.search(right) and not _SENTENCE_END.search(left) else left
        self.gaps[i : i + 2] = [merged]
        del self.units[i]

    def render(self) -> str:
        parts = [self.gaps[0]]
        for i, unit in enumerate(self.units):
            text = unit.text
            if not unit.protected and self.starts_sentence(i) and (unit.sentence_capital or (self.capitalises and not unit.was_start)):
                text = text[:1].upper() + text[1:]
            parts += [text, self.gaps[i + 1]]
        return "".join(parts)


def _unit_spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, protected) of each unit of `text`: its words, a protected span whole with any word it touches."""
    return with_protected(text, [match.span() for match in _UNIT.finditer(text)])


def _recase(word: str, like: str) -> str:
    """`word` in the casing of `like`: KETTLE -> BOILER, Kettle -> Boiler, kettle -> boiler."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


# --- WordNet lookups ---------------------------------------------------------------------------------------------


@functools.cache
def word_pos(word: str, min_share: float = 0.9) -> str | None:
    """The one part of speech WordNet gives `word` in its dictionary form: "n", "v", "a" (adjective) or "r" (adverb).

    It is that part of speech when all of the word's senses have it, or when it holds at least `min_share` of the
    times the word's senses were tagged in WordNet's sense-tagged corpus (`Lemma.count()`): "number" is a noun
    (211 times a noun, 9 a verb). None for a word split between parts of speech ("order": 57 noun, 52 verb), unknown
    to WordNet, or read as an inflected form of another ("orders", "chose", "thanks"): a synonym would need the same
    inflection, which WordNet cannot give.
    """
    key = word.lower().replace(" ", "_")
    senses: dict[str, list[Lemma]] = {}  # part of speech -> the word's lemmas in senses of it
    for synset in load_wordnet().synsets(key):
        lemmas = [lemma for lemma in synset.lemmas() if lemma.name().lower() == key]
        if not lemmas:  # this sense belongs to the word's base form, e.g. "order" for "orders"
            return None
        pos = "a" if synset.pos() == "s" else synset.pos()  # "s", satellite adjective, is an adjective
        senses.setdefault(pos, []).extend(lemmas)
    if len(senses) < 2:
        return next(iter(senses), None)
    counts = {pos: sum(lemma.count() for lemma in lemmas) for pos, lemmas in senses.items()}  # slow: count only here
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] and counts[best] >= min_share * sum(counts.values()) else None


@functools.cache
def synonyms(word: str, max_senses: int | None = 1, min_pos_share: float = 0.9, min_count: int = 1) -> tuple[str, ...]:
    """WordNet synonyms of `word` with its part of speech (`word_pos`), from its `max_senses` most frequent senses
    (None: all; WordNet orders a word's senses by how often they were tagged). Each synonym is read in that part of
    speech too, and was itself tagged in that sense at least `min_count` times (`Lemma.count()`): "day" keeps
    "twenty-four hours" (3) and loses "mean solar day" (0), a sense's technical names that nobody writes in chat.
    Lower case, one word or several ("give thanks"), never a name or a number. Empty when `word` does not qualify."""
    pos = word_pos(word, min_pos_share)
    if pos is None:
        return ()
    key = word.lower().replace(" ", "_")
    senses = [s for s in load_wordnet().synsets(key, pos) if any(lemma.name().lower() == key for lemma in s.lemmas())]
    found = (
        lemma.name()
        for synset in senses[:max_senses]
        for lemma in synset.lemmas()
        if lemma.name().lower() != key and _SYNONYM_FORM.fullmatch(lemma.name())
        and (min_count == 0 or lemma.count() >= min_count) and word_pos(lemma.name(), min_pos_share) == pos
    )
    return tuple(dict.fromkeys(name.replace("_", " ") for name in found))


# --- Configurations ----------------------------------------------------------------------------------------------


def _check_rate(rate: float) -> None:
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1], got {rate}")


@dataclass(frozen=True)
class SynonymReplacementConfig:
    """How many words get a synonym, and which synonyms count."""

    rate: float = 0.1  # share of a text's words replaced (EDA's alpha_sr); at least one
    # Synonyms from the word's most frequent sense(s) only. EDA takes every sense (None); rarer senses bring
    # synonyms of other meanings ("gift" -> "talent", "box" -> "loge"). On the support set's agent turns, 1 sense
    # still leaves a replaceable word in 92% of turns (2 senses: 97%, all: 98%).
    max_senses: int | None = 1
    min_pos_share: float = 0.9  # how clearly one part of speech must dominate a word's senses (see `word_pos`)
    # A synonym must itself be tagged in that sense this often in WordNet's corpus (0: any lemma of the sense, as
    # EDA). 1 drops a sense's rare, technical names ("day" -> "mean solar day"); data/synonym_judgements.jsonl
    # measures how often each setting changes a sentence's meaning (notebook 02).
    min_count: int = 1

    def __post_init__(self) -> None:
        _check_rate(self.rate)
        _check_lexicon(self.max_senses, self.min_pos_share)


@dataclass(frozen=True)
class RandomInsertionConfig:
    """How many synonyms are inserted, and which synonyms count."""

    rate: float = 0.1  # insertions per word of the text (EDA's alpha_ri); at least one
    max_senses: int | None = 1  # as in `SynonymReplacementConfig`
    min_pos_share: float = 0.9
    min_count: int = 1

    def __post_init__(self) -> None:
        _check_rate(self.rate)
        _check_lexicon(self.max_senses, self.min_pos_share)


def _check_lexicon(max_senses: int | None, min_pos_share: float) -> None:
    if max_senses is not None and max_senses < 1:
        raise ValueError(f"max_senses must be at least 1 or None (all senses), got {max_senses}")
    if not 0.5 < min_pos_share <= 1:
        raise ValueError(f"min_pos_share must be in (0.5, 1], got {min_pos_share}")


@dataclass(frozen=True)
class RandomSwapConfig:
    rate: float = 0.1  # swaps per word of the text (EDA's alpha_rs); at least one

    def __post_init__(self) -> None:
        _check_rate(self.rate)


@dataclass(frozen=True)
class RandomDeletionConfig:
    # Share of a text's words deleted, at least one. EDA deletes each word with this probability (its p_rd), so
    # some texts come back unchanged; a count makes every rewrite differ from its input.
    rate: float = 0.1

    def __post_init__(self) -> None:
        _check_rate(self.rate)


TYPO_KINDS = ("keyboard", "swap", "drop", "double")  # a neighbouring key, two letters swapped, one dropped, one doubled


@dataclass(frozen=True)
class TypoConfig:
    """How many words get a typo, and which kinds of typo."""

    # Share of a text's words that get one typo each, at least one. Per word rather than per character: a per-
    # character rate would hit long words far more often, and a word with two typos is rarely still readable.
    rate: float = 0.1
    kinds: tuple[str, ...] = TYPO_KINDS  # drawn uniformly among those possible in the chosen word
    min_word_length: int = 3  # shorter words ("a", "to", "I") are left alone

    def __post_init__(self) -> None:
        _check_rate(self.rate)
        unknown = [kind for kind in self.kinds if kind not in TYPO_KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty selection of {TYPO_KINDS}, got {self.kinds}")
        if self.min_word_length < 2:
            raise ValueError(f"min_word_length must be at least 2, got {self.min_word_length}")


# --- Augmenters --------------------------------------------------------------------------------------------------


class _WordEdit(TextAugmenter):
    """The loop all perturbations share: split a text into words and gaps, edit, join. Each text gets
    ``max(1, round(rate * words))`` edits (fewer where fewer are possible), counting numbers and masks as words."""

    def augment(self, texts: Sequence[str], rng: random.Random) -> list[str | None]:
        out: list[str | None] = []
        for text in texts:
            words = _Words(text)
            edits = max(1, round(self.config.rate * len(words.units)))
            out.append(words.render() if words.units and self._edit(words, edits, rng) else None)
        return out

    @abstractmethod
    def _edit(self, words: _Words, edits: int, rng: random.Random) -> bool:
        """Make up to `edits` edits in place; False when none is possible."""


class _SynonymEdit(_WordEdit):
    def _synonyms(self, unit: _Unit) -> tuple[str, ...]:
        """Synonyms for a unit: none for masks, numbers, negations, stop words and words under three letters."""
        lower = unit.text.lower()
        if not unit.editable or len(lower) < 3 or lower in STOP_WORDS:
            return ()
        return synonyms(lower, self.config.max_senses, self.config.min_pos_share, self.config.min_count)


class SynonymReplacement(_SynonymEdit):
    """Replaces words with WordNet synonyms of the same part of speech, each chosen word with its own draw.

    None for a text with no word that has a synonym (see `synonyms`).
    """

    name = "synonym-replacement"

    def __init__(self, config: SynonymReplacementConfig | None = None):
        self.config = config or SynonymReplacementConfig()

    def _edit(self, words: _Words, edits: int, rng: random.Random) -> bool:
        options = [(unit, found) for unit in words.units if (found := self._synonyms(unit))]
        for unit, found in rng.sample(options, min(edits, len(options))):
            unit.text = _recase(rng.choice(found), unit.text)
        return bool(options)


class RandomInsertion(_SynonymEdit):
    """Inserts synonyms of the text's own words at random positions (between words, never inside a mask).

    None for a text with no word that has a synonym.
    """

    name = "random-insertion"

    def __init__(self, config: RandomInsertionConfig | None = None):
        self.config = config or RandomInsertionConfig()

    def _edit(self, words: _Words, edits: int, rng: random.Random) -> bool:
        sources = [found for unit in words.units if (found := self._synonyms(unit))]
        for _ in range(edits if sources else 0):
            words.insert(rng.randint(0, len(words.units)), rng.choice(rng.choice(sources)))
        return bool(sources)


class RandomSwap(_WordEdit):
    """Swaps two random words, `edits` times; numbers, masks and negations stay where they are.

    None for a text with fewer than two words that may move.
    """

    name = "random-swap"

    def __init__(self, config: RandomSwapConfig | None = None):
        self.config = config or RandomSwapConfig()

    def _edit(self, words: _Words, edits: int, rng: random.Random) -> bool:
        movable = [i for i, unit in enumerate(words.units) if unit.editable]
        for _ in range(edits if len(movable) > 1 else 0):
            words.swap(*rng.sample(movable, 2))
        return len(movable) > 1


class RandomDeletion(_WordEdit):
    """Deletes random words; never numbers, masks or negations, and never the last word of a turn.

    None for a text with nothing it may delete, or a single word.
    """

    name = "random-deletion"

    def __init__(self, config: RandomDeletionConfig | None = None):
        self.config = config or RandomDeletionConfig()

    def _edit(self, words: _Words, edits: int, rng: random.Random) -> bool:
        deletable = [i for i, unit in enumerate(words.units) if unit.editable]
        edits = min(edits, len(deletable), len(words.units) - 1)
        for i in sorted(rng.sample(deletable, edits), reverse=True):  # from the end: indices stay valid
            words.delete(i)
        return edits > 0


# A QWERTY keyboard: its three letter rows and how far each is shifted right, in key widths. Keys less than one key
# width apart, in the same row or the next, are neighbours ("s": a, d, w, e, z, x).
_ROWS, _STAGGER = ("qwertyuiop", "asdfghjkl", "zxcvbnm"), (0.0, 0.25, 0.75)
_PLACES = {key: (row, col + _STAGGER[row]) for row, keys in enumerate(_ROWS) for col, key in enumerate(keys)}
KEYBOARD_NEIGHBOURS = {
    key: "".join(o for o, (r2, x2) in _PLACES.items() if o != key and abs(r2 - r) <= 1 and abs(x2 - x) <= 1)
    for key, (r, x) in _PLACES.items()
}


class Typos(_WordEdit):
    """Gives some words one typo each: a neighbouring key, two adjacent letters swapped, a letter dropped or doubled.

    Letters keep their case; masks, numbers, negations and short words are left alone. None for a text with no
    word it may touch.
    """

    name = "typos"

    def __init__(self, config: TypoConfig | None = None):
        self.config = config or TypoConfig()

    def _edit(self, words: _Words, edits: int, rng: random.Random) -> bool:
        options = [(unit, kinds) for unit in words.units if (kinds := self._kinds(unit))]
        for unit, kinds in rng.sample(options, min(edits, len(options))):
            kind = rng.choice(list(kinds))
            unit.text = _typo(unit.text, kind, rng.choice(kinds[kind]), rng)
        return bool(options)

    def _kinds(self, unit: _Unit) -> dict[str, list[int]]:
        """Each possible kind of typo in this unit, with the letter positions it can hit."""
        word = unit.text
        if not unit.editable or len(word) < self.config.min_word_length:
            return {}
        letters = [i for i, char in enumerate(word) if char.isalpha()]
        positions = {
            "keyboard": [i for i in letters if word[i].lower() in KEYBOARD_NEIGHBOURS],
            "swap": [i for i in letters if i + 1 < len(word) and word[i + 1].isalpha() and word[i + 1] != word[i]],
            "drop": letters,
            "double": letters,
        }
        return {kind: positions[kind] for kind in self.config.kinds if positions[kind]}


def _typo(word: str, kind: str, i: int, rng: random.Random) -> str:
    char = word[i]
    if kind == "keyboard":
        new = rng.choice(KEYBOARD_NEIGHBOURS[char.lower()])
        return word[:i] + (new.upper() if char.isupper() else new) + word[i + 1 :]
    if kind == "swap":
        return word[:i] + word[i + 1] + char + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + char + word[i:]  # double


class Chain(TextAugmenter):
    """Several augmenters one after another, e.g. ``Chain(SynonymReplacement(), Typos())``.

    A step that cannot rewrite a text passes it on as it is; the result is None only where no step could.
    """

    def __init__(self, *steps: TextAugmenter):
        if not steps:
            raise ValueError("Chain needs at least one augmenter")
        self.steps = steps
        self.name = "+".join(step.name for step in steps)
        self.config = None

    def params(self) -> dict[str, Any]:
        return {"steps": [{"augmenter": step.name, "params": step.params()} for step in self.steps]}

    def augment(self, texts: Sequence[str], rng: random.Random) -> list[str | None]:
        current, changed = list(texts), [False] * len(texts)
        for step in self.steps:
            for i, new in enumerate(step.augment(current, rng)):
                if new is not None:
                    current[i], changed[i] = new, True
        return [text if done else None for text, done in zip(current, changed)]
