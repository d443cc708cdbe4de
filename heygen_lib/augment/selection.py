"""The selection rule: the measured table picks the augmenters and rates, and the pool is exactly what it picked.

Every candidate (an augmenter at a rate) rewrites the same source pairs and gets one row of the table
(`heygen_lib.augment.evaluate`). One stated rule (`SelectionRule`) reads the table: a row is admitted when its
rewrites keep the meaning (similarity to the source at least ``min_similarity``), still read like the data (median
perplexity ratio at most ``max_perplexity_ratio``: word order counts here, unlike in the similarity) and rewrite
enough of the sources to matter (``min_coverage``); of each augmenter's admitted rows the most varied one
(highest distinct-2) is selected. `apply_selection` runs exactly those candidates over every training pair,
`build_pool` drops copies and broken lengths, and `write_pool` saves the pool with a manifest (rule, table,
selection) beside it. `pool_selection` reads the selection back from the pairs' provenance: a test and the
notebook's lesson checks hold it equal to the rule's.

The context is what gets augmented by default: a fine-tuned model learns to *write* its training responses, so
perturbing them teaches it typos and swapped words, while a perturbed context only teaches it to read noisy input.
The response pool exists so that notebook 05 can measure that choice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heygen_lib.augment.base import Target, TextAugmenter, augment_pairs, augmented_pairs_path, originals_of
from heygen_lib.augment.evaluate import CachingEncoder, pair_scores
from heygen_lib.augment.filters import ExactDuplicateFilter, FilterReport, LengthFilter, filter_pairs, rewritten_text
from heygen_lib.augment.protect import broken_spans
from heygen_lib.data.pair_files import save_pairs
from heygen_lib.data.pairs import Pair
from heygen_lib.language_models import PerplexityScorer
from heygen_lib.metrics import SentenceEncoder

if TYPE_CHECKING:
    from heygen_lib.profile import Profile

Candidate = tuple[str, float | None]  # (augmenter name, rate); rate None for augmenters without one
# Rewrites that stay well-formed text: the only ones a response pool may use.
PARAPHRASERS = ("synonym-replacement", "sentence-reversal", "back-translation (Apertium)",
                "back-translation (MarianMT)")


@dataclass(frozen=True)
class SelectionRule:
    """Which rows of the measured table may feed the pool; of each augmenter's admitted rows, the most varied."""

    min_similarity: float = 0.85  # MiniLM cosine to the source: meaning kept (paraphrases score about 0.55-0.95)
    max_perplexity_ratio: float = 2.0  # median perplexity / the source's under the data's LM: reads like the data
    min_coverage: float = 0.5  # share of the sources the augmenter could rewrite; fewer is too little to matter
    allowed: tuple[str, ...] | None = None  # only these augmenters (None: any); see `for_target`

    @classmethod
    def for_target(cls, target: Target, **thresholds: float) -> SelectionRule:
        """The rule for a pool: any augmenter for the context; for the response only `PARAPHRASERS`, because the
        model learns to write its responses, typos, swaps and deletions included."""
        return cls(**thresholds, allowed=None if target == "context" else PARAPHRASERS)

    def admits(self, row: Mapping[str, Any]) -> bool:
        return ((self.allowed is None or row["augmenter"] in self.allowed)
                and row["similarity to source"] >= self.min_similarity
                and row["perplexity vs source"] <= self.max_perplexity_ratio
                and row.get("coverage", 1.0) >= self.min_coverage)

    def select(self, rows: Sequence[Mapping[str, Any]]) -> list[Candidate]:
        """(augmenter, rate) of each augmenter's admitted row with the highest distinct-2, most varied first."""
        best: dict[str, Mapping[str, Any]] = {}
        for row in rows:
            name = str(row["augmenter"])
            if self.admits(row) and (name not in best or row["distinct-2"] > best[name]["distinct-2"]):
                best[name] = row
        chosen = sorted(best.values(), key=lambda row: row["distinct-2"], reverse=True)
        return [(str(row["augmenter"]), row["rate"]) for row in chosen]

    def describe(self) -> str:
        only = "" if self.allowed is None else f"only {', '.join(self.allowed)}; "
        return (f"{only}similarity to source >= {self.min_similarity}, perplexity ratio <= "
                f"{self.max_perplexity_ratio}, coverage >= {self.min_coverage}; per augmenter, the admitted rate "
                "with the highest distinct-2")


def candidate_augmenters(
    translation: tuple[str, str] | None = None,
) -> dict[str, Callable[[float | None], TextAugmenter]]:
    """The augmenters the table measures, by name, each made from a rate (ignored by those without one).

    Back-translation is Apertium's (offline) where it is installed, and MarianMT's where `translation` names the
    models (the full profile); the synonym augmenters only where WordNet is installed."""
    from heygen_lib.augment.apertium import ApertiumBackTranslator, apertium_available
    from heygen_lib.augment.perturb import (RandomDeletion, RandomDeletionConfig, RandomInsertion,
                                            RandomInsertionConfig, RandomSwap, RandomSwapConfig, SynonymReplacement,
                                            SynonymReplacementConfig, TypoConfig, Typos)
    from heygen_lib.augment.reversal import SentenceReversal, WordReversal
    from heygen_lib.augment.wordnet import wordnet_available

    made: dict[str, Callable[[float | None], TextAugmenter]] = {}
    if wordnet_available():  # else `load_wordnet` says how to get it; the other augmenters need no WordNet
        made["synonym-replacement"] = lambda rate: SynonymReplacement(SynonymReplacementConfig(rate=rate))
        made["random-insertion"] = lambda rate: RandomInsertion(RandomInsertionConfig(rate=rate))
    made |= {
        "random-swap": lambda rate: RandomSwap(RandomSwapConfig(rate=rate)),
        "random-deletion": lambda rate: RandomDeletion(RandomDeletionConfig(rate=rate)),
        "typos": lambda rate: Typos(TypoConfig(rate=rate)),
        "word-reversal": lambda rate: WordReversal(),
        "sentence-reversal": lambda rate: SentenceReversal(),
    }
    if apertium_available():
        made["back-translation (Apertium)"] = lambda rate: ApertiumBackTranslator()
    if translation is not None:
        from heygen_lib.augment.backtranslate import BackTranslationConfig, BackTranslator

        forward, backward = translation
        made["back-translation (MarianMT)"] = lambda rate: BackTranslator(
            BackTranslationConfig(forward=str(forward), backward=str(backward)))
    return made


RATED = ("synonym-replacement", "random-insertion", "random-swap", "random-deletion", "typos")


def candidates(augmenters: Mapping[str, Callable], rates: Sequence[float]) -> list[Candidate]:
    """Every (augmenter, rate) to measure: each rated augmenter at each rate, the others once."""
    return [(name, rate) for name in augmenters for rate in (rates if name in RATED else (None,))]


def measure(
    sources: Sequence[Pair],
    augmenters: Mapping[str, Callable[[float | None], TextAugmenter]],
    todo: Sequence[Candidate],
    encoder: SentenceEncoder,
    lm: PerplexityScorer,
    target: Target = "context",
    seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[Candidate, list[Pair]]]:
    """The table (one row per candidate, over the same `sources`) and each candidate's augmented pairs."""
    rows, made = [], {}
    encoder = encoder if isinstance(encoder, CachingEncoder) else CachingEncoder(encoder)
    for name, rate in todo:
        new, report = augment_pairs(sources, augmenters[name](rate), target=target, seed=seed)
        made[name, rate] = new
        if not new:
            continue
        rows.append({"augmenter": name, "rate": rate, "coverage": len(new) / len(sources),
                     **pair_scores(new, sources, encoder, lm, target=target)})
    return rows, made


def apply_selection(
    pairs: Sequence[Pair], augmenters: Mapping[str, Callable[[float | None], TextAugmenter]],
    selection: Sequence[Candidate], target: Target = "context", seed: int = 0,
) -> dict[Candidate, list[Pair]]:
    """Each selected candidate's augmented pairs of `pairs` (all the training pairs, not only the measured ones)."""
    return {(name, rate): augment_pairs(pairs, augmenters[name](rate), target=target, seed=seed)[0]
            for name, rate in selection}


def build_pool(
    made: Mapping[Candidate, Sequence[Pair]], selection: Sequence[Candidate], originals: Sequence[Pair],
    reference: Sequence[str] = (), target: Target = "context",
) -> tuple[list[Pair], list[FilterReport]]:
    """The selected candidates' pairs, without copies of each other or of the real data (`reference`: the real texts
    of the rewritten part), and without rewrites whose length is off. No near-duplicate filter: a one-word edit of
    a three-turn context is a near-duplicate by design, and the rule has already judged how far rewrites may go."""
    pairs = [pair for candidate in selection for pair in made[candidate]]
    filters = [ExactDuplicateFilter(reference=reference), LengthFilter(min_words=2, max_words=400)]
    return filter_pairs(pairs, originals, filters, target=target)


@dataclass(frozen=True)
class Pool:
    """One pool as the rule wrote it: the rule, the table it read, what it selected, the pairs and where they went."""

    target: Target
    rule: SelectionRule
    table: list[dict[str, Any]] = field(repr=False)
    selection: list[Candidate]
    pairs: list[Pair] = field(repr=False)
    reports: list[FilterReport] = field(repr=False)
    path: Path
    seed: int  # what the random augmenters drew their edits from

    def __str__(self) -> str:
        from heygen_lib.paths import shown_path

        picked = ", ".join(name if rate is None else f"{name} at {rate}" for name, rate in self.selection) or "nothing"
        lines = [f"{self.target} pool: {len(self.pairs)} pairs written to {shown_path(self.path)}",
                 f"  rule: {self.rule.describe()}", f"  selected: {picked}"]
        return "\n".join(lines + [f"    {report}" for report in self.reports])


def rule_pool(
    train: Sequence[Pair], augmenters: Mapping[str, Callable[[float | None], TextAugmenter]], rule: SelectionRule,
    table: Sequence[Mapping[str, Any]], target: Target = "context", seed: int = 0, made_by: str = "notebook 02",
) -> Pool:
    """Select from the measured `table` by `rule`, rewrite every training pair with the selection, drop copies and
    broken lengths (`build_pool`), and write the pool with its manifest."""
    selection = rule.select(table)
    made = apply_selection(train, augmenters, selection, target, seed)
    pairs, reports = build_pool(made, selection, train, target_texts(train, target), target)
    path = write_pool(pairs, target, rule, selection, table, made_by=made_by)
    return Pool(target, rule, [dict(row) for row in table], selection, pairs, reports, path, seed)


def reseeded(
    sources: Sequence[Pair], augmenters: Mapping[str, Callable[[float | None], TextAugmenter]], pool: Pool,
    encoder: SentenceEncoder, lm: PerplexityScorer, seed: int,
) -> list[dict[str, Any]]:
    """The pool's selected random candidates (the rated ones: EDA's edits and typos) measured again with `seed`, beside
    the pool's own row: how far each column moves from one seed to the next, and whether the rule still admits it.
    The other augmenters (reversals, Apertium) rewrite the same way at every seed, so their rows cannot move."""
    random_ones = [candidate for candidate in pool.selection if candidate[0] in RATED]
    again, _ = measure(sources, augmenters, random_ones, encoder, lm, pool.target, seed)
    first = {(row["augmenter"], row["rate"]): row for row in pool.table}
    seeds = f"(seed {pool.seed} / {seed})"
    return [{"augmenter": row["augmenter"], "rate": row["rate"],
             f"similarity {seeds}": f"{first[row['augmenter'], row['rate']]['similarity to source']:.3f} / "
                                    f"{row['similarity to source']:.3f}",
             f"perplexity ratio {seeds}": f"{first[row['augmenter'], row['rate']]['perplexity vs source']:.2f} / "
                                          f"{row['perplexity vs source']:.2f}",
             f"admitted with seed {seed}": pool.rule.admits(row)} for row in again]


def lm_texts(train: Sequence[Pair], sources: Sequence[Pair], target: Target) -> list[str]:
    """What the realism LM is fit on: the training pairs of dialogues none of the `sources` comes from. An LM that
    has seen a source scores it as memorised, and any rewrite of it then looks unlikely; all of `train` where the
    sources cover every dialogue."""
    measured = {pair.dialogue_id for pair in sources}
    others = [pair for pair in train if pair.dialogue_id not in measured]
    return target_texts(others or train, target)


def pool_selection(pairs: Sequence[Pair]) -> list[Candidate]:
    """The (augmenter, rate) that made a pool's pairs, from their provenance, in first-seen order."""
    found = (p.meta["provenance"] for p in pairs)
    return list(dict.fromkeys((made["augmenter"], made["params"].get("rate")) for made in found))


def count_broken_spans(pairs: Sequence[Pair], originals: Sequence[Pair], target: Target = "context") -> int:
    """Protected spans of the originals that their augmented pairs do not reproduce byte for byte."""
    return sum(len(broken_spans(rewritten_text(source, target), rewritten_text(pair, target)))
               for pair, source in zip(pairs, originals_of(pairs, originals)) if source is not None)


def manifest_path(target: Target = "context") -> Path:
    return augmented_pairs_path(target).with_suffix(".manifest.json")


def write_pool(
    pairs: Sequence[Pair], target: Target, rule: SelectionRule, selection: Sequence[Candidate],
    rows: Sequence[Mapping[str, Any]], made_by: str,
) -> Path:
    """Save the pool where notebook 05 reads it, with a manifest of the rule, its selection and the table."""
    path = save_pairs(pairs, augmented_pairs_path(target))
    manifest = {"target": target, "made_by": made_by, "rule": asdict(rule), "rule_in_words": rule.describe(),
                "selected": selection_records(selection), "pairs": len(pairs), "table": [dict(row) for row in rows]}
    manifest_path(target).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return path


def selection_records(selection: Sequence[Candidate]) -> list[dict[str, Any]]:
    """A selection as the manifest stores it."""
    return [{"augmenter": name, "rate": rate} for name, rate in selection]


def written_manifest(target: Target = "context") -> dict[str, Any] | None:
    """The manifest of the `target` pool on disk, as a dict with the rule as lists (JSON has no tuples); None where
    there is no pool, or no readable manifest beside it."""
    if not augmented_pairs_path(target).is_file() or not manifest_path(target).is_file():
        return None
    try:
        manifest = json.loads(manifest_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    allowed = manifest.get("rule", {}).get("allowed")
    if isinstance(allowed, list):
        manifest["rule"]["allowed"] = tuple(allowed)
    return manifest


def target_texts(pairs: Sequence[Pair], target: Target) -> list[str]:
    """The rewritable part of each pair as one text (what the LM of the data is fit on, and what is scored)."""
    return [rewritten_text(pair, target) for pair in pairs]


def make_pool(
    profile: Profile, target: Target = "context", rates: Sequence[float] = (0.05, 0.1, 0.2, 0.3),
    rule: SelectionRule | None = None, seed: int = 0,
) -> tuple[list[Pair], list[Candidate]]:
    """Measure every candidate on the profile's training pairs, select by `rule`, write the pool: the whole of
    notebook 02's hand-off in one call (what `ensure_augmented_pairs` runs when the pool is missing)."""
    from heygen_lib.data import prepare_pairs
    from heygen_lib.language_models import NGramLM

    prepared = prepare_pairs("support", seed=seed)
    train = prepared.train
    sources = train[: profile.augment.pairs]
    lm = NGramLM(order=3).fit(lm_texts(train, sources, target))
    rule = rule or SelectionRule.for_target(target)
    augmenters = candidate_augmenters(profile.augment.translation)
    augmenters = {name: make for name, make in augmenters.items() if rule.allowed is None or name in rule.allowed}
    rows, _ = measure(sources, augmenters, candidates(augmenters, rates), SentenceEncoder(), lm, target, seed)
    selection = rule.select(rows)
    made = apply_selection(train, augmenters, selection, target, seed)
    pool, _ = build_pool(made, selection, train, target_texts(train, target), target)
    write_pool(pool, target, rule, selection, rows, made_by="heygen_lib.augment.selection.make_pool")
    return pool, selection
