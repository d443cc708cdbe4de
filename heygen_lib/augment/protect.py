"""Protected spans: the parts of a support turn that augmentation must copy byte for byte.

An order id, a price, an e-mail address or a date carries the facts of a conversation. A rewrite that splits
"$54.90" or replaces "day" inside "30 days" teaches a model to garble exactly what a customer needs right, so every
augmenter treats these spans as single, untouchable units: never split, replaced, re-cased or entered by an inserted
word. They may move whole (a swap or a reversal moves words around them).

Protected, found by `protected_spans`:

* the masks of the cleaning step (``<email>``, ``<url>``, ``<phone>``), e-mail addresses and URLs (``https://...``,
  ``www....``, ``brightcart.com/returns``); a full stop or comma after a URL ends the sentence, not the URL;
* dates ("12/03/2024", "2024-03-12", "March 3rd, 2024", "3 March", "Mon 3 June") and clock times ("10:30", "3 pm");
* numbers with their currency and unit ("$54.90", "£1,200", "30 days", "1.7L", "2.4 GHz", "15%"), and a time
  counted back from now with its "ago" ("2 days ago");
* codes with a digit in them: order and ticket ids ("BC-4821937", "#48213", "TCK-0093"), discount codes
  ("SPRING15"), models ("E27");
* product and other names of the data (`data_names`): capitalised words and runs of them ("Brightcart Plus",
  "Parcelwise") that the support set writes mid-sentence at least twice and never in lower case.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from heygen_lib.paths import data_dir

_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
          r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)")
_WEEKDAY = r"(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)(?:day|nesday|sday|urday|\.)?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
# Units a space may part from their number; one-letter units ("1.7L", "4x") must touch it ("2 in" is not inches).
_DURATIONS = r"days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|seconds?|secs?"
_UNITS = (r"%|°[CF]|kg|lbs?|oz|ml|cl|cm|mm|km|inch(?:es)?|ft|gb|mb|tb|kb|ghz|mhz|hz|kw|mah|wh|"
          rf"{_DURATIONS}|"
          r"am|pm|a\.m\.|p\.m\.|euros?|dollars?|pounds?|cents?|usd|eur|gbp|cad")
_PATTERNS = {
    "mask": r"<(?:email|url|phone|[a-z_]+)>",
    "email": r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "url": r"(?:https?://|www\.)[^\s<>\"]+|(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|co|uk|de|es|fr|eu|app|example)\b(?:/[^\s<>\"]*)?",
    "date": (rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b"
             rf"|\b(?:{_WEEKDAY},?\s)?(?:{_MONTH}\s{_DAY}(?:,?\s\d{{4}})?|{_DAY}\s(?:of\s)?{_MONTH}(?:,?\s\d{{4}})?)(?!\w)"),
    "time": r"\b\d{1,2}:\d{2}(?:\s?(?:am|pm|a\.m\.|p\.m\.))?(?!\w)",
    # A time counted back from now, whole: "2 days ago" is one fact, and a translation that sees "2 days" kept apart
    # from "ago" cannot put "ago" back where it belongs ("hace 2 días" came back "2 days does").
    "ago": rf"(?<![\w.])\d+\s?(?i:{_DURATIONS})\s(?i:ago)\b",
    # A number with its currency and unit; the number may carry thousands separators and decimals.
    "amount": rf"(?:[$€£¥]\s?|\b(?:USD|EUR|GBP|CAD)\s?)?(?<![\w.])\d+(?:[.,]\d+)*(?:\s?(?i:{_UNITS})(?!\w)|(?i:[glmhvwxk])\b)?",
    "code": r"(?<![\w-])#?(?:[A-Za-z]+[-_])*[A-Za-z]*\d\w*(?:[-/][A-Za-z0-9]+)*\b|#[A-Za-z0-9][\w-]*\b",
}
# Every pattern that can start inside a word begins with a look-behind, so a match is tried only where a token
# starts: without it a long run like "a-a-a-..." is scanned to its end from every position (quadratic time).
_SPAN = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS.items()))
_TRAILING = ".,;:!?)]}'\"’”"  # closes a sentence or a bracket, not a URL
# A capital, then letters and digits with a lower-case letter or digit among them: the look-ahead checks that once,
# and the possessive runs (*+, ++) never give back characters, so a long word that fails the final check fails in
# one pass (two adjacent greedy runs would try every split point of it: quadratic time).
_NAME = re.compile(r"\b[A-Z](?=[A-Z]*+[a-z0-9])[A-Za-z0-9]*+(?:[ -][A-Z][A-Za-z0-9]++)*(?![\w'’])")
# A lower-case word, not one inside a URL or an address; possessive for the same reason.
_LOWER = re.compile(r"(?<![\w.@])[a-z][\w'-]*+(?![.@]\w)")
_NON_WORD = re.compile(r"\W")
_SENTENCE_END = re.compile(r"[.!?]\s|\n")


def _starts_sentence(text: str, position: int) -> bool:
    """Whether `position` begins a sentence: only non-word characters stand between it and the text's start, a line
    break or a sentence's end. Looks back over those characters alone, so it costs nothing per name in a long text."""
    start = position
    while start > 0 and _NON_WORD.match(text, start - 1):
        start -= 1
    return start == 0 or _SENTENCE_END.search(text, start, position) is not None


def names_in(texts: Iterable[str], min_count: int = 2, min_capitalised: float = 0.75) -> tuple[str, ...]:
    """Capitalised names, one word or a run of them, written mid-sentence at least `min_count` times, with a word that
    is capitalised in at least `min_capitalised` of the times it is written (customers sometimes type names in lower
    case): "Brightcart Plus", "Parcelwise", "SwiftPost". Longest first, so a run wins over its first word."""
    names: Counter[str] = Counter()
    capitalised: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for text in texts:
        lower.update(_LOWER.findall(text))
        for match in _NAME.finditer(text):
            if _starts_sentence(text, match.start()):  # "Ask Tom": the run's first word is a sentence's
                second = re.search(r"[ -]", match.group())
                match = _NAME.match(text, match.start() + second.end()) if second else None
            if match:
                names[match.group()] += 1
                capitalised.update(re.split(r"[ -]", match.group()))

    def is_name(word: str) -> bool:
        return capitalised[word] >= min_capitalised * (capitalised[word] + lower[word.lower()])

    found = [name for name, n in names.items() if n >= min_count and any(map(is_name, re.split(r"[ -]", name)))]
    return tuple(sorted(found, key=lambda name: (-len(name), name)))


@functools.cache
def data_names() -> tuple[str, ...]:
    """The names `names_in` finds in the support set's turns (``data/support_dialogues.jsonl``)."""
    corpus = data_dir() / "support_dialogues.jsonl"
    if not corpus.exists():
        return ()
    with corpus.open(encoding="utf-8") as lines:
        return names_in(turn["text"] for line in lines if line.strip() for turn in json.loads(line)["turns"])


@functools.cache
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile(r"\b(?:" + "|".join(re.escape(name) for name in names) + r")\b") if names else None


def protected_spans(text: str, names: Sequence[str] | None = None) -> list[tuple[int, int]]:
    """(start, end) of each protected span in `text`, in order and never overlapping (the longer one wins).

    `names`: the names to protect; None takes `data_names()`.
    """
    found = []
    for match in _SPAN.finditer(text):
        start, end = match.span()
        if match.lastgroup == "url":
            end = start + len(match.group().rstrip(_TRAILING))
        if end > start:
            found.append((start, end))
    pattern = _names_pattern(tuple(data_names() if names is None else names))
    if pattern is not None:
        found += [match.span() for match in pattern.finditer(text)]
    found.sort(key=lambda span: (span[0], -span[1]))
    spans: list[tuple[int, int]] = []
    for start, end in found:
        if spans and start < spans[-1][1]:  # overlaps the previous one: keep the union
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def protected_texts(text: str, names: Sequence[str] | None = None) -> list[str]:
    """The protected spans of `text` as strings."""
    return [text[start:end] for start, end in protected_spans(text, names)]


def broken_spans(source: str, rewrite: str, names: Sequence[str] | None = None) -> list[str]:
    """The protected spans of `source` that `rewrite` does not contain byte for byte, as often as `source` does."""
    needed = Counter(protected_texts(source, names))
    return [span for span, n in needed.items() if rewrite.count(span) < n]


def with_protected(text: str, tokens: Iterable[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    """`tokens` of `text` ((start, end) in order) with its protected spans made whole: (start, end, protected).

    A token that overlaps a protected span joins it (a tokenizer's "hi1.7L" stays one piece when "1.7L" is
    protected), so each protected unit covers its span and any token partly inside it."""
    out: list[tuple[int, int, bool]] = []
    spans = iter(protected_spans(text))
    span = next(spans, None)
    for start, end in tokens:
        while span is not None and span[1] <= start and not (out and out[-1][2] and out[-1][1] >= span[1]):
            out.append((*span, True))  # a span no token reaches
            span = next(spans, None)
        if out and out[-1][2] and start < out[-1][1]:  # overlaps the protected unit before it: join it
            out[-1] = (out[-1][0], max(end, out[-1][1]), True)
        elif span is not None and start < span[1] and end > span[0]:
            out.append((min(start, span[0]), max(end, span[1]), True))
            span = next(spans, None)
        else:
            out.append((start, end, False))
        while out[-1][2] and span is not None and span[0] < out[-1][1]:  # the unit reaches the next span too
            out[-1] = (out[-1][0], max(span[1], out[-1][1]), True)
            span = next(spans, None)
    while span is not None:
        out.append((*span, True))
        span = next(spans, None)
    return out


def inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether `position` lies strictly inside one of `spans` (not at its start). `spans` in order and never
    overlapping, as `protected_spans` returns them: a binary search, so a caller may ask at every sentence end."""
    after = bisect.bisect_left(spans, position, key=lambda span: span[0])  # the first span starting at or after it
    return after > 0 and position < spans[after - 1][1]
