"""Real text for text GANs: a word vocabulary and fixed-length id sequences (``<bos>`` start, ``<eos>``, padding)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from heygen_lib.data.dialogue import DataFormatError
from heygen_lib.data.loaders import read_text
from heygen_lib.text import word_tokens

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
PAD_ID = 0


@dataclass(frozen=True)
class Vocabulary:
    """Word types by id: 0 ``<pad>``, 1 ``<bos>`` (the generators' start token), 2 ``<eos>``, 3 ``<unk>``, then
    words from most to least frequent. Words come from `heygen_lib.text.word_tokens` (lower-cased)."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, texts: Sequence[str], max_size: int = 5000) -> Vocabulary:
        """The `max_size` - 4 most frequent words of `texts` (ties broken alphabetically) after the four specials."""
        counts = Counter(tok for text in texts for tok in word_tokens(text))
        words = sorted(counts, key=lambda w: (-counts[w], w))[: max_size - 4]
        return cls((PAD, BOS, EOS, UNK, *words))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def bos(self) -> int:
        return 1

    def encode(self, texts: Sequence[str], max_len: int) -> torch.Tensor:
        """LongTensor [N, max_len]: each text's words (unknown ones as ``<unk>``), cut to ``max_len - 1`` words, then
        ``<eos>``, then ``<pad>``."""
        index = self.index
        out = torch.zeros(len(texts), max_len, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [index.get(tok, 3) for tok in word_tokens(text)][: max_len - 1] + [2]
            out[row, : len(ids)] = torch.tensor(ids)
        return out

    def decode_tokens(self, ids: torch.Tensor) -> list[list[str]]:
        """Token lists from id sequences [N, T]: words up to the first ``<eos>``, specials other than ``<unk>``
        dropped; ``<unk>`` stays one token."""
        out = []
        for row in ids.tolist():
            words = []
            for i in row:
                if i == 2:
                    break
                if i > 2:
                    words.append(self.tokens[i])
            out.append(words)
        return out

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Texts from id sequences [N, T]: `decode_tokens` joined by spaces."""
        return [" ".join(words) for words in self.decode_tokens(ids)]

    def tokenize(self, text: str) -> list[str]:
        """A text's words as this vocabulary sees them: `word_tokens`, unknown words as one ``<unk>`` token."""
        known = self.index
        return [w if w in known else UNK for w in word_tokens(text)]

    @cached_property
    def index(self) -> Mapping[str, int]:
        """Id of each token, built once: `tokens` is a tuple of a frozen dataclass, so it cannot go stale. Callers
        share it and only read it."""
        return {tok: i for i, tok in enumerate(self.tokens)}


def length_for(texts: Sequence[str], coverage: float = 0.999) -> tuple[int, int]:
    """(max_len, truncated): the shortest sequence length, ``<eos>`` included, that holds at least `coverage` of
    `texts` whole, and how many texts are longer and will be cut at it (report that number)."""
    if not texts or not 0 < coverage <= 1:
        raise ValueError("need texts and 0 < coverage <= 1")
    lengths = sorted(len(word_tokens(t)) + 1 for t in texts)
    max_len = lengths[min(len(lengths) - 1, math.ceil(coverage * len(lengths)) - 1)]
    return max_len, sum(n > max_len for n in lengths)


def nll_per_token(generator: torch.nn.Module, data: torch.Tensor, batch_size: int = 500) -> float:
    """The generator's mean NLL (nats) per real token of `data` [N, T]: words and ``<eos>``, never the ``<pad>``
    after it, so the number is comparable with a per-word NLL of the text (padding is easy to predict and would
    pull the average down)."""
    from heygen_lib.torch_utils import eval_mode

    total, count = 0.0, 0
    with torch.no_grad(), eval_mode(generator):
        for chunk in data.split(batch_size):
            chunk = chunk.to(generator.device)
            real = chunk != PAD_ID
            total += generator.token_nll(chunk)[real].double().sum().item()
            count += int(real.sum())
    return total / count


def load_text_lines(path: str | Path) -> list[str]:
    """A text file with one sentence per line (UTF-8), as a list of its non-blank lines; the real-text corpus a user
    brings. Non-UTF-8 bytes or a file without text raise `DataFormatError` naming the file and line."""
    path = Path(path)
    text = read_text(path)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise DataFormatError(path, "no text in the file")
    return lines
