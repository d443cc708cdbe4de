"""The augmenters' common interface, and provenance: every augmented item records what made it."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

from heygen_lib.data.dialogue import Dialogue, Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.paths import artifacts_dir

Target = Literal["context", "response", "both"]


class TextAugmenter(ABC):
    """Rewrites utterances, a batch at a time. Subclasses set `name` and `config` (a dataclass) and implement
    `augment`. A rewrite is `None` where the augmenter cannot apply (say why in the subclass docstring)."""

    name: str
    config: Any

    def params(self) -> dict[str, Any]:
        """The settings that made an output, stored in its provenance."""
        return asdict(self.config) if is_dataclass(self.config) else {}

    @abstractmethod
    def augment(self, texts: Sequence[str], rng: random.Random) -> list[str | None]:
        """One rewrite per input text, in order."""


class DialogueAugmenter(ABC):
    """Makes new dialogues from existing ones (role swaps, splices across dialogues, corpus mixes)."""

    name: str
    config: Any

    def params(self) -> dict[str, Any]:
        return asdict(self.config) if is_dataclass(self.config) else {}

    @abstractmethod
    def augment_dialogues(self, dialogues: Sequence[Dialogue], seed: int = 0) -> tuple[list[Dialogue], AugmentReport]:
        """New dialogues, each with ``meta["provenance"]`` set (see `provenance`), and a report of what was skipped."""


def provenance(augmenter: TextAugmenter | DialogueAugmenter, seed: int, origin: str, **extra: Any) -> dict[str, Any]:
    """What made an augmented item: augmenter name and parameters, seed, and the id(s) it came from."""
    return {"augmenter": augmenter.name, "params": augmenter.params(), "seed": seed, "from": origin, **extra}


@dataclass
class AugmentReport:
    """How many items an augmentation run made and how many inputs it could not rewrite."""

    augmenter: str
    inputs: int = 0
    made: int = 0
    skipped: int = 0  # rewrites that came back None (the augmenter could not apply)
    unchanged: int = 0  # rewrites identical to their input: dropped, they add nothing
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.augmenter}: {self.inputs} inputs -> {self.made} new; {self.skipped} could not be rewritten, "
                f"{self.unchanged} came back unchanged")


def augmented_pairs_path(target: Target = "context") -> Path:
    """Where notebook 02 writes its rule-selected augmented training pairs for `target`, and notebook 05 reads them:
    the context pool (the default: the model's input perturbed, its responses clean) or the response pool."""
    if target not in ("context", "response", "both"):
        raise ValueError(f"target must be 'context', 'response' or 'both', got {target!r}")
    return artifacts_dir() / "augmented" / f"support_train_augmented_{target}.jsonl"


def augment_pairs(
    pairs: Sequence[Pair],
    augmenter: TextAugmenter,
    target: Target = "context",
    copies: int = 1,
    seed: int = 0,
) -> tuple[list[Pair], AugmentReport]:
    """New pairs whose context (the default), response or both are rewritten; the pair structure and speakers are kept.

    The context by default: a fine-tuned model learns to write its training responses, so rewriting those teaches it
    the augmenter's slips; a rewritten context only teaches it to read varied input.

    Each new pair's ``meta["provenance"]`` names the augmenter, its parameters, the seed, the target and the pair it
    came from. A pair whose target could not be rewritten, or came back identical, yields nothing (and is counted).
    """
    if target not in ("context", "response", "both"):
        raise ValueError(f"target must be 'context', 'response' or 'both', got {target!r}")
    rng = random.Random(seed)
    report = AugmentReport(augmenter.name, inputs=len(pairs) * copies)
    made: list[Pair] = []
    for copy in range(copies):
        # One batch per copy: the targeted turns of every pair, in order.
        targets = [targeted_turns(pair, target) for pair in pairs]
        rewrites = augmenter.augment([t.text for turns in targets for t in turns], rng)
        position = 0
        for pair, turns in zip(pairs, targets):
            new_texts = rewrites[position : position + len(turns)]
            position += len(turns)
            if any(text is None for text in new_texts):
                report.skipped += 1
                continue
            new = iter(new_texts)
            context, response = pair.context, pair.response
            if target in ("context", "both"):
                context = tuple(Turn(t.speaker, next(new)) for t in pair.context)
            if target in ("response", "both"):
                response = Turn(response.speaker, next(new))
            if context == pair.context and response == pair.response:
                report.unchanged += 1
                continue
            meta = {"provenance": provenance(augmenter, seed, origin_key(pair), target=target, copy=copy)}
            made.append(replace(pair, context=context, response=response, meta=meta))
    report.made = len(made)
    return made, report


def targeted_turns(pair: Pair, target: Target) -> list[Turn]:
    """The turns of a pair that `target` names: its context turns, its response, or both, in order."""
    turns = list(pair.context) if target in ("context", "both") else []
    return turns + [pair.response] if target in ("response", "both") else turns


def origin_key(pair: Pair) -> str:
    """The key an augmented pair's provenance uses to name the pair it came from: "source:dialogue_id:turn_index"."""
    return f"{pair.source}:{pair.dialogue_id}:{pair.turn_index}"


def originals_of(new_pairs: Sequence[Pair], originals: Sequence[Pair]) -> list[Pair | None]:
    """For each augmented pair, the original it was made from (None where its provenance names none of them)."""
    by_key = {origin_key(p): p for p in originals}
    return [by_key.get(p.meta.get("provenance", {}).get("from", "")) for p in new_pairs]
