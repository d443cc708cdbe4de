"""Notebook 02's panels: the selection rule's (move its limits, see what it selects, write that pool) and a preview
of any augmenter on random training pairs. They build on `heygen_lib.widgets` (a lower layer, which imports nothing
from augmentation)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

import ipywidgets as w

from heygen_lib.augment.base import Target, TextAugmenter, augment_pairs, originals_of
from heygen_lib.augment.selection import SelectionRule, rule_pool, selection_records, written_manifest
from heygen_lib.data.pairs import Pair, format_pair
from heygen_lib.widgets import WIDE_LABELS, run_panel


def selection_panel(
    rows: Sequence[Mapping[str, Any]], train: Sequence[Pair],
    augmenters: Mapping[str, Callable[[float | None], TextAugmenter]], target: Target = "context", seed: int = 0,
    rule: SelectionRule | None = None,
) -> w.VBox:
    """Sliders for the rule's limits; Run selects from the measured `rows` and rewrites the `target` pool with
    exactly that selection (so notebook 05 trains on what you chose); a pool already written by the same rule with
    the same selection is left as it is. The sliders change only the two limits: the rule's coverage and its allowed
    augmenters stay as given."""
    rule = rule or SelectionRule.for_target(target)
    similarity = w.FloatSlider(value=rule.min_similarity, min=0.5, max=1.0, step=0.01, description="min similarity",
                               style=WIDE_LABELS)
    perplexity = w.FloatSlider(value=rule.max_perplexity_ratio, min=1.0, max=5.0, step=0.1,
                               description="max perplexity ratio", style=WIDE_LABELS)

    def action(_: w.Output) -> None:
        chosen = replace(rule, min_similarity=similarity.value, max_perplexity_ratio=perplexity.value)
        selection = chosen.select(rows)
        picked = ", ".join(name if rate is None else f"{name} at {rate}" for name, rate in selection) or "nothing"
        print(f"rule: {chosen.describe()}\nselected: {picked}")
        written = written_manifest(target)
        if written and written["rule"] == asdict(chosen) and written["selected"] == selection_records(selection):
            print(f"the {target} pool already holds this selection ({written['pairs']} pairs): nothing to rewrite")
            return
        pool = rule_pool(train, augmenters, chosen, rows, target, seed, made_by="notebook 02 (selection panel)")
        print(f"wrote {len(pool.pairs)} augmented {target} pairs")

    return run_panel([similarity, perplexity], action, f"Selection rule for the {target} pool")


def augmentation_preview(
    pairs: Sequence[Pair], augmenters: Mapping[str, Callable[[float], TextAugmenter]], seed: int = 0
) -> w.VBox:
    """Pick an augmenter, a rate and what to rewrite; each Run draws new random pairs and shows them before and after.

    `augmenters` maps a name to a function from rate to augmenter (augmenters without a rate ignore it).
    """
    name = w.Dropdown(options=list(augmenters), description="augmenter")
    rate = w.FloatSlider(value=0.1, min=0.05, max=0.5, step=0.05, description="rate")
    target = w.Dropdown(options=["response", "context", "both"], description="rewrite")
    examples = w.IntSlider(value=2, min=1, max=6, description="examples")
    presses = itertools.count()

    def action(_: w.Output) -> None:
        draw = seed + next(presses)
        sample = random.Random(draw).sample(list(pairs), min(examples.value, len(pairs)))
        new, report = augment_pairs(sample, augmenters[name.value](rate.value), target=target.value, seed=draw)
        print(report)
        for pair, original in zip(new, originals_of(new, sample)):
            print(f"\nbefore {format_pair(original)}\nafter  {format_pair(pair)}")

    return run_panel([name, rate, target, examples], action, "Preview an augmenter on random training pairs")
