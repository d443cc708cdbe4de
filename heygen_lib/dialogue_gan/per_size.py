"""The dialogue GAN run on smaller real sets: the GAN data notebook 05's learning curve mixes in at each size.

At n real pairs the GAN data must come from a GAN that saw only those n pairs (its MLE model, its discriminator, its
adversarial run and the contexts it answers): the reviewed set of notebook 04, made from every training pair, would
carry the other pairs' content into the small sizes. So the whole pipeline (`lm_pipeline.reviewed_export`) runs
again on each smaller set. Below some size its discriminator cannot learn to tell real from generated on held-out
pairs, and then that size has no GAN data at all: the reason is reported, not hidden.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from heygen_lib.data import load_pairs
from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan.feature_discriminator import DiscriminatorAtChance
from heygen_lib.dialogue_gan.lm_pipeline import GanPaths, reviewed_export
from heygen_lib.profile import DialogueGanSizes

RECIPE = "per_size_recipe.json"


def _recipe(base: str | Path, subset: Sequence[Pair], sizes: DialogueGanSizes, seed: int) -> dict:
    pairs = json.dumps([[p.dialogue_id, p.turn_index] for p in subset])
    return {"base": str(base), "sizes": repr(sizes), "seed": seed, "pairs": hashlib.sha256(pairs.encode()).hexdigest()}


def gan_pairs_by_size(base: str | Path, subsets: Mapping[int, Sequence[Pair]], prepared, sizes: DialogueGanSizes,
                      folder: str | Path, whole_set: Sequence[Pair] | None = None,
                      seed: int = 0) -> tuple[dict[int, list[Pair]], dict[int, str]]:
    """(size -> the accepted GAN pairs made from that size's pairs alone, size -> how they were made or why there
    are none). A size that is the whole training split takes `whole_set` (notebook 04's reviewed pairs) when given.
    Each size's run is kept under ``folder/<size>`` and reused while its recipe (base, sizes, seed, the pairs) holds."""
    made: dict[int, list[Pair]] = {}
    notes: dict[int, str] = {}
    for n, subset in sorted(subsets.items()):
        if whole_set is not None and len(subset) == len(prepared.train):
            made[n], notes[n] = list(whole_set), "notebook 04's reviewed set (its GAN saw exactly these pairs)"
            continue
        paths = GanPaths.under(Path(folder) / str(n))
        recipe_file = paths.reviewed.parent / RECIPE
        recipe = _recipe(base, subset, sizes, seed)
        cached = json.loads(recipe_file.read_text(encoding="utf-8")) if recipe_file.is_file() else {}
        if {k: v for k, v in cached.items() if k != "note"} == recipe:
            made[n] = load_pairs(paths.reviewed, allow_empty=True) if paths.reviewed.is_file() else []
            notes[n] = cached["note"]
            continue
        try:
            made[n] = reviewed_export(sizes, base, subset, prepared, paths, seed)
            notes[n] = f"a GAN trained on these {n} pairs: {len(made[n])} accepted by the review rule"
        except DiscriminatorAtChance as err:
            made[n], notes[n] = [], f"no GAN data: {str(err).split(', so')[0]}"
        paths.reviewed.parent.mkdir(parents=True, exist_ok=True)
        recipe_file.write_text(json.dumps({**recipe, "note": notes[n]}), encoding="utf-8")
    return made, notes
