"""Sentences about a corpus computed from its numbers, so what notebook 01 says always matches what it shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from heygen_lib.data.cleaning import CleaningReport

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
