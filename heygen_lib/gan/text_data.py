"""Real text for text GANs: a word vocabulary and fixed-length id sequences (``<bos>`` start, ``<eos>``, padding)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pathlib import Path

import torch

from heygen_lib.data.dialogue import DataFormatError
from heygen_lib.data.loaders import read_text
from heygen_lib.text import word_tokens

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"


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
        index = {tok: i for i, tok in enumerate(self.tokens)}
        out = torch.zeros(len(texts), max_len, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [index.get(tok, 3) for tok in word_tokens(text)][: max_len - 1] + [2]
            out[row, : len(ids)] = torch.tensor(ids)
        return out

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Texts from id sequences [N, T]: words up to the first ``<eos>``, specials other than ``<unk>`` dropped."""
        texts = []
        for row in ids.tolist():
            words = []
            for i in row:
                if i == 2:
                    break
                if i > 2:
                    words.append(self.tokens[i])
            texts.append(" ".join(words))
        return texts


def load_text_lines(path: str | Path) -> list[str]:
    """A text file with one sentence per line (UTF-8), as a list of its non-blank lines; the real-text corpus a user
    brings. Non-UTF-8 bytes or a file without text raise `DataFormatError` naming the file and line."""
    path = Path(path)
    text = read_text(path)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise DataFormatError(path, "no text in the file")
    return lines
