"""Widget panels for notebook 04 (ipywidgets 7 and 8), built on `heygen_lib.widgets.run_panel`: they gather values
and call the library, and run once with their defaults when built so a headless run shows their output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import ipywidgets as w
from IPython.display import Markdown, display

from heygen_lib.dialogue_gan.data import EncodedPairs
from heygen_lib.dialogue_gan.evaluation import side_by_side
from heygen_lib.dialogue_gan.export import ExportResult
from heygen_lib.dialogue_gan.training import DialogueGANConfig, DialogueGANTrainer, train_adversarial
from heygen_lib.gan.text_data import Vocabulary
from heygen_lib.tables import markdown_table
from heygen_lib.widgets import LivePlot, run_panel


def adversarial_panel(
    make_trainer: Callable[[DialogueGANConfig], DialogueGANTrainer],
    held_out: EncodedPairs,
    vocab: Vocabulary,
    config: DialogueGANConfig,
    steps: int = 20,
) -> w.VBox:
    """Choose the reward / teacher-forcing mix, the generator's learning rate and the number of steps; Run trains a
    fresh trainer from `make_trainer(config)` (e.g. MLE weights and the pre-trained discriminator) with live curves,
    then shows the reward trend and three held-out samples."""
    reward = w.FloatSlider(value=config.reward_weight, min=0.0, max=2.0, step=0.1, description="reward weight")
    teacher = w.FloatSlider(value=config.teacher_forcing, min=0.0, max=2.0, step=0.1, description="teacher forcing")
    g_lr = w.FloatLogSlider(value=config.g_lr, base=10, min=-5, max=-2, description="generator lr")
    n_steps = w.IntSlider(value=steps, min=1, max=max(200, 4 * steps), description="steps")

    def action(_: w.Output) -> None:
        trainer = make_trainer(replace(config, reward_weight=reward.value, teacher_forcing=teacher.value,
                                       g_lr=g_lr.value))
        curves = [("adversarial", "reward"), ("adversarial", "teacher_nll"), ("discriminator", "acc_generated")]
        title = f"reward x{reward.value:g}, teacher forcing x{teacher.value:g}"
        live = LivePlot(curves, every=max(1, n_steps.value // 5), title=title)
        trainer.callback = live
        display(live.output)
        records = train_adversarial(trainer, n_steps.value)
        live.redraw()
        k = max(1, len(records) // 4)
        first, last = (sum(float(r["reward"]) for r in part) / len(part) for part in (records[:k], records[-k:]))
        print(f"mean reward over the first {k} steps {first:.3f}, over the last {k} {last:.3f}")
        display(Markdown(markdown_table(side_by_side({"generator": trainer.generator}, held_out, vocab, n=3,
                                                     temperature=config.temperature))))

    return run_panel([reward, teacher, g_lr, n_steps], action, "Adversarial training from the MLE start")


def export_panel(run_export: Callable[..., ExportResult], n: int, keep: int, temperature: float = 1.0) -> w.VBox:
    """Choose how many candidates to generate, how many to keep, a minimum discriminator score and the sampling
    temperature; Run calls ``run_export(n=, keep=, min_score=, temperature=)`` (which writes the candidates file)
    and shows the step-by-step report and the best candidates."""
    count = w.IntSlider(value=n, min=10, max=max(4 * n, 100), description="candidates")
    kept = w.IntSlider(value=keep, min=1, max=max(4 * n, 100), description="keep best")
    min_score = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="min P(real)")
    heat = w.FloatSlider(value=temperature, min=0.3, max=1.5, step=0.1, description="temperature")

    def action(_: w.Output) -> None:
        try:
            result = run_export(n=count.value, keep=kept.value, min_score=min_score.value, temperature=heat.value)
        except ValueError as err:  # nothing survived: say why, keep the panel usable
            print(err)
            return
        print(result.report, f"\nwritten to {result.path}")
        rows = [{"context (last turn)": p.context[-1].text, "generated response": p.response.text,
                 "P(real)": p.meta["provenance"]["scores"]["discriminator"]} for p in result.candidates[:5]]
        display(Markdown(markdown_table(rows)))

    return run_panel([count, kept, min_score, heat], action, "Export synthetic pairs")
