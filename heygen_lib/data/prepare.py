"""The kit's standard preparation, in one call: load, clean, split by conversation, build pairs."""

from __future__ import annotations

from dataclasses import dataclass

from heygen_lib.data.cleaning import CleaningConfig, CleaningReport, clean_dialogues
from heygen_lib.data.loaders import load_corpus
from heygen_lib.data.pairs import Pair, Splits, build_pairs, split_dialogues


@dataclass(frozen=True)
class PreparedPairs:
    """Train/dev/test pairs with the splits and the cleaning report they came from."""

    train: list[Pair]
    dev: list[Pair]
    test: list[Pair]
    splits: Splits
    cleaning: CleaningReport


def prepare_pairs(
    corpus: str = "support",
    context_turns: int = 3,
    response_speaker: str | None = "agent",
    seed: int = 0,
    limit: int | None = None,
    cleaning: CleaningConfig | None = None,
) -> PreparedPairs:
    """Notebook 01's pipeline for one corpus. The defaults give the support bot's data: agent responses with up to
    three turns of context, split 80/10/10 by conversation."""
    dialogues, report = clean_dialogues(load_corpus(corpus, limit=limit), cleaning)
    splits = split_dialogues(dialogues, seed=seed)
    train, dev, test = (build_pairs(part, context_turns, response_speaker) for part in (splits.train, splits.dev, splits.test))
    return PreparedPairs(train, dev, test, splits, report)
