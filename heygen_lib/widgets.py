"""Widget panels for the notebooks (ipywidgets 7 and 8). They only gather values and call the library.

Every panel runs once with its defaults when it is built, so a headless run shows what a reader would see first.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as w
from IPython.display import display

from heygen_lib import plots
from heygen_lib.augment.base import TextAugmenter, augment_pairs, originals_of
from heygen_lib.data import Dialogue, Pair, build_pairs, format_pair, split_dialogues
from heygen_lib.data.stats import response_lengths


def run_panel(controls: Sequence[w.Widget], action: Callable[[w.Output], None], title: str) -> w.VBox:
    """Controls, a Run button and an Output; pressing Run (or building the panel) calls `action(output)`."""
    button = w.Button(description="Run", button_style="primary", icon="play")
    output = w.Output()

    def on_click(_=None) -> None:
        with output:
            output.clear_output(wait=True)
            action(output)

    button.on_click(on_click)
    on_click()
    return w.VBox([w.HTML(f"<b>{title}</b>"), *controls, button, output])


def pairs_explorer(corpora: Mapping[str, Sequence[Dialogue]], seed: int = 0) -> w.VBox:
    """Choose a corpus and a context window; see the split sizes, response lengths and a few pairs."""
    corpus = w.Dropdown(options=list(corpora), description="corpus")
    window = w.IntSlider(value=3, min=1, max=8, description="context turns")
    examples = w.IntSlider(value=2, min=0, max=6, description="examples")

    def action(_: w.Output) -> None:
        splits = split_dialogues(corpora[corpus.value], seed=seed)
        pairs = {name: build_pairs(part, context_turns=window.value) for name, part in vars(splits).items()}
        sizes = ", ".join(f"{name} {len(ps):,} pairs ({len(getattr(splits, name))} dialogues)" for name, ps in pairs.items())
        print(f"{corpus.value}, context of up to {window.value} turns: {sizes}")
        lengths = {name: response_lengths(ps) for name, ps in pairs.items()}
        display(plots.length_histograms(lengths, what=f"{corpus.value} response length", by="split"))
        for pair in pairs["train"][: examples.value]:
            print("\n" + format_pair(pair))

    return run_panel([corpus, window, examples], action, "Explore (context, response) pairs")


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
