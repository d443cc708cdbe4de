"""(context, response) pairs as id tensors for the dialogue GAN, and generated words back to readable text.

A context becomes one word sequence: each turn is its speaker marker (``<customer>``, ``<agent>``) followed by its
words, and only the most recent `context_len` words are kept (the oldest are cut first). A marker is a token of its
own, so the speaker "agent" never looks like the word "agent" in "an agent will call you".

A response becomes its words and ``<eos>``. Support answers run long (median 36 words), so one that does not fit
in ``response_len - 1`` words is cut at a sentence boundary where its first sentence fits, and mid-sentence only
where it does not: the generator then learns to end where real sentences end, not wherever the cut fell. How
many responses each rule touched is reported (`EncodedPairs.fitting`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from heygen_lib.augment.reversal import sentence_spans
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.gan.text_data import UNK, Vocabulary
from heygen_lib.text import word_tokens

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3  # fixed by `Vocabulary`


def speaker_marker(speaker: str) -> str:
    """The token that opens a context turn of `speaker`."""
    return f"<{speaker.strip().lower()}>"


def context_words(context: Sequence[Turn], context_len: int) -> list[str]:
    """The context as marker-prefixed words, cut to the most recent `context_len`."""
    words = [w for turn in context for w in (speaker_marker(turn.speaker), *word_tokens(turn.text))]
    return words[-context_len:]


def fit_response(text: str, max_words: int) -> tuple[str, str]:
    """The response cut to at most `max_words` word tokens, in its own spelling, and how: "whole", "sentences" (cut
    after the last whole sentence that fits) or "cut" (the first sentence alone is too long: cut mid-sentence)."""
    if len(word_tokens(text)) <= max_words:
        return text, "whole"
    end = words = 0
    for start, stop in sentence_spans(text):
        words += len(word_tokens(text[start:stop]))
        if words > max_words:
            break
        end = stop
    if end:
        return text[:end], "sentences"
    for token in word_tokens(text, lowercase=False)[:max_words]:
        end = text.index(token, end) + len(token)
    return text[:end], "cut"


def build_vocabulary(pairs: Sequence[Pair], max_size: int) -> Vocabulary:
    """A `Vocabulary` of the pairs' context and response words, with one marker per context speaker placed right
    after the four specials (so ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3 keep their ids)."""
    markers = sorted({speaker_marker(t.speaker) for p in pairs for t in p.context})
    texts = [t.text for p in pairs for t in p.context] + [p.response.text for p in pairs]
    words = Vocabulary.build(texts, max_size=max_size - len(markers)).tokens
    return Vocabulary((*words[:4], *markers, *words[4:]))


def token_index(vocab: Vocabulary) -> dict[str, int]:
    """Word -> id; look words up with ``index.get(word, UNK_ID)``."""
    return {tok: i for i, tok in enumerate(vocab.tokens)}


def encode_responses(vocab: Vocabulary, texts: Sequence[str], response_len: int) -> tuple[torch.Tensor, Counter]:
    """LongTensor [N, response_len] of fitted responses + ``<eos>`` + padding, and how many each fitting rule took."""
    fitted = [fit_response(text, response_len - 1) for text in texts]
    return vocab.encode([text for text, _ in fitted], response_len), Counter(how for _, how in fitted)


@dataclass(frozen=True)
class EncodedPairs:
    """Pairs and their tensors, row for row."""

    pairs: list[Pair]
    contexts: torch.Tensor  # [N, context_len] ids, left-aligned, padded with <pad>
    context_lengths: torch.Tensor  # [N] words of context (at least 1: every turn has its marker)
    responses: torch.Tensor  # [N, response_len] ids ending in <eos>, padded
    fitting: dict[str, int]  # responses kept whole / cut at a sentence / cut mid-sentence

    def __len__(self) -> int:
        return len(self.pairs)

    @cached_property
    def dialogue_ids(self) -> list[str]:
        """Each row's dialogue id (built once: the discriminator asks on every step)."""
        return [p.dialogue_id for p in self.pairs]

    def subset(self, rows: Sequence[int] | torch.Tensor) -> EncodedPairs:
        """The rows `rows`, in that order (repeats allowed); `fitting` stays the whole encoded set's report."""
        index = torch.as_tensor(rows, dtype=torch.long)
        return EncodedPairs([self.pairs[i] for i in index.tolist()], self.contexts[index], self.context_lengths[index],
                            self.responses[index], self.fitting)

    def batch(self, index: torch.Tensor, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        """(contexts, context_lengths, responses) of the rows in `index`, on `device` (lengths stay on the CPU, as
        packed sequences want them)."""
        return self.contexts[index].to(device), self.context_lengths[index], self.responses[index].to(device)


def encode_pairs(pairs: Sequence[Pair], vocab: Vocabulary, context_len: int, response_len: int) -> EncodedPairs:
    """Encode pairs for the generator and the discriminator (see the module docstring for the rules)."""
    if not pairs:
        raise ValueError("no pairs to encode")
    if context_len < 1 or response_len < 2:
        raise ValueError(f"need context_len >= 1 and response_len >= 2, got {context_len} and {response_len}")
    index = token_index(vocab)
    contexts = torch.full((len(pairs), context_len), PAD_ID, dtype=torch.long)
    lengths = torch.empty(len(pairs), dtype=torch.long)
    for row, pair in enumerate(pairs):
        ids = [index.get(w, UNK_ID) for w in context_words(pair.context, context_len)]
        contexts[row, : len(ids)] = torch.tensor(ids)
        lengths[row] = len(ids)
    responses, fitting = encode_responses(vocab, [p.response.text for p in pairs], response_len)
    fitting_report = {rule: fitting.get(rule, 0) for rule in ("whole", "sentences", "cut")}
    return EncodedPairs(list(pairs), contexts, lengths, responses, fitting_report)


def response_lengths(ids: torch.Tensor) -> torch.Tensor:
    """Tokens up to and including the first ``<eos>`` of each row of [B, T] (T where there is none): LongTensor [B]."""
    is_eos = ids == EOS_ID
    first = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), torch.full_like(ids[:, 0], ids.size(1) - 1))
    return (first + 1).cpu()


def response_words(vocab: Vocabulary, ids: torch.Tensor) -> list[list[str]]:
    """Each row's words up to the first ``<eos>`` (``<pad>`` and ``<bos>`` dropped, ``<unk>`` kept)."""
    return [text.split() for text in vocab.decode(ids)]


def has_eos(ids: torch.Tensor) -> torch.Tensor:
    """BoolTensor [B]: the row finished (wrote ``<eos>``) within its length."""
    return (ids == EOS_ID).any(dim=1).cpu()


# --- Back to text ------------------------------------------------------------------------------------------------

_ATTACH_LEFT = {".", ",", "!", "?", ";", ":", "%", ")", "]", "}", "…", "'", "’"}  # no space before these
_ATTACH_RIGHT = {"(", "[", "{", "$", "£", "€", "#"}  # no space after these
_JOINERS = {"-", "/", "@"}  # no space on either side: drip-tray, 1/2, name@host
_SENTENCE_END = {".", "!", "?", "…"}
_DIGITS = re.compile(r"\d+$")
_PRONOUN_I = re.compile(r"i(?:'(?:m|ll|ve|d))?$")


def detokenize(words: Sequence[str]) -> str:
    """Readable text from word tokens (as `heygen_lib.text.word_tokens` splits them, lower-cased): punctuation
    attached, "47 . 80" rejoined as "47.80", the first word of each sentence and the pronoun "i" capitalised.

    ``detokenize(["hi", "!", "i'm", "here", ",", "order", "47", ".", "80", "?"])`` -> ``"Hi! I'm here, order 47.80?"``
    """
    out: list[str] = []
    glue_next, capital, quotes = False, True, 0
    for i, word in enumerate(words):
        between_digits = (word in {".", ",", ":"} and 0 < i < len(words) - 1
                          and _DIGITS.match(words[i - 1]) and _DIGITS.match(words[i + 1]))
        if word == '"':
            quotes += 1
        opening_quote = word == '"' and quotes % 2 == 1
        attach_left = (between_digits or word in _ATTACH_LEFT or word in _JOINERS
                       or (word == '"' and not opening_quote))
        text = word
        if word[0].isalnum() or word == UNK:  # a word: it starts the sentence if one is due
            if word[0].isalpha() and (capital or _PRONOUN_I.match(word)):
                text = word[0].upper() + word[1:]
            capital = False
        if out and not glue_next and not attach_left:
            out.append(" ")
        out.append(text)
        glue_next = between_digits or word in _ATTACH_RIGHT or word in _JOINERS or opening_quote
        if word in _SENTENCE_END and not between_digits:
            capital = True
    return "".join(out)
