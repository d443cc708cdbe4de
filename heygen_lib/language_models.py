"""Language models that score text: a word n-gram LM fit on real data in seconds, and any `transformers` causal LM.

Both give one perplexity per text; the perplexity filter (`heygen_lib.augment.filters`) and the notebooks' "does
this still read like the data?" measurements use them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from heygen_lib.text import word_tokens


class PerplexityScorer(Protocol):
    """Anything that gives one perplexity per text."""

    def perplexity(self, texts: Sequence[str]) -> np.ndarray: ...


class NGramLM:
    """A word n-gram language model with interpolated Kneser-Ney smoothing (Chen & Goodman, 1998).

    Fit on real texts in seconds on a CPU. Texts are split by `word_tokens`, padded with ``<s>`` and closed with
    ``</s>``; words seen fewer than `min_count` times become ``<unk>``, so unseen words get a trained probability.
    Each order discounts its counts by D = n1 / (n1 + 2 n2) and passes the mass to the order below; the lowest order
    uses continuation counts (how many words a word follows) on top of a uniform distribution over the vocabulary.
    """

    BOS, EOS, UNK = "<s>", "</s>", "<unk>"

    def __init__(self, order: int = 3, min_count: int = 2):
        if order < 1 or min_count < 1:
            raise ValueError(f"order and min_count must be at least 1, got {order} and {min_count}")
        self.order, self.min_count = order, min_count
        self.vocab: set[str] = set()  # the words it predicts: seen words, <unk> and </s>
        self._counts: dict[int, Counter] = {}  # order k -> k-gram -> count (top order) or continuation count
        self._histories: dict[int, dict[tuple[str, ...], tuple[int, int]]] = {}  # k -> history -> (total, types)
        self._discounts: dict[int, float] = {}

    def fit(self, texts: Sequence[str]) -> NGramLM:
        """Count n-grams of the texts; returns self."""
        sentences = [word_tokens(t) for t in texts]
        if not sentences:
            raise ValueError("NGramLM.fit needs at least one text")
        frequency = Counter(w for s in sentences for w in s)
        self.vocab = {w for w, c in frequency.items() if c >= self.min_count} | {self.UNK, self.EOS}
        top: Counter = Counter()
        for sentence in sentences:
            tokens = self._padded(sentence)
            for end in range(self.order - 1, len(tokens)):
                top[tuple(tokens[end - self.order + 1 : end + 1])] += 1
        self._counts = {self.order: top}
        for k in range(self.order - 1, 0, -1):  # continuation count: how many distinct words precede a k-gram
            self._counts[k] = Counter(gram[1:] for gram in self._counts[k + 1])
        for k, counts in self._counts.items():
            totals: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
            for gram, count in counts.items():
                totals[gram[:-1]][0] += count
                totals[gram[:-1]][1] += 1
            self._histories[k] = {h: (t, n) for h, (t, n) in totals.items()}
            n1, n2 = (sum(1 for c in counts.values() if c == m) for m in (1, 2))
            self._discounts[k] = n1 / (n1 + 2 * n2) if n1 and n2 else 0.75
        return self

    def _padded(self, words: Sequence[str]) -> list[str]:
        known = [w if w in self.vocab else self.UNK for w in words]
        return [self.BOS] * (self.order - 1) + known + [self.EOS]

    def prob(self, word: str, history: Sequence[str] = ()) -> float:
        """P(word | the last order-1 words of history), history padded with <s>; unknown words count as <unk>."""
        if not self.vocab:
            raise ValueError("fit the NGramLM before asking for probabilities")
        word = word if word in self.vocab else self.UNK
        history = [w if w in self.vocab or w == self.BOS else self.UNK for w in history]
        history = ([self.BOS] * (self.order - 1) + history)[len(history) :]
        return self._prob(word, tuple(history))

    def _prob(self, word: str, history: tuple[str, ...]) -> float:
        p = 1.0 / len(self.vocab)
        for k in range(1, self.order + 1):  # from unigrams up, each order interpolating with the one below
            h = history[len(history) - k + 1 :]
            total, types = self._histories[k].get(h, (0, 0))
            if total:
                d = self._discounts[k]
                p = max(self._counts[k].get(h + (word,), 0) - d, 0) / total + d * types / total * p
        return p

    def perplexity(self, texts: Sequence[str]) -> np.ndarray:
        """exp(mean negative log-probability) per text, over its words and the closing </s>."""
        out = np.empty(len(texts))
        for i, text in enumerate(texts):
            tokens = self._padded(word_tokens(text))
            n = self.order - 1
            logp = sum(math.log(self._prob(tokens[j], tuple(tokens[j - n : j]))) for j in range(n, len(tokens)))
            out[i] = math.exp(-logp / (len(tokens) - n))
        return out


class CausalLMScorer:
    """Perplexity under a `transformers` causal LM (GPT-2 and kin), for the full profile.

    Each text is scored as <bos> text <eos> (GPT-2 uses <|endoftext|> for both), truncated to `max_tokens`; the
    model's train/eval mode is restored after scoring. For a filter, use a model fine-tuned on the real data.
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 16, max_tokens: int = 128):
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if start is None:
            raise ValueError("the tokenizer needs a bos or eos token to score a text's first token")
        if batch_size < 1 or max_tokens < 2:
            raise ValueError(f"need batch_size >= 1 and max_tokens >= 2, got {batch_size} and {max_tokens}")
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_tokens, self._start = batch_size, max_tokens, start

    @classmethod
    def from_pretrained(cls, name_or_path: str, **kwargs: Any) -> CausalLMScorer:
        """Load a model and tokenizer by hub name or local path onto the kit's device."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from heygen_lib.profile import device

        model = AutoModelForCausalLM.from_pretrained(name_or_path).to(device())
        return cls(model, AutoTokenizer.from_pretrained(name_or_path), **kwargs)

    def perplexity(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not len(texts):
            return np.zeros(0)
        end = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        encoded = self.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=self.max_tokens)
        ids = [[self._start, *tokens][: self.max_tokens - len(end)] + end for tokens in encoded["input_ids"]]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths batch with little padding
        out = np.empty(len(ids))
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for first in range(0, len(order), self.batch_size):
                batch = order[first : first + self.batch_size]
                width = max(len(ids[i]) for i in batch)
                tokens = torch.zeros(len(batch), width, dtype=torch.long)
                mask = torch.zeros(len(batch), width, dtype=torch.long)
                for row, i in enumerate(batch):
                    tokens[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                tokens, mask = tokens.to(device), mask.to(device)
                logits = self.model(input_ids=tokens, attention_mask=mask).logits[:, :-1].float()  # (B, T-1, V)
                logp = logits.log_softmax(-1).gather(-1, tokens[:, 1:, None]).squeeze(-1)  # (B, T-1)
                scored = mask[:, 1:].float()
                nll = -(logp * scored).sum(1) / scored.sum(1)
                out[batch] = nll.exp().cpu().numpy()
        self.model.train(was_training)
        return out
