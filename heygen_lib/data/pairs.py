"""(context, response) pairs and train/dev/test splits that never leak a conversation across splits."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from heygen_lib.data.dialogue import Dialogue, Turn


@dataclass(frozen=True)
class Pair:
    """A response and the turns before it, with where it came from."""

    context: tuple[Turn, ...]
    response: Turn
    dialogue_id: str
    source: str
    turn_index: int  # position of the response in its dialogue
    meta: dict[str, Any] = field(default_factory=dict, compare=False)  # e.g. provenance of an augmented pair


def build_pairs(
    dialogues: Sequence[Dialogue], context_turns: int = 3, response_speaker: str | None = None
) -> list[Pair]:
    """One pair per turn after the first: that turn as response, up to `context_turns` turns before it as context.

    `response_speaker` keeps only responses by that speaker (e.g. ``"agent"`` to train a support bot).
    """
    if context_turns < 1:
        raise ValueError(f"context_turns must be at least 1, got {context_turns}")
    pairs = []
    for dialogue in dialogues:
        for i in range(1, len(dialogue.turns)):
            response = dialogue.turns[i]
            if response_speaker is None or response.speaker == response_speaker:
                context = dialogue.turns[max(0, i - context_turns) : i]
                pairs.append(Pair(context, response, dialogue.id, dialogue.source, i))
    return pairs


@dataclass(frozen=True)
class Splits:
    """Train, dev and test dialogues."""

    train: list[Dialogue]
    dev: list[Dialogue]
    test: list[Dialogue]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}


def _content_key(dialogue: Dialogue) -> str:
    """A fingerprint of what is said, so that copies of one conversation under other ids stay together."""
    text = "\x1e".join(f"{t.speaker}\x1f{t.text}" for t in dialogue.turns)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def split_dialogues(
    dialogues: Sequence[Dialogue], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Splits:
    """Split by conversation, deterministically for a seed: pairs of one dialogue never land in two splits.

    Identical conversations (same turns, other ids) are kept in one split too, so a copy cannot leak a test
    dialogue into training. Sizes follow `fractions` in whole conversations.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    groups: dict[str, list[Dialogue]] = {}
    for dialogue in dialogues:
        groups.setdefault(_content_key(dialogue), []).append(dialogue)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_train = round(fractions[0] * len(keys))
    n_dev = round(fractions[1] * len(keys))
    parts = keys[:n_train], keys[n_train : n_train + n_dev], keys[n_train + n_dev :]
    train, dev, test = ([d for key in part for d in groups[key]] for part in parts)
    return Splits(train, dev, test)


def conversations_in_two_splits(splits: Splits) -> int:
    """How many dialogues share a conversation (same id, or same turns under another id) with an earlier split:
    0 for a leak-free split."""
    owner: dict[tuple[str, ...], str] = {}
    leaks = 0
    for name, part in (("train", splits.train), ("dev", splits.dev), ("test", splits.test)):
        for dialogue in part:
            keys = (("id", dialogue.source, dialogue.id), ("content", _content_key(dialogue)))
            leaks += any(owner.get(key, name) != name for key in keys)
            for key in keys:
                owner.setdefault(key, name)
    return leaks


def random_pair_split(
    pairs: Sequence[Pair], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """The split *not* to make: the pairs themselves shuffled and cut into train, dev and test, so turns of one
    conversation land in several splits (what `split_dialogues` prevents). For measuring what that costs."""
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_train, n_dev = round(fractions[0] * len(shuffled)), round(fractions[1] * len(shuffled))
    return shuffled[:n_train], shuffled[n_train : n_train + n_dev], shuffled[n_train + n_dev :]


def shared_conversations(train: Sequence[Pair], test: Sequence[Pair]) -> tuple[int, int]:
    """(test conversations that also have pairs in train, test conversations), by source and dialogue id."""
    seen = {(p.source, p.dialogue_id) for p in train}
    tested = {(p.source, p.dialogue_id) for p in test}
    return len(tested & seen), len(tested)


def format_pair(pair: Pair) -> str:
    """A pair as context lines, then the response marked with '->', for printing."""
    lines = [f"  {t.speaker}: {t.text}" for t in pair.context]
    return "\n".join([f"[{pair.source}:{pair.dialogue_id} turn {pair.turn_index}]", *lines, f"->{pair.response.speaker}: {pair.response.text}"])
