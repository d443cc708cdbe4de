"""Notebook 02's readings and lesson checks, computed from its tables, so what the page says matches what it shows.

The lessons, each against a bound a lost lesson would cross:

* protected spans: the pools' sources hold many spans (the finder finds them), and no rewrite breaks one;
* word order: the realism measure sees it and the similarity hardly does. A random swap moves words without losing
  any, a random deletion at the same rate loses them; a measure that sees order charges the swap far more than the
  deletion, relative to what the similarity charges;
* negatives: word reversal and swapped roles read far from the data, sentence reversal close to it, so the rule's
  numbers (not a hand-written list) keep the first two out of the pools.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from heygen_lib.augment.filters import rewritten_text
from heygen_lib.augment.protect import protected_spans
from heygen_lib.augment.selection import Pool, count_broken_spans
from heygen_lib.data.pairs import Pair
from heygen_lib.lessons import Lesson

# Bounds of the lessons (see the module docstring), each with what crossing it would mean.
MIN_SPANS_PER_PAIR = 0.5  # protected spans per pair in a pool's sources; none found would be 0
MIN_REVERSAL_RATIO = 3.0  # word reversal's perplexity ratio: 1 would mean word order goes unseen
MIN_SWAP_RATIO = 2.0  # roles swapped, under an LM of agent turns: 1 would mean the roles read alike
MAX_SENTENCE_RATIO = 1.5  # sentence reversal's perplexity ratio: reordered sentences still read like the data
MIN_ORDER_SENSITIVITY = 2.0  # swap-to-deletion cost, perplexity over similarity: 1 would mean both see order alike


def order_costs(rows: Sequence[Mapping[str, Any]], rate: float) -> dict[str, float]:
    """What a random swap costs against a random deletion at the same `rate`, under each measure: the similarity's
    drop below 1 and the perplexity ratio's rise above 1, swap's divided by deletion's."""
    by_key = {(row["augmenter"], row["rate"]): row for row in rows}
    swap, deletion = by_key["random-swap", rate], by_key["random-deletion", rate]
    similarity = _ratio(1 - swap["similarity to source"], 1 - deletion["similarity to source"])
    perplexity = _ratio(swap["perplexity vs source"] - 1, deletion["perplexity vs source"] - 1)
    return {"rate": rate, "similarity": similarity, "perplexity": perplexity, "sensitivity": _ratio(perplexity, similarity)}


def _ratio(part: float, whole: float) -> float:
    """part / whole, NaN where whole is 0 (a measure that moved for neither edit has no verdict, and a NaN never
    passes a lesson check)."""
    return part / whole if whole else math.nan


def order_reading(rows: Sequence[Mapping[str, Any]], rate: float) -> str:
    """The word-order lesson in one paragraph, from the table's numbers."""
    costs = order_costs(rows, rate)
    by_name = {row["augmenter"]: row for row in rows if row["rate"] is None}
    lowest = min(rows, key=lambda row: row["similarity to source"])
    reversal = by_name.get("word-reversal")
    said = (f"At rate {rate}, a random swap (words moved, none lost) costs the similarity "
            f"**{costs['similarity']:.2f}x** what a random deletion (words lost) costs it, and the perplexity ratio "
            f"**{costs['perplexity']:.1f}x**: relative to the similarity, the trigram LM charges word order "
            f"**{costs['sensitivity']:.1f}x** as much.")
    if reversal is not None:
        said += (f" The similarity is not blind to order: word reversal, every word moved, has a similarity of "
                 f"{reversal['similarity to source']:.3f}" + (" (the lowest row)" if lowest is reversal else "")
                 + f", but its perplexity ratio of {reversal['perplexity vs source']:.2f} sets it much further "
                 "from everything else.")
    return said


def spans_per_pair(pool: Pool, originals: Sequence[Pair]) -> float:
    """Protected spans in the rewritten part of the pool's source pairs, per pool pair."""
    by_key = {f"{p.source}:{p.dialogue_id}:{p.turn_index}": p for p in originals}
    sources = [by_key[pair.meta["provenance"]["from"]] for pair in pool.pairs]
    found = sum(len(protected_spans(rewritten_text(source, pool.target))) for source in sources)
    return found / len(pool.pairs) if pool.pairs else 0.0


def augmentation_lessons(
    pools: Mapping[str, Pool], rows: Sequence[Mapping[str, Any]], train: Sequence[Pair], agent_ratio: float,
    rate: float,
) -> list[Lesson]:
    """Notebook 02's lesson checks, from its pools, its context table and the swapped roles' ratio."""
    ratios = {row["augmenter"]: row["perplexity vs source"] for row in rows if row["rate"] is None}
    checks = []
    for target, pool in pools.items():
        checks += [
            Lesson(f"{target} pool: protected spans per pair in its sources", spans_per_pair(pool, train), ">=",
                   MIN_SPANS_PER_PAIR, "the finder finds the facts the rewrites must keep"),
            Lesson(f"{target} pool: protected spans broken", count_broken_spans(pool.pairs, train, target), "==", 0,
                   "every augmenter keeps each span byte for byte"),
        ]
    return checks + [
        Lesson("word reversal: perplexity ratio", ratios["word-reversal"], ">=", MIN_REVERSAL_RATIO,
               "the realism measure sees word order"),
        Lesson(f"swap vs deletion at {rate}: perplexity's cost ratio over similarity's",
               order_costs(rows, rate)["sensitivity"], ">=", MIN_ORDER_SENSITIVITY,
               "the similarity hardly sees word order, the perplexity ratio does"),
        Lesson("swapped roles: perplexity ratio under the agent LM", agent_ratio, ">=", MIN_SWAP_RATIO,
               "customer talk does not read like an agent's"),
        Lesson("sentence reversal: perplexity ratio", ratios["sentence-reversal"], "<=", MAX_SENTENCE_RATIO,
               "reordered sentences still read like the data"),
    ]


def synonym_reading(rates: Sequence[Mapping[str, Any]]) -> str:
    """The hand-labelled meaning-change rates of EDA's synonym lookup and the kit's, compared inside their noise."""
    eda, kit = rates
    overlap = kit["95% high"] >= eda["95% low"] and eda["95% high"] >= kit["95% low"]
    verdict = (f"the 95% intervals overlap, so at {kit['judged']} and {eda['judged']} judgements this is no clear "
               "difference" if overlap else "the 95% intervals do not overlap")
    return (f"hand-labelled sample (data/synonym_judgements.jsonl): {kit['rate']:.0%} of the kit's replacements change "
            f"the meaning against {eda['rate']:.0%} of EDA's; {verdict}")


def span_reading(pool: Pool, originals: Sequence[Pair]) -> str:
    """The two span numbers the lesson checks read, for one pool, as the line printed under it."""
    return (f"  protected spans: {spans_per_pair(pool, originals):.2f} per pair in its sources, "
            f"{count_broken_spans(pool.pairs, originals, pool.target)} broken in its rewrites")
