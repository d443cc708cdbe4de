"""What the pair discriminator learns to reject, beside the real pairs it learns to accept.

- **generated**: the generator's own responses to real contexts (the GAN's negatives; they change as it trains);
- **mismatched**: a real response from a *different dialogue*, paired with this context: fluent, on-topic for the
  shop, but not an answer to this customer. Without them a discriminator can ignore the context altogether;
- **reversed**: the true response with its words reversed within each sentence (or its sentences reversed, where it
  has two or more), by notebook 02's reversal augmenters: the right words in the wrong order, which a bag-of-words
  judge cannot tell from the original.

`NegativeMix` sets the share of each kind in a discriminator batch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from heygen_lib.augment.reversal import SentenceReversal, WordReversal, WordReversalConfig
from heygen_lib.dialogue_gan.data import encode_responses, fit_response
from heygen_lib.gan.text_data import Vocabulary

KINDS = ("generated", "mismatched", "reversed")


@dataclass(frozen=True)
class NegativeMix:
    """Shares of the negative kinds among a discriminator batch's negatives (normalised; a zero leaves a kind out)."""

    generated: float = 0.5  # the generator's responses: what adversarial training is about
    mismatched: float = 0.25  # real responses from other dialogues: forces the discriminator to read the context
    reversed: float = 0.25  # word- or sentence-reversed true responses: forces it to read word order

    def __post_init__(self) -> None:
        shares = [getattr(self, kind) for kind in KINDS]
        if min(shares) < 0 or sum(shares) <= 0:
            raise ValueError(f"negative shares must be >= 0 with a positive sum, got {dict(zip(KINDS, shares))}")

    def counts(self, n: int) -> dict[str, int]:
        """How many of `n` negatives each kind gets (largest remainders, so they sum to n)."""
        shares = {kind: getattr(self, kind) for kind in KINDS}
        total = sum(shares.values())
        exact = {kind: n * share / total for kind, share in shares.items()}
        counts = {kind: int(value) for kind, value in exact.items()}
        for kind in sorted(KINDS, key=lambda k: counts[k] - exact[k])[: n - sum(counts.values())]:
            counts[kind] += 1
        return counts


def mismatched_indices(dialogue_ids: Sequence[str], rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each of `rows` (indices into `dialogue_ids`), a random index whose pair comes from another dialogue."""
    n = len(dialogue_ids)
    if len(set(dialogue_ids)) < 2:
        raise ValueError("mismatched negatives need pairs from at least two dialogues")
    picks = torch.randint(n, (len(rows),), generator=generator)
    for k, row in enumerate(rows.tolist()):  # redraw the few that hit their own dialogue
        while dialogue_ids[int(picks[k])] == dialogue_ids[row]:
            picks[k] = torch.randint(n, (1,), generator=generator)
    return picks


@dataclass(frozen=True)
class ReversedResponses:
    """Reversed responses, row for row with the pairs they came from."""

    responses: torch.Tensor  # [N, T] ids, like EncodedPairs.responses
    available: torch.Tensor  # [N] bool: False where reversal changed nothing (one word, "no no")
    texts: list[str | None]  # the reversed text (None where unavailable)
    counts: dict[str, int]  # how many rows got each kind of reversal, and how many none


def reversed_responses(texts: Sequence[str], vocab: Vocabulary, response_len: int,
                       kind: str = "word") -> ReversedResponses:
    """Reverse each response *as the model sees it* (cut to `response_len` first, see `data.fit_response`).

    ``kind="word"``: words reversed within each sentence, punctuation in place ("Hi! Which machine is it?" ->
    "Hi! it is machine Which?"). ``kind="sentence"``: sentence order reversed where there are two or more
    sentences, else words as for "word". A row whose reversal encodes to the same ids as the original is marked
    unavailable, never used as a negative.
    """
    if kind not in ("word", "sentence"):
        raise ValueError(f"kind must be 'word' or 'sentence', got {kind!r}")
    fitted = [fit_response(text, response_len - 1)[0] for text in texts]
    rng = random.Random(0)  # the reversals are deterministic; the augmenters' interface wants a generator
    by_words = WordReversal(WordReversalConfig(per_sentence=True)).augment(fitted, rng)
    by_sentences = SentenceReversal().augment(fitted, rng) if kind == "sentence" else [None] * len(fitted)
    out = [sentences if sentences is not None else words for sentences, words in zip(by_sentences, by_words)]
    rules = ["sentence" if sentences is not None else "word" for sentences in by_sentences]
    originals, _ = encode_responses(vocab, fitted, response_len)
    reversed_ids, _ = encode_responses(vocab, [t if t is not None else "" for t in out], response_len)
    available = torch.tensor([t is not None for t in out]) & (reversed_ids != originals).any(dim=1)
    counts = {"sentence": 0, "word": 0, "none": 0}
    for rule, ok in zip(rules, available.tolist()):
        counts[rule if ok else "none"] += 1
    texts_out = [t if ok else None for t, ok in zip(out, available.tolist())]
    return ReversedResponses(reversed_ids, available, texts_out, counts)
