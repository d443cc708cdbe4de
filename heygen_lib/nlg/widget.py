"""A widget panel for notebook 05: choose hyperparameters and a data mix, fine-tune a fresh copy of the base model
with a live loss plot, and compare dev perplexity before and after. It only gathers values and calls the library."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import ipywidgets as w
from IPython.display import display

from heygen_lib import plots
from heygen_lib.data import Pair
from heygen_lib.nlg.evaluate import perplexity
from heygen_lib.nlg.finetune import FineTuneConfig, fine_tune
from heygen_lib.widgets import LivePlot, run_panel


def fine_tune_panel(
    load_base: Callable[[], tuple[object, object]], mixes: Mapping[str, Sequence[Pair]], dev: Sequence[Pair],
    config: FineTuneConfig, output_dir: str | Path, blocks: int, epochs: float | None = None,
) -> w.VBox:
    """Optimizer, learning rate, epochs, freezing and data mix; Run fine-tunes ``load_base()`` (a fresh model and
    tokenizer each time) from `config` with those values changed. `blocks`: the model's transformer blocks (the
    top-k slider's range); `epochs`: the panel's starting value (default: the config's)."""
    optimizer = w.Dropdown(options=["adamw", "sgd"], value=config.optimizer, description="optimizer")
    learning_rate = w.FloatLogSlider(value=config.learning_rate, base=10, min=-6, max=-0.5, description="lr",
                                     readout_format=".1e")
    n_epochs = w.FloatSlider(value=epochs or config.epochs, min=0.25, max=10, step=0.25, description="epochs")
    freeze = w.Dropdown(options=["none", "top-k", "head"], value=config.freeze, description="train")
    top_k = w.IntSlider(value=min(config.top_k, blocks), min=1, max=blocks, description="top k blocks")
    mix = w.Dropdown(options=list(mixes), description="data")

    def action(_: w.Output) -> None:
        model, tokenizer = load_base()
        run_config = replace(config, optimizer=optimizer.value, learning_rate=learning_rate.value,
                             epochs=n_epochs.value, max_steps=None, freeze=freeze.value, top_k=top_k.value)
        before = perplexity(model, tokenizer, dev, run_config.max_length)
        live = LivePlot([("train", "loss"), ("dev", "loss")], every=4, title=f"{mix.value}, {optimizer.value}")
        display(live.output)
        result = fine_tune(model, tokenizer, mixes[mix.value], dev, run_config, output_dir, callbacks=[live],
                           progress=False)
        live.output.clear_output()
        display(plots.training_curves(result.history, [("train", "loss"), ("dev", "loss")], live.title))
        after = perplexity(model, tokenizer, dev, run_config.max_length)
        print(f"{len(mixes[mix.value])} pairs, {result.trainable_parameters:,} trainable parameters, {result.steps} "
              f"steps{' (stopped early)' if result.stopped_early else ''} in {result.seconds:.0f} s; "
              f"dev perplexity {before:.1f} -> {after:.1f} (best checkpoint: step {result.best_step})")

    controls = [optimizer, learning_rate, n_epochs, freeze, top_k, mix]
    return run_panel(controls, action, "Fine-tune a fresh copy of the base model with your settings")
