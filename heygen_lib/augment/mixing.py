"""Mixing: new dialogues spliced from two of one topic, and corpora mixed in set proportions.

Splicing makes new conversations from the opening of one dialogue and the rest of another about the same thing; a
corpus mix decides how much of each corpus a model sees (say 70% support chats, 30% chit-chat). Mixing hidden
representations (mixup) belongs with the models, not here.

Augment the training split only: a splice of a training and a test dialogue would leak the test set into training.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from heygen_lib.augment.base import AugmentReport, DialogueAugmenter, provenance
from heygen_lib.data.dialogue import Dialogue, Turn


@dataclass(frozen=True)
class SpliceConfig:
    """Which dialogues may be spliced together, where, and how many splices to make."""

    # The meta field that groups dialogues; only dialogues of one group are spliced. A list's first entry is used:
    # "intents" groups the support set by primary intent, "categories" groups ChatterBot by topic.
    group_by: str = "intents"
    # Cut only after this speaker's turn: "customer" continues a customer's opening with another dialogue's agent
    # reply. None cuts after either speaker; the turn after the cut is always by the other one.
    cut_after: str | None = None
    per_dialogue: int = 1  # splices that open with each dialogue, each continued by a different partner


class SpliceDialogues(DialogueAugmenter):
    """Opens with the first turns of one dialogue and continues with the rest of another of the same group.

    Cuts fall where the speaker changes in both parents, after the same speaker, so the splice changes speaker at
    the seam as its parents did there (strict alternation stays strict). The cut in the opening dialogue is drawn at
    random; the continuation starts at the matching cut nearest the same turn number, so a splice stays about as
    long as its parents and an opening is followed by what came after an opening. Splices identical to a parent are
    not made. Each splice records both parents and cuts in ``meta["provenance"]``; its id reads like Python slices,
    ``"ord-001[:1]+ord-017[1:]"``; its meta holds only the group (under ``group_by``) and the provenance, because
    other facts, such as how the conversation ended, may belong to either parent.

    Pass `key` (a function from a dialogue to a group, or None for no group) to group in another way; it replaces
    ``group_by``. The report counts the dialogues that could open no splice, and why.
    """

    name = "splice"

    def __init__(self, config: SpliceConfig = SpliceConfig(), key: Callable[[Dialogue], Hashable | None] | None = None):
        if config.per_dialogue < 1:
            raise ValueError(f"per_dialogue must be at least 1, got {config.per_dialogue}")
        self.config, self.key = config, key

    def params(self) -> dict[str, Any]:
        params = super().params()
        if self.key is not None:
            params["key"] = getattr(self.key, "__qualname__", repr(self.key))
        return params

    def group_of(self, dialogue: Dialogue) -> Hashable | None:
        """The group a dialogue is spliced within, or None if it has none."""
        if self.key is not None:
            return self.key(dialogue)
        value = dialogue.meta.get(self.config.group_by)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        return value if isinstance(value, Hashable) else None

    def augment_dialogues(self, dialogues: Sequence[Dialogue], seed: int = 0) -> tuple[list[Dialogue], AugmentReport]:
        """Up to `per_dialogue` splices opening with each dialogue, deterministic for a seed."""
        rng = random.Random(seed)
        group_of = [self.group_of(dialogue) for dialogue in dialogues]
        groups: dict[Hashable, list[Dialogue]] = {}
        for dialogue, group in zip(dialogues, group_of):
            if group is not None:
                groups.setdefault(group, []).append(dialogue)
        made: list[Dialogue] = []
        ungrouped = alone = no_cut = 0
        for head, group in zip(dialogues, group_of):
            if group is None:
                ungrouped += 1
                continue
            partners = [d for d in groups[group] if d is not head]
            if not partners:
                alone += 1
                continue
            rng.shuffle(partners)
            splices = []
            for tail in partners:
                splice = self._splice(head, tail, group, rng, seed)
                if splice is not None:
                    splices.append(splice)
                    if len(splices) == self.config.per_dialogue:
                        break
            no_cut += not splices
            made += splices
        skipped = ungrouped + alone + no_cut
        notes = [
            f"{n} dialogue(s) {why}"
            for n, why in (
                (ungrouped, "without a group" + ("" if self.key else f" (no meta[{self.config.group_by!r}])")),
                (alone, "alone in their group"),
                (no_cut, "with no matching cut in any partner"),
            )
            if n
        ]
        return made, AugmentReport(self.name, inputs=len(dialogues), made=len(made), skipped=skipped, notes=notes)

    def _splice(
        self, head: Dialogue, tail: Dialogue, group: Hashable, rng: random.Random, seed: int
    ) -> Dialogue | None:
        """A splice of `head`'s opening and `tail`'s rest, or None if no cut gives a new dialogue."""
        tail_cuts = _cuts(tail.turns, self.config.cut_after)
        choices = []
        for cut in _cuts(head.turns, self.config.cut_after):
            speaker = head.turns[cut - 1].speaker
            matching = [c for c in tail_cuts if tail.turns[c - 1].speaker == speaker]
            if not matching:
                continue
            nearest = min(abs(c - cut) for c in matching)
            resume = rng.choice([c for c in matching if abs(c - cut) == nearest])
            turns = head.turns[:cut] + tail.turns[resume:]
            if turns not in (head.turns, tail.turns):
                choices.append((cut, resume, turns))
        if not choices:
            return None
        cut, resume, turns = rng.choice(choices)
        record = provenance(
            self, seed, f"{head.source}:{head.id}", head_turns=cut, tail=f"{tail.source}:{tail.id}", tail_from=resume,
            group=group,
        )
        meta: dict[str, Any] = {"provenance": record}
        if self.key is None:
            listed = isinstance(head.meta[self.config.group_by], (list, tuple))
            meta[self.config.group_by] = [group] if listed else group
        source = head.source if head.source == tail.source else f"{head.source}+{tail.source}"
        return Dialogue(f"{head.id}[:{cut}]+{tail.id}[{resume}:]", turns, source, meta)


def _cuts(turns: Sequence[Turn], after: str | None) -> list[int]:
    """Positions i where the speaker changes between turns[i - 1] and turns[i] (by `after`, if given)."""
    return [
        i
        for i in range(1, len(turns))
        if turns[i - 1].speaker != turns[i].speaker and (after is None or turns[i - 1].speaker == after)
    ]


def mix_corpora(
    corpora: Mapping[str, Sequence[Dialogue]],
    proportions: Mapping[str, float],
    total: int | None = None,
    seed: int = 0,
    replace: bool = False,
) -> tuple[list[Dialogue], dict[str, int]]:
    """Draw `total` dialogues from named corpora in the given proportions, shuffled together; and the count from each.

    Proportions (one per corpus, summing to 1) become whole counts that sum to `total` exactly (largest remainders
    get the leftover dialogues; ties go to the corpus named first). ``total=None`` takes as many as the scarcest
    corpus allows. Dialogues are drawn without replacement; a corpus too small for its share raises ValueError,
    unless ``replace=True``, which repeats its dialogues as evenly as possible (each one k or k + 1 times; copies are
    the same objects, so a conversation-level split keeps them together). Deterministic for a seed.
    """
    _check_proportions(corpora, proportions)
    sizes = {name: len(corpora[name]) for name in proportions}
    empty = [name for name, p in proportions.items() if p > 0 and sizes[name] == 0]
    if empty:
        raise ValueError(f"corpus {empty[0]!r} is empty but has a proportion of {proportions[empty[0]]}")
    most = _most_without_replacement(proportions, sizes)
    if total is None:
        if replace:
            raise ValueError("replace=True needs a total: with replacement any number of dialogues can be drawn")
        total = most
    if total < 0:
        raise ValueError(f"total must be non-negative, got {total}")
    counts = _allocate(total, proportions)
    rng = random.Random(seed)
    mix: list[Dialogue] = []
    for name, count in counts.items():
        dialogues, size = list(corpora[name]), sizes[name]
        if count > size and not replace:
            raise ValueError(
                f"corpus {name!r} has {size} dialogues, fewer than its share of {count} (proportion "
                f"{proportions[name]} of {total}); ask for at most {most} (total=None), or pass replace=True to "
                "repeat dialogues"
            )
        mix += dialogues * (count // size) if size else []
        mix += rng.sample(dialogues, count % size if size else 0)
    rng.shuffle(mix)
    return mix, counts


def _check_proportions(corpora: Mapping[str, Sequence[Dialogue]], proportions: Mapping[str, float]) -> None:
    missing, unknown = set(corpora) - set(proportions), set(proportions) - set(corpora)
    if missing or unknown:
        raise ValueError(
            f"proportions must name each corpus once: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    values = list(proportions.values())
    if any(not math.isfinite(p) or p < 0 for p in values) or abs(sum(values) - 1) > 1e-6:
        raise ValueError(f"proportions must be non-negative numbers summing to 1, got {dict(proportions)}")


def _allocate(total: int, proportions: Mapping[str, float]) -> dict[str, int]:
    """Whole counts summing to `total`, as close to the proportions as whole numbers get (largest remainders)."""
    quotas = {name: round(p * total, 9) for name, p in proportions.items()}  # round off float noise: 0.29 * 100
    counts = {name: math.floor(q) for name, q in quotas.items()}
    shares = [name for name in quotas if proportions[name] > 0]
    by_remainder = sorted(shares, key=lambda name: quotas[name] - counts[name], reverse=True)  # ties: by order
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def _most_without_replacement(proportions: Mapping[str, float], sizes: Mapping[str, int]) -> int:
    """The largest total whose counts every corpus can supply without repeating a dialogue."""
    total = min(math.floor(sizes[name] / p) for name, p in proportions.items() if p > 0)
    while any(count > sizes[name] for name, count in _allocate(total, proportions).items()):
        total -= 1  # a rounded-up share can overshoot a corpus by one
    return total
