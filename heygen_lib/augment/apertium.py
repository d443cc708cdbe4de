"""Back-translation offline, with Apertium: a rule-based translation engine that Debian packages with an
English-Spanish pair (``apt-get install apertium apertium-eng-spa``; `make setup` does it when run as root).

Rule-based translation is deterministic and literal: "Could you send me the tracking number, please?" goes to
Spanish and back as "It could I send me the number to follow, please?". The paraphrase is rougher than a neural
model's, but it is real translation, runs in milliseconds on a CPU and needs no download, so the smoke profile can
show back-translation working. One rewrite per text: the same text always comes back the same.

Three things are handled here:

* protected spans (`heygen_lib.augment.protect`) are swapped for placeholder words that Apertium passes through as
  unknown words, and swapped back afterwards, so "$54.90" or "BC-4821937" come back byte for byte;
* unknown-word marks: Apertium writes ``*word`` for a word it does not know (``-u`` turns these off), ``#word`` for
  one it could not inflect and ``@word`` for one its transfer rules could not handle; the marks are removed;
* Apertium's doubled spaces and its capital at the start of every text are put back as the source had them.

A text whose protected spans do not all come back, or that comes back empty, gets None.
"""

from __future__ import annotations

import functools
import random
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from heygen_lib.augment.base import TextAugmenter
from heygen_lib.augment.protect import broken_spans, protected_spans

HOW_TO_GET = ("Apertium is not installed. On Debian or Ubuntu: `sudo apt-get install apertium apertium-eng-spa` "
              "(`make setup` does it when run as root; the Colab bootstrap does it on Colab). Elsewhere: "
              "https://wiki.apertium.org/wiki/Installation")
_SEPARATOR = "Zsplitz"  # a line of its own between texts: an unknown word that comes through untouched
_SPLIT = re.compile(rf"\s*\.{_SEPARATOR}\.\s*")
_MARK = re.compile(r"(?<![\w@#*])[*#@](?=\w)")  # an unknown-word mark at the start of a word
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_MARK = re.compile(r"[ \t]+([,.;:!?])")


class ApertiumMissing(RuntimeError):
    """Apertium, or its language pair, is not installed; the message says how to get it."""


@dataclass(frozen=True)
class ApertiumConfig:
    """The two translation modes of the round trip (`apertium -l` lists the installed ones)."""

    forward: str = "eng-spa"  # English -> pivot language
    backward: str = "spa-eng"  # pivot language -> English
    timeout_s: float = 120.0  # for one batch of texts


@functools.cache
def apertium_modes() -> tuple[str, ...]:
    """The translation modes the installed Apertium offers; empty when Apertium is missing. Listed once per process
    (each check would start a process); after installing a pair, ``apertium_modes.cache_clear()`` lists again."""
    if shutil.which("apertium") is None:
        return ()
    listed = subprocess.run(["apertium", "-l"], capture_output=True, text=True, check=False).stdout
    return tuple(line.strip() for line in listed.splitlines() if line.strip())


def apertium_available(config: ApertiumConfig | None = None) -> bool:
    """Whether Apertium and both modes of `config` are installed."""
    config = config or ApertiumConfig()
    modes = apertium_modes()
    return config.forward in modes and config.backward in modes


def translate(texts: Sequence[str], mode: str, timeout_s: float = 120.0) -> list[str]:
    """Each text translated by Apertium `mode`, unknown-word marks removed. One process for the batch: the texts go
    in as lines parted by a separator line, and come out in order."""
    if not texts:
        return []
    flat = [" ".join(text.split()) for text in texts]  # a text's own line breaks would look like separators
    joined = f"\n.{_SEPARATOR}.\n".join(flat)
    try:
        done = subprocess.run(["apertium", "-u", mode], input=joined, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise ApertiumMissing(HOW_TO_GET) from None
    if done.returncode != 0:
        raise ApertiumMissing(f"`apertium {mode}` failed ({done.stderr.strip()[:200]}). {HOW_TO_GET}")
    out = _SPLIT.split(done.stdout.strip())
    if len(out) != len(flat):  # the separator did not survive somewhere: translate one by one
        return [translate([text], mode, timeout_s)[0] for text in flat] if len(flat) > 1 else [done.stdout.strip()]
    return [_MARK.sub("", text).strip() for text in out]


class ApertiumBackTranslator(TextAugmenter):
    """Paraphrases by a rule-based round trip through Spanish (`ApertiumConfig`), protected spans kept.

    Deterministic: `rng` is not used. None where the round trip comes back empty or loses a protected span.
    """

    name = "back-translation (Apertium)"

    def __init__(self, config: ApertiumConfig | None = None):
        self.config = config or ApertiumConfig()
        if not apertium_available(self.config):
            raise ApertiumMissing(f"Apertium modes {self.config.forward} and {self.config.backward} are needed. "
                                  f"{HOW_TO_GET}")

    def augment(self, texts: Sequence[str], rng: random.Random) -> list[str | None]:
        return self.round_trip(texts)[1]

    def round_trip(self, texts: Sequence[str]) -> tuple[list[str | None], list[str | None]]:
        """The pivot translations and the back-translations, both in input order (placeholders in the pivots)."""
        held = [_hold(text) for text in texts]
        todo = [i for i, (masked, _) in enumerate(held) if masked.strip()]
        pivots = translate([held[i][0] for i in todo], self.config.forward, self.config.timeout_s)
        back = translate(pivots, self.config.backward, self.config.timeout_s)
        pivot_out: list[str | None] = [None] * len(texts)
        back_out: list[str | None] = [None] * len(texts)
        for i, pivot, text in zip(todo, pivots, back):
            pivot_out[i] = pivot
            restored = _tidy(_release(text, held[i][1]), like=texts[i])
            if restored and not broken_spans(texts[i], restored):
                back_out[i] = restored
        return pivot_out, back_out


@dataclass(frozen=True)
class PlaceholderEffect:
    """What swapping protected spans for placeholders does to a round trip, measured against the same round trip
    without them, on the texts whose unprotected round trip happens to keep every span."""

    compared: int  # texts with a protected span whose unprotected round trip kept them all
    changed: int  # of those, round trips that came back differently with placeholders
    examples: tuple[tuple[str, str], ...]  # (with placeholders, without), for the first few that changed

    @property
    def rate(self) -> float:
        return self.changed / self.compared if self.compared else 0.0

    def __str__(self) -> str:
        return (f"{self.changed} of {self.compared} round trips ({self.rate:.0%}) come back differently with "
                "placeholders than without: the spans return whole, the words next to them may not")


def placeholder_effect(translator: ApertiumBackTranslator, texts: Sequence[str], examples: int = 3) -> PlaceholderEffect:
    """Round-trip the `texts` that hold a protected span with and without placeholders, and count the differences.

    A placeholder is a word Apertium does not know, so its rules cannot use what the span said: a span kept whole
    ("2 days ago") comes back whole, but "2 days" held apart from "ago" came back "2 days does". The difference is
    what protection costs; where the unprotected trip loses a span, there is nothing to compare with."""
    spanned = [text for text in texts if protected_spans(text)]
    held = translator.round_trip(spanned)[1]
    config = translator.config
    plain = translate(translate(spanned, config.forward, config.timeout_s), config.backward, config.timeout_s)
    compared = [(mine, _tidy(theirs, like=text)) for text, mine, theirs in zip(spanned, held, plain)
                if mine is not None and not broken_spans(text, _tidy(theirs, like=text))]
    changed = [(mine, theirs) for mine, theirs in compared if mine != theirs]
    return PlaceholderEffect(len(compared), len(changed), tuple(changed[:examples]))


def _placeholder(i: int) -> str:
    return f"Qprot{i}q"


_PLACEHOLDER = re.compile(r"Qprot(\d+)q")


def _hold(text: str) -> tuple[str, list[str]]:
    """`text` with each protected span replaced by a placeholder word, and the spans in placeholder order."""
    spans = protected_spans(text)
    pieces, held, position = [], [], 0
    for start, end in spans:
        pieces += [text[position:start], _placeholder(len(held))]
        held.append(text[start:end])
        position = end
    return "".join(pieces) + text[position:], held


def _release(text: str, held: Sequence[str]) -> str:
    """`text` with the first copy of each placeholder swapped back for its span, in one pass over the text (one
    replace per span would read the text once per span: quadratic in a turn of many spans)."""
    released: set[int] = set()

    def span(match: re.Match[str]) -> str:
        i = int(match.group(1))
        if i >= len(held) or i in released:
            return match.group()
        released.add(i)
        return held[i]

    return _PLACEHOLDER.sub(span, text)


def _tidy(text: str, like: str) -> str:
    """Single spaces, no space before punctuation, and the first letter cased as in `like`'s first letter."""
    text = _SPACE_BEFORE_MARK.sub(r"\1", _SPACES.sub(" ", text)).strip()
    starts_protected = any(start == 0 for start, _ in protected_spans(text))
    if text and like[:1].islower() and text[:1].isupper() and not starts_protected:
        text = text[:1].lower() + text[1:]
    return text
