"""Sentences about a corpus computed from its numbers, so what notebook 01 says always matches what it shows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from heygen_lib.data.cleaning import CleaningReport, email_addresses
from heygen_lib.data.dialogue import Dialogue
from heygen_lib.data.pairs import Pair, shared_conversations
from heygen_lib.lessons import Lesson

# English closed-class words: pronouns, determiners, prepositions, conjunctions, auxiliaries and modals, and their
# contractions. An n-gram made only of these says how a corpus talks, not what it talks about.
FUNCTION_WORDS = frozenset("""
i me my mine you your yours he him his she her hers it its we us our ours they them their theirs myself yourself
this that these those what which who whom whose there here
a an the some any no every each all both another
in on at to for of with from by about as into onto over under after before between through during up out off
and but or nor if so because than then while though
am is are was were be been being do does did done have has had having
can could will would shall should may might must not
i'm you're he's she's it's we're they're that's what's there's here's i've you've we've they've i'll you'll it'll we'll
i'd you'd don't doesn't didn't isn't aren't wasn't weren't can't couldn't won't wouldn't shouldn't haven't hasn't
""".split())


def is_function_phrase(ngram: str) -> bool:
    """Whether every word of the n-gram is a function word ("in the", "do you"), i.e. it carries no topic."""
    return all(word in FUNCTION_WORDS for word in ngram.split())


def ngram_reading(top: Mapping[str, Sequence[tuple[str, int]]], n: int) -> str:
    """One Markdown bullet per corpus: how many of its top n-grams are function words only, and which carry content."""
    lines = []
    for source, grams in top.items():
        content = [(rank, gram) for rank, (gram, _) in enumerate(grams, start=1) if not is_function_phrase(gram)]
        shown = ", ".join(f'"{gram}" ({rank})' for rank, gram in content[:4])
        lines.append(f"- **{source}**: {len(grams) - len(content)} of its top {len(grams)} {n}-grams are function "
                     f"words only; " + (f"the ones with content, by rank: {shown}" if content else "none carries content"))
    return "\n".join(lines)


DIALOGUE_STEPS = {"short dialogues removed": "too short", "duplicate dialogues removed": "duplicates"}


def _share(part: int, whole: int) -> str:
    return f"{part:,} of {whole:,} ({part / whole:.0%})" if whole else f"{part:,} of 0"


def _how_many(part: int, whole: int) -> str:
    """A word for a fraction that never says more than the numbers: all, most (> half), or some."""
    return "all" if part == whole else "most" if part > whole / 2 else "some"


def cleaning_reading(reports: Mapping[str, CleaningReport]) -> str:
    """One Markdown bullet per corpus: how many dialogues cleaning removed and why, and the step that changed the
    most turns."""
    lines = []
    for source, report in reports.items():
        removed = report.dialogues_in - report.dialogues_out
        text = f"- **{source}**: {_share(removed, report.dialogues_in)} dialogues removed"
        causes = [(report.steps.get(step, 0), why) for step, why in DIALOGUE_STEPS.items() if report.steps.get(step, 0)]
        if causes:
            count, why = max(causes)
            text += f", {_how_many(count, removed)} of them as {why} ({count:,})"
        turn_steps = {s: c for s, c in report.steps.items() if s not in DIALOGUE_STEPS and c}
        if turn_steps:
            step, count = max(turn_steps.items(), key=lambda item: item[1])
            text += f"; the step that touched most turns: {step}, {_share(count, report.turns_in)} turns"
        lines.append(text + ".")
    return "\n".join(lines)


def one_sided(dialogues: Sequence[Dialogue]) -> int:
    """Conversations in which only one speaker ever writes: there is no response to learn from."""
    return sum(len(d.speakers) < 2 for d in dialogues)


def addresses(dialogues: Sequence[Dialogue]) -> int:
    """E-mail addresses written out in the turns (what cleaning masks as ``<email>``)."""
    return sum(len(email_addresses(turn.text)) for d in dialogues for turn in d.turns)


def gone_share(before: int, after: int) -> float:
    """The share of `before` that is gone `after`; NaN where there was nothing to remove (a check on it cannot
    pass by having nothing to look at)."""
    return (before - after) / before if before else math.nan


def leak_reading(random_split: tuple[int, int], by_conversation: tuple[int, int]) -> str:
    """Test conversations that also have pairs in train, for a random pair split and the split by conversation."""
    (leaked, tested), (kept, total) = random_split, by_conversation
    return (f"pairs split at random: {_share(leaked, tested)} test conversations also have pairs in train; "
            f"split by conversation: {_share(kept, total)}")


def data_lessons(
    raw: Mapping[str, Sequence[Dialogue]], cleaned: Mapping[str, Sequence[Dialogue]],
    random_split: tuple[list[Pair], list[Pair], list[Pair]], split_pairs: Mapping[str, Sequence[Pair]],
    explorer_gap: int,
) -> list[Lesson]:
    """Notebook 01's lesson checks, each against a bound a lost lesson would cross: cleaning removes every
    one-sided conversation and every written-out address it found; a random pair split leaks most test
    conversations into train and the split by conversation none; the explorer builds section 4's pairs."""
    before_sided = sum(one_sided(ds) for ds in raw.values())
    before_mail = sum(addresses(ds) for ds in raw.values())
    leaked, tested = shared_conversations(random_split[0], random_split[2])
    kept, _ = shared_conversations(split_pairs["train"], split_pairs["test"])
    return [
        Lesson("one-sided conversations removed by cleaning (share of those found)",
               gone_share(before_sided, sum(one_sided(ds) for ds in cleaned.values())), "==", 1,
               "a conversation with one speaker has no response to learn from"),
        Lesson("e-mail addresses masked by cleaning (share of those found)",
               gone_share(before_mail, sum(addresses(ds) for ds in cleaned.values())), "==", 1,
               "a model should not learn to repeat a customer's address"),
        Lesson("support: test conversations with pairs in train, pairs split at random (share)",
               leaked / tested if tested else math.nan, ">=", 0.5, "the leak a random split makes is large"),
        Lesson("support: test conversations with pairs in train, split by conversation", kept, "==", 0,
               "splitting by conversation leaks none"),
        Lesson("explorer's support pairs minus section 4's, summed over splits", explorer_gap, "==", 0,
               "the panel builds the same pairs as the library call"),
    ]
