"""Quality filters for augmented text: exact and near duplicates, length, LM perplexity, similarity to the source.

Every filter takes aligned lists of augmented texts and their sources (``None`` where a text has no single source)
and returns a keep-mask with a `FilterReport`. `apply_filters` runs a chain, each filter seeing only what the ones
before it kept; `filter_pairs` runs a chain on augmented `Pair`s. Cheap filters first: exact duplicates, length,
near duplicates, perplexity, then semantic similarity (an encoder pass over every text and source).
"""

from __future__ import annotations

import itertools
import math
import random
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from heygen_lib.augment.base import Target, originals_of, targeted_turns
from heygen_lib.data.pairs import Pair
from heygen_lib.language_models import NGramLM, PerplexityScorer
from heygen_lib.text import word_tokens


@dataclass(frozen=True)
class FilterReport:
    """How many texts one filter kept and dropped, and the threshold it used."""

    filter: str
    kept: int
    dropped: int
    threshold: str

    def __str__(self) -> str:
        total = self.kept + self.dropped
        return f"{self.filter}: kept {self.kept} of {total}, dropped {self.dropped} ({self.threshold})"


class QualityFilter(ABC):
    """Decides which augmented texts to keep. Subclasses set `name` and implement `keep` and `describe_threshold`."""

    name: ClassVar[str]

    @abstractmethod
    def keep(self, texts: Sequence[str], sources: Sequence[str | None]) -> np.ndarray:
        """A boolean keep-mask, one entry per text."""

    @abstractmethod
    def describe_threshold(self) -> str:
        """The threshold in words, for the report."""

    def __call__(
        self, texts: Sequence[str], sources: Sequence[str | None] | None = None
    ) -> tuple[np.ndarray, FilterReport]:
        sources = [None] * len(texts) if sources is None else sources
        if len(sources) != len(texts):
            raise ValueError(f"{self.name}: got {len(texts)} texts but {len(sources)} sources; they must be aligned")
        mask = np.asarray(self.keep(texts, sources), dtype=bool) if len(texts) else np.zeros(0, dtype=bool)
        kept = int(mask.sum())
        return mask, FilterReport(self.name, kept, len(texts) - kept, self.describe_threshold())


def normalise(text: str) -> str:
    """Lower case with runs of whitespace collapsed: what the duplicate filters compare."""
    return " ".join(text.casefold().split())


# ---------------------------------------------------------------------------------------------------------------
# Exact duplicates


@dataclass
class ExactDuplicateFilter(QualityFilter):
    """Drops a text equal (after `normalise`) to an earlier augmented text, to any source, or to a `reference` text.

    Sources count as real data: an augmentation that reproduces *any* real utterance adds nothing new.
    """

    reference: Sequence[str] = field(default=(), repr=False)  # more real texts, e.g. every training utterance

    name: ClassVar[str] = "exact duplicates"

    def keep(self, texts: Sequence[str], sources: Sequence[str | None]) -> np.ndarray:
        real = {normalise(t) for t in itertools.chain(self.reference, (s for s in sources if s is not None))}
        seen: set[str] = set()
        mask = np.zeros(len(texts), dtype=bool)
        for i, text in enumerate(texts):
            key = normalise(text)
            mask[i] = key not in real and key not in seen
            seen.add(key)
        return mask

    def describe_threshold(self) -> str:
        return "identical after lower-casing and collapsing whitespace"


# ---------------------------------------------------------------------------------------------------------------
# Near duplicates: MinHash signatures of character shingles, LSH banding to find candidates, exact Jaccard to decide


def lsh_recall(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two texts with this Jaccard similarity share at least one LSH band: 1 - (1 - J^r)^b."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


def choose_bands(threshold: float, num_perm: int, min_recall: float) -> tuple[int, int]:
    """(bands, rows) with the most rows per band (fewest chance candidates) whose recall at `threshold` is at least
    `min_recall`."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if lsh_recall(threshold, bands, rows) >= min_recall:
            return bands, rows
    raise ValueError(f"no banding of {num_perm} hashes reaches recall {min_recall} at Jaccard {threshold}; "
                     "raise num_perm or lower min_recall")


def binomial_below(n: int, p: float, k: int) -> float:
    """P(X < k) for X ~ Binomial(n, p), 0 < p < 1."""
    def pmf(i: int) -> float:
        log_choose = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        return math.exp(log_choose + i * math.log(p) + (n - i) * math.log1p(-p))

    return sum(pmf(i) for i in range(min(k, n + 1)))


@dataclass
class NearDuplicateFilter(QualityFilter):
    """Drops a text whose character-shingle Jaccard similarity to an earlier kept augmented text, to any source, or
    to a `reference` text is at least `threshold`.

    Scales to tens of thousands of texts in seconds. Each text gets a MinHash signature of `num_perm` hashes; the
    share of positions where two signatures agree estimates the texts' Jaccard. Texts agreeing on every hash of
    some band of `rows` hashes become candidates (LSH banding); candidates whose agreement is far below the
    threshold are screened out; the rest get their exact Jaccard computed. So nothing below the threshold is ever
    dropped, and a pair exactly at the threshold is found with probability at least `recall` (0.9997 for the
    defaults; the banding is chosen for `min_recall`), pairs above it more surely still.
    """

    threshold: float = 0.7  # a one-word edit of a 6-10 word sentence scores 0.6-0.8; unrelated chat turns about 0.03
    shingle: int = 3  # characters per shingle: short shingles forgive small edits; "how are you" has 9
    num_perm: int = 128  # signature length: longer sharpens the estimate and the banding, at more hashing cost
    min_recall: float = 0.99  # the banding must find at least this share of pairs exactly at the threshold
    seed: int = 0  # for the hash functions; results depend on it only through the (tiny) chance of a miss
    reference: Sequence[str] = field(default=(), repr=False)  # more real texts, e.g. every training utterance

    name: ClassVar[str] = "near duplicates"
    SCREEN_MISS: ClassVar[float] = 1e-4  # chance that the agreement screen discards a pair exactly at the threshold

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}; ExactDuplicateFilter handles 1")
        if self.shingle < 1 or self.num_perm < 1:
            raise ValueError(f"shingle and num_perm must be positive, got {self.shingle} and {self.num_perm}")
        self.bands, self.rows = choose_bands(self.threshold, self.num_perm, self.min_recall)
        self.min_agreement = 0  # candidates agreeing on fewer hashes are not checked exactly
        while binomial_below(self.num_perm, self.threshold, self.min_agreement + 1) <= self.SCREEN_MISS:
            self.min_agreement += 1
        rng = np.random.default_rng(self.seed)

        def odd_numbers(n: int) -> np.ndarray:  # random odd 64-bit multipliers
            return rng.integers(0, 2**64, size=n, dtype=np.uint64) | np.uint64(1)

        self._shingle_weights = odd_numbers(self.shingle + 1)  # multilinear hash of a shingle's code points
        self._perm_a, self._perm_b = odd_numbers(self.num_perm), odd_numbers(self.num_perm)
        self._band_weights = odd_numbers(self.rows)

    @property
    def recall(self) -> float:
        """A lower bound on the probability of finding a pair whose Jaccard equals the threshold."""
        screen_miss = binomial_below(self.num_perm, self.threshold, self.min_agreement)
        return lsh_recall(self.threshold, self.bands, self.rows) - screen_miss

    def shingle_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each normalised text's set of character-shingle hashes (32-bit), concatenated, with the offsets where each
        text's set starts and ends (len(texts) + 1 of them). A text shorter than a shingle is one shingle."""
        padded = [normalise(t).ljust(self.shingle, "\0") for t in texts]
        codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        windows = np.lib.stride_tricks.sliding_window_view(codes, self.shingle)  # (characters - shingle + 1, shingle)
        hashed = ((windows * self._shingle_weights[1:]).sum(axis=1) + self._shingle_weights[0]) >> np.uint64(32)
        # Keep the windows that lie inside one text: text t's k-th window starts at character text_start[t] + k.
        per_text = np.array([len(p) - self.shingle + 1 for p in padded], dtype=np.int64)
        text_start = np.cumsum([0] + [len(p) for p in padded[:-1]], dtype=np.int64)
        first_window = np.cumsum(per_text) - per_text  # index of each text's first kept window
        owner = np.repeat(np.arange(len(texts)), per_text)
        hashed = hashed[np.arange(len(owner)) - first_window[owner] + text_start[owner]]
        # Then each text's distinct hashes.
        order = np.lexsort((hashed, owner))
        hashed, owner = hashed[order], owner[order]
        first = np.r_[True, (hashed[1:] != hashed[:-1]) | (owner[1:] != owner[:-1])]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[first], minlength=len(texts)), out=offsets[1:])
        return hashed[first], offsets

    def jaccard(self, a: str, b: str) -> float:
        """Exact Jaccard similarity of two texts' shingle sets: what the filter compares with the threshold."""
        hashes, offsets = self.shingle_hashes([a, b])
        first, second = set(hashes[: offsets[1]].tolist()), set(hashes[offsets[1] :].tolist())
        return len(first & second) / len(first | second)

    def signatures(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """MinHash, (texts, num_perm): for each hash function ((a*x + b) mod 2**64) >> 32, its minimum over each
        text's shingles. Two signatures agree in a position with probability equal to the texts' Jaccard."""
        out = np.empty((len(offsets) - 1, self.num_perm), dtype=np.uint32)
        for p in range(self.num_perm):
            out[:, p] = np.minimum.reduceat((self._perm_a[p] * hashes + self._perm_b[p]) >> np.uint64(32), offsets[:-1])
        return out

    def candidate_pairs(self, signatures: np.ndarray, first_n: int) -> np.ndarray:
        """Index pairs (i, j), i < j and i < first_n, whose signatures agree on all hashes of at least one band;
        shape (pairs, 2)."""
        total = len(signatures)
        position = np.arange(total)
        found = [np.zeros(0, dtype=np.int64)]
        for band in range(self.bands):
            block = signatures[:, band * self.rows : (band + 1) * self.rows]
            keys = (block * self._band_weights).sum(axis=1)  # one number per band; a collision only adds a candidate
            order = np.argsort(keys, kind="stable")  # stable: within a bucket, indices ascend
            ordered = keys[order]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            ends = np.r_[starts[1:], total]
            later = np.repeat(ends, ends - starts) - position - 1  # bucket members after each sorted position
            left = np.repeat(position, later)  # each sorted position, once per later member of its bucket
            right = left + 1 + np.arange(len(left)) - np.repeat(np.cumsum(later) - later, later)
            i, j = order[left], order[right]
            found.append(i[i < first_n] * total + j[i < first_n])
        codes = np.unique(np.concatenate(found))
        return np.stack([codes // total, codes % total], axis=1)

    def keep(self, texts: Sequence[str], sources: Sequence[str | None]) -> np.ndarray:
        real = {normalise(t) for t in itertools.chain(self.reference, sources) if t is not None}
        # Copies are settled without hashing: a later copy of an augmented text, or a copy of a real one, goes.
        first: dict[str, int] = {}
        for i, text in enumerate(texts):
            first.setdefault(normalise(text), i)
        unique = [text for text in first if text not in real]
        close = self._close_pairs(unique, sorted(real))
        kept = np.ones(len(unique), dtype=bool)
        for i in range(len(unique)):  # greedy, in order: near an earlier *kept* text or near any real text
            kept[i] = not any(j >= len(unique) or kept[j] for j in close[i])
        survivors = {first[text] for text, keep in zip(unique, kept) if keep}
        return np.array([i in survivors for i in range(len(texts))], dtype=bool)

    def _close_pairs(self, texts: list[str], real: list[str]) -> dict[int, list[int]]:
        """For each of `texts`, the earlier ones and the `real` ones (indexed after all texts) it is near."""
        close: dict[int, list[int]] = defaultdict(list)
        if not texts:
            return close
        n = len(texts)
        hashes, offsets = self.shingle_hashes([*texts, *real])
        signatures = self.signatures(hashes, offsets)
        pairs = self.candidate_pairs(signatures, n)
        sizes = np.diff(offsets)
        small, large = np.sort(sizes[pairs], axis=1).T
        pairs = pairs[small >= self.threshold * large]  # Jaccard is at most the ratio of the set sizes
        agree = np.zeros(len(pairs), dtype=np.int64)
        for start in range(0, len(pairs), 8192):  # in chunks, as each pair gathers two signatures
            chunk = pairs[start : start + 8192]
            agree[start : start + 8192] = (signatures[chunk[:, 0]] == signatures[chunk[:, 1]]).sum(axis=1)
        pairs = pairs[agree >= self.min_agreement]  # drop those whose MinHash estimate is far below the threshold
        sets: dict[int, frozenset[int]] = {}
        for i, j in pairs.tolist():
            for k in (i, j):
                if k not in sets:
                    sets[k] = frozenset(hashes[offsets[k] : offsets[k + 1]].tolist())
            common = len(sets[i] & sets[j])
            if common >= self.threshold * (len(sets[i]) + len(sets[j]) - common):
                close[j if j < n else i].append(i if j < n else j)
        return close

    def describe_threshold(self) -> str:
        recall = math.floor(self.recall * 1e4) / 1e4  # rounded down: it is a lower bound
        return (f"{self.shingle}-character shingle Jaccard >= {self.threshold}; "
                f"LSH {self.bands} bands x {self.rows} rows, recall at threshold >= {recall}")


# ---------------------------------------------------------------------------------------------------------------
# Length


def word_count(text: str) -> int:
    """Words and numbers, not punctuation or emoji, as `heygen_lib.text.word_tokens` splits them."""
    return sum(1 for token in word_tokens(text) if token[0].isalnum() or token[0] == "_")


@dataclass
class LengthFilter(QualityFilter):
    """Drops texts outside [min_words, max_words], and texts much longer or shorter than their source (the ratio
    is skipped where there is no source or the source has no words)."""

    min_words: int = 1  # an empty, punctuation-only or emoji-only rewrite says nothing
    max_words: int = 64  # longer than almost any chat turn: a generator that rambled
    max_ratio: float = 3.0  # three times the source's words: the rewrite added content of its own
    min_ratio: float = 0.33  # a third of the source's words: the rewrite probably lost the meaning

    name: ClassVar[str] = "length"

    def __post_init__(self) -> None:
        if not 0 <= self.min_words <= self.max_words:
            raise ValueError(f"need 0 <= min_words <= max_words, got {self.min_words} and {self.max_words}")
        if not 0 <= self.min_ratio <= self.max_ratio:
            raise ValueError(f"need 0 <= min_ratio <= max_ratio, got {self.min_ratio} and {self.max_ratio}")

    def keep(self, texts: Sequence[str], sources: Sequence[str | None]) -> np.ndarray:
        mask = np.zeros(len(texts), dtype=bool)
        for i, (text, source) in enumerate(zip(texts, sources)):
            words = word_count(text)
            source_words = word_count(source) if source is not None else 0
            ratio_ok = source_words == 0 or self.min_ratio <= words / source_words <= self.max_ratio
            mask[i] = self.min_words <= words <= self.max_words and ratio_ok
        return mask

    def describe_threshold(self) -> str:
        return (f"{self.min_words} <= words <= {self.max_words}, "
                f"{self.min_ratio} <= words / source words <= {self.max_ratio}")


# ---------------------------------------------------------------------------------------------------------------
# Perplexity


@dataclass
class PerplexityFilter(QualityFilter):
    """Drops texts whose perplexity under an LM of the real data is above `max_perplexity`.

    Set the threshold from real texts the LM did not train on (`calibrate`, or `ngram_perplexity_filter` for the
    default n-gram LM): at the 0.95 quantile about 5% of real text would be dropped, so a much higher drop rate on
    augmented text says it reads less like the data.
    """

    scorer: PerplexityScorer
    max_perplexity: float

    name: ClassVar[str] = "perplexity"

    @classmethod
    def calibrate(
        cls, scorer: PerplexityScorer, held_out_real: Sequence[str], quantile: float = 0.95
    ) -> PerplexityFilter:
        """A filter whose threshold is the `quantile` of the scorer's perplexity on real texts it was not fit on."""
        if not len(held_out_real) or not 0 < quantile <= 1:
            raise ValueError(f"need held-out real texts and 0 < quantile <= 1, got {len(held_out_real)} and {quantile}")
        return cls(scorer, float(np.quantile(scorer.perplexity(held_out_real), quantile)))

    def keep(self, texts: Sequence[str], sources: Sequence[str | None]) -> np.ndarray:
        return self.scorer.perplexity(texts) <= self.max_perplexity

    def describe_threshold(self) -> str:
        return f"perplexity <= {self.max_perplexity:.1f} under {type(self.scorer).__name__}"


def ngram_perplexity_filter(
    real_texts: Sequence[str], quantile: float = 0.95, held_out: float = 0.2, seed: int = 0, order: int = 3
) -> PerplexityFilter:
    """The default perplexity filter: an `NGramLM` fit on most of the real texts, its threshold set on the rest."""
    if not 0 < held_out < 1:
        raise ValueError(f"held_out must be a fraction in (0, 1), got {held_out}")
    texts = list(real_texts)
    random.Random(seed).shuffle(texts)
    n_held = round(held_out * len(texts))
    if n_held < 1 or n_held == len(texts):
        raise ValueError(f"{len(texts)} real texts cannot be split into a training part and a held-out part")
    return PerplexityFilter.calibrate(NGramLM(order).fit(texts[n_held:]), texts[:n_held], quantile)


# ---------------------------------------------------------------------------------------------------------------
# Semantic similarity to the source


@dataclass
class SemanticFilter(QualityFilter):
    """Drops texts whose cosine similarity to their source is below `min_similarity`; texts without a source stay.

    `encoder` maps texts to an (n, d) array or tensor of embeddings, such as ``heygen_lib.metrics.SentenceEncoder``
    (all-MiniLM-L6-v2). Embeddings are L2-normalised here too, so any encoder gives cosines.
    """

    encoder: Callable[[Sequence[str]], Any]
    min_similarity: float = 0.5  # MiniLM: paraphrases score about 0.55-0.95, unrelated turns of one corpus under 0.3

    name: ClassVar[str] = "semantic similarity"

    def __post_init__(self) -> None:
        if not -1 <= self.min_similarity <= 1:
            raise ValueError(f"min_similarity is a cosine, in [-1, 1]; got {self.min_similarity}")

    def similarities(self, texts: Sequence[str], sources: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each text to its source (both lists of strings, aligned)."""
        if not len(texts):
            return np.zeros(0)
        unique = {text: i for i, text in enumerate(dict.fromkeys([*texts, *sources]))}  # copies share a source
        embeddings = self.encoder(list(unique))
        if hasattr(embeddings, "detach"):  # a torch tensor
            embeddings = embeddings.detach().float().cpu().numpy()
        embeddings = np.asarray(embeddings, dtype=np.float64)
        embeddings /= np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        text_rows, source_rows = [unique[t] for t in texts], [unique[s] for s in sources]
        return (embeddings[text_rows] * embeddings[source_rows]).sum(axis=1)

    def keep(self, texts: Sequence[str], sources: Sequence[str | None]) -> np.ndarray:
        mask = np.ones(len(texts), dtype=bool)
        paired = [i for i, source in enumerate(sources) if source is not None]
        similarity = self.similarities([texts[i] for i in paired], [sources[i] for i in paired])  # type: ignore[misc]
        mask[paired] = similarity >= self.min_similarity
        return mask

    def describe_threshold(self) -> str:
        return f"cosine similarity to source >= {self.min_similarity}"


# ---------------------------------------------------------------------------------------------------------------
# Chains


def apply_filters(
    texts: Sequence[str], sources: Sequence[str | None], filters: Sequence[QualityFilter]
) -> tuple[np.ndarray, list[FilterReport]]:
    """Run filters in order, each on what the ones before it kept: the overall keep-mask and one report per filter."""
    if len(texts) != len(sources):
        raise ValueError(f"got {len(texts)} texts but {len(sources)} sources; they must be aligned")
    mask = np.ones(len(texts), dtype=bool)
    reports = []
    for quality_filter in filters:
        alive = np.flatnonzero(mask)
        keep, report = quality_filter([texts[i] for i in alive], [sources[i] for i in alive])
        mask[alive[~keep]] = False
        reports.append(report)
    return mask, reports


def rewritten_text(pair: Pair, target: Target) -> str:
    """The part of a pair that augmentation rewrote, as one text: the response, or the context turns (and then the
    response) joined by newlines."""
    return "\n".join(turn.text for turn in targeted_turns(pair, target))


def filter_pairs(
    new_pairs: Sequence[Pair], originals: Sequence[Pair], filters: Sequence[QualityFilter], target: Target = "response"
) -> tuple[list[Pair], list[FilterReport]]:
    """Keep the augmented pairs whose rewritten part passes every filter; one report per filter.

    Each new pair is judged as one text (`rewritten_text`) against the same part of the original it came from,
    found through ``meta["provenance"]["from"]`` ("source:dialogue_id:turn_index"); a pair without a known original
    has no source (the ratio and similarity checks skip it). Kept pairs are returned unchanged, in order.
    """
    if target not in ("context", "response", "both"):
        raise ValueError(f"target must be 'context', 'response' or 'both', got {target!r}")
    texts, sources = [], []
    for pair, original in zip(new_pairs, originals_of(new_pairs, originals)):
        made_by = pair.meta.get("provenance", {})
        if made_by.get("target", target) != target:
            raise ValueError(f"pair {made_by.get('from')} was augmented with target {made_by['target']!r}, "
                             f"not {target!r}: filter pairs of each target separately")
        texts.append(rewritten_text(pair, target))
        sources.append(rewritten_text(original, target) if original is not None else None)
    mask, reports = apply_filters(texts, sources, filters)
    return [pair for pair, keep in zip(new_pairs, mask) if keep], reports
