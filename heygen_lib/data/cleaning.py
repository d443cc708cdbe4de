"""Cleaning: remove noise and standardise text, and report what every step changed.

Nothing is dropped silently: `clean_dialogues` returns a `CleaningReport` that counts, per step, the turns it
changed, the matches it masked, or the turns and dialogues it removed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace

from heygen_lib.data.dialogue import Dialogue, Turn

EMAIL_MASK, URL_MASK, PHONE_MASK = "<email>", "<url>", "<phone>"

# Every pattern here sees user text of any length, so each must run in linear time. The e-mail pattern starts only
# where a run of address characters starts (the lookbehind): without it, a long run with no "@" is scanned again
# from each of its characters, quadratic in the run's length (a 40,000-character word took 27 s).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?:https?://|www\.)\S+"  # anything with a scheme or www.
    r"|(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:com|org|net|edu|gov|io|co|uk|de|example)\b(?:/\S*)?",  # bare domains (not
    # the end of an e-mail address), optional path
    re.IGNORECASE,
)
# Digit groups joined by spaces, dots or dashes, optionally with +country code and (area code); a match counts as a
# phone number only with 7 or more digits. Groups after the first have 3-4 digits, so dates (2024-05-03), order
# numbers (BC-4821937) and prices are left alone.
_PHONE = re.compile(r"(?<![\w-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{3,4}){1,3}(?![\w-])")
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"'})
_KEEP_FORMAT_CHARS = {"\u200d"}  # zero-width joiner: part of emoji sequences
_TRAILING_PUNCT = ".,;:!?)]}'\""


@dataclass(frozen=True)
class CleaningConfig:
    """Which cleaning steps run, and their limits."""

    unicode_form: str | None = "NFKC"  # compatibility forms: full-width letters, ligatures, "…" -> "..."; None skips
    plain_quotes: bool = True  # curly quotes and apostrophes -> ' and "
    mask_emails: bool = True
    mask_urls: bool = True
    mask_phones: bool = True
    merge_same_speaker: bool = True  # one speaker's consecutive messages become one turn
    merge_separator: str = " "
    max_turn_words: int | None = 150  # longer turns are cut to this many words; None keeps them whole
    min_turns: int = 2  # dialogues with fewer turns after cleaning are removed


@dataclass
class CleaningReport:
    """How many items each cleaning step touched, in pipeline order."""

    dialogues_in: int = 0
    dialogues_out: int = 0
    turns_in: int = 0
    turns_out: int = 0
    steps: dict[str, int] = field(default_factory=dict)

    def count(self, step: str, n: int = 1) -> None:
        self.steps[step] += n

    def __str__(self) -> str:
        lines = [
            f"dialogues {self.dialogues_in:>7} -> {self.dialogues_out}",
            f"turns     {self.turns_in:>7} -> {self.turns_out}",
        ]
        width = max((len(step) for step in self.steps), default=0)
        lines += [f"  {step:<{width}}  {n:>6}" for step, n in self.steps.items()]
        return "\n".join(lines)


# Report step names, in pipeline order.
NORMALISED, QUOTES, CONTROL, WHITESPACE = (
    "turns Unicode-normalised",
    "turns with curly quotes made plain",
    "turns with control or invisible characters removed",
    "turns with whitespace collapsed",
)
EMAILS, URLS, PHONES = "e-mail addresses masked", "URLs masked", "phone numbers masked"
EMPTY, REPEATED, MERGED, CUT = (
    "empty turns removed",
    "repeated turns removed (same speaker, same text)",
    "consecutive turns of one speaker merged",
    "long turns cut",
)
SHORT, DUPLICATES = "short dialogues removed", "duplicate dialogues removed"


def _step_names(config: CleaningConfig) -> list[str]:
    """The report's rows for this configuration, in the order the steps run."""
    enabled = {
        NORMALISED: bool(config.unicode_form),
        QUOTES: config.plain_quotes,
        EMAILS: config.mask_emails,
        URLS: config.mask_urls,
        PHONES: config.mask_phones,
        MERGED: config.merge_same_speaker,
        CUT: config.max_turn_words is not None,
    }
    order = [NORMALISED, QUOTES, CONTROL, WHITESPACE, EMAILS, URLS, PHONES, EMPTY, REPEATED, MERGED, CUT, SHORT, DUPLICATES]
    return [step for step in order if enabled.get(step, True)]


def _mask(pattern: re.Pattern[str], mask: str, text: str, min_digits: int = 0) -> tuple[str, int]:
    """Replace matches with `mask`, keeping punctuation that ended a sentence after a URL; count replacements."""
    n = 0

    def substitute(match: re.Match[str]) -> str:
        nonlocal n
        found = match.group()
        if min_digits and sum(c.isdigit() for c in found) < min_digits:
            return found
        n += 1
        core = found.rstrip(_TRAILING_PUNCT) if mask == URL_MASK else found
        return mask + found[len(core):]

    return pattern.sub(substitute, text), n


def email_addresses(text: str) -> list[str]:
    """The e-mail addresses written out in `text`: what the masking step replaces with ``<email>``."""
    return _EMAIL.findall(text)


def clean_text(text: str, config: CleaningConfig, report: CleaningReport) -> str:
    """One utterance through the text steps, counting the turns each step changed."""
    steps = []
    if config.unicode_form:
        steps.append((NORMALISED, lambda t: unicodedata.normalize(config.unicode_form, t)))
    if config.plain_quotes:
        steps.append((QUOTES, lambda t: t.translate(_QUOTES)))
    steps += [
        (CONTROL, _strip_control),
        (WHITESPACE, lambda t: " ".join(t.split())),
    ]
    for step, transform in steps:
        new = transform(text)
        if new != text:
            report.count(step)
        text = new
    masks = [
        (config.mask_emails, _EMAIL, EMAIL_MASK, EMAILS, 0),
        (config.mask_urls, _URL, URL_MASK, URLS, 0),
        (config.mask_phones, _PHONE, PHONE_MASK, PHONES, 7),
    ]
    for enabled, pattern, mask, step, min_digits in masks:
        if enabled:
            text, n = _mask(pattern, mask, text, min_digits)
            if n:
                report.count(step, n)
    return text


def is_invisible(char: str) -> bool:
    """Whether `char` is a control character, an invisible format character (zero-width spaces, bidi overrides,
    marks and isolates, the byte-order mark) or a lone surrogate (half of a UTF-16 pair: no character, and it cannot
    be encoded). The zero-width joiner is not: emoji sequences need it."""
    return unicodedata.category(char) in ("Cc", "Cf", "Cs") and char not in _KEEP_FORMAT_CHARS


def _strip_control(text: str) -> str:
    """Drop invisible characters (`is_invisible`), keeping whitespace for the whitespace step."""
    return "".join(char for char in text if char.isspace() or not is_invisible(char))


def _clean_turns(turns: tuple[Turn, ...], config: CleaningConfig, report: CleaningReport) -> list[Turn]:
    cleaned: list[Turn] = []
    for turn in turns:
        text = clean_text(turn.text, config, report)
        if not text:
            report.count(EMPTY)
        elif cleaned and cleaned[-1] == Turn(turn.speaker, text):
            report.count(REPEATED)
        elif config.merge_same_speaker and cleaned and cleaned[-1].speaker == turn.speaker:
            report.count(MERGED)
            cleaned[-1] = Turn(turn.speaker, cleaned[-1].text + config.merge_separator + text)
        else:
            cleaned.append(Turn(turn.speaker, text))
    if config.max_turn_words is not None:
        for i, turn in enumerate(cleaned):
            words = turn.text.split(" ")
            if len(words) > config.max_turn_words:
                report.count(CUT)
                cleaned[i] = Turn(turn.speaker, " ".join(words[: config.max_turn_words]))
    return cleaned


def clean_dialogues(
    dialogues: list[Dialogue], config: CleaningConfig | None = None
) -> tuple[list[Dialogue], CleaningReport]:
    """Clean every dialogue; drop those left too short and exact duplicates of an earlier one."""
    config = config or CleaningConfig()
    report = CleaningReport(
        dialogues_in=len(dialogues),
        turns_in=sum(len(d.turns) for d in dialogues),
        steps=dict.fromkeys(_step_names(config), 0),
    )
    kept: list[Dialogue] = []
    seen: set[tuple[Turn, ...]] = set()
    for dialogue in dialogues:
        turns = tuple(_clean_turns(dialogue.turns, config, report))
        if len(turns) < config.min_turns:
            report.count(SHORT)
        elif turns in seen:
            report.count(DUPLICATES)
        else:
            seen.add(turns)
            kept.append(replace(dialogue, turns=turns))
    report.dialogues_out = len(kept)
    report.turns_out = sum(len(d.turns) for d in kept)
    return kept, report
