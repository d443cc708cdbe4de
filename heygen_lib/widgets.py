"""Widget panels for the notebooks (ipywidgets 7 and 8). They only gather values and call the library.

Every panel runs once with its defaults when it is built, so a headless run shows what a reader would see first.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as w
from IPython.display import display

from heygen_lib import plots
from heygen_lib.data import Dialogue, build_pairs, format_pair, split_dialogues
from heygen_lib.data.stats import response_lengths


def status_html(text: str, error: bool = False) -> str:
    """A widget's status line: `text`, escaped, in red when it reports an error."""
    return f"<span style='color: {'#b00020' if error else '#555'}'>{html.escape(text)}</span>"


def error_text(err: BaseException) -> str:
    """An error in one line for a status line: its type and the first line of its message."""
    message = str(err).strip().splitlines()
    return f"{type(err).__name__}: {message[0]}" if message else type(err).__name__


def errors_said_in(status: w.HTML, handler: Callable) -> Callable:
    """`handler` (for ``on_click``, ``on_submit``, ``observe``) saying any error it raises in the `status` line:
    ipywidgets sends a callback's error to its log, which nobody sees."""
    def handle(*args) -> None:
        try:
            handler(*args)
        except Exception as err:
            status.value = status_html(error_text(err), error=True)
    return handle


def run_panel(
    controls: Sequence[w.Widget], action: Callable[[w.Output], None], title: str, run_now: bool = True
) -> w.VBox:
    """Controls, a Run button, a status line and an Output; pressing Run (or building the panel, unless `run_now`
    is False) calls `action(output)`. The box's `run()` does what pressing Run does. An error in `action` is said in
    the status line (box.status): a click's error would otherwise reach only the widget log, outside a kernel."""
    button = w.Button(description="Run", button_style="primary", icon="play")
    status = w.HTML()
    output = w.Output()

    def on_click(_=None) -> None:
        status.value = ""
        with output:
            output.clear_output(wait=True)
            try:
                action(output)
            except Exception as err:
                status.value = status_html(error_text(err), error=True)
                raise  # in a kernel the Output shows the traceback below the status line

    button.on_click(on_click)
    box = w.VBox([w.HTML(f"<b>{title}</b>"), *controls, button, status, output])
    box.run, box.status = on_click, status
    if run_now:
        on_click()
    return box


# Labels at their natural width, for every panel of the kit: the default cuts them ("context tu...", "temperat...");
# works on ipywidgets 7 and 8.
WIDE_LABELS = {"description_width": "initial"}
# Whose turns are responses, per corpus, when the explorer opens it: the same choice notebook 01's section 4 makes.
RESPONSE_SPEAKERS = {"support": "agent"}


def pairs_explorer(
    corpora: Mapping[str, Sequence[Dialogue]], seed: int = 0, context_turns: int = 3,
    response_speakers: Mapping[str, str] = RESPONSE_SPEAKERS,
) -> w.VBox:
    """Choose a corpus, a context window and whose turns are responses; see the split sizes, response lengths and a
    few pairs. The returned box's `pairs` holds the last run's pairs per split."""
    corpus = w.Dropdown(options=list(corpora), description="corpus", style=WIDE_LABELS)
    window = w.IntSlider(value=context_turns, min=1, max=8, description="context turns", style=WIDE_LABELS)
    speaker = w.Dropdown(description="responses by", style=WIDE_LABELS)
    examples = w.IntSlider(value=2, min=0, max=6, description="examples", style=WIDE_LABELS)

    def offer_speakers(_=None) -> None:
        found = dict.fromkeys(t.speaker for d in corpora[corpus.value] for t in d.turns)
        speaker.options = [("anyone", ""), *((name, name) for name in found)]
        speaker.value = response_speakers.get(corpus.value, "")

    offer_speakers()
    corpus.observe(offer_speakers, names="value")

    def action(_: w.Output) -> None:
        splits = split_dialogues(corpora[corpus.value], seed=seed)
        box.pairs = {name: build_pairs(part, context_turns=window.value, response_speaker=speaker.value or None)
                     for name, part in vars(splits).items()}
        sizes = ", ".join(f"{name} {len(ps):,} pairs ({len(getattr(splits, name)):,} dialogues)" for name, ps in box.pairs.items())
        print(f"{corpus.value}, context of up to {window.value} turns, responses by {speaker.value or 'anyone'}: {sizes}")
        lengths = {name: response_lengths(ps) for name, ps in box.pairs.items()}
        display(plots.length_histograms(lengths, what=f"{corpus.value} response length", by="split"))
        for pair in box.pairs["train"][: examples.value]:
            print("\n" + format_pair(pair))

    box = run_panel([corpus, window, speaker, examples], action, "Explore (context, response) pairs", run_now=False)
    box.run()
    return box


class LivePlot:
    """A trainer callback that redraws `curves` of the history in an Output widget every `every` records."""

    def __init__(self, curves: Sequence[tuple[str, str]], every: int = 5, title: str = ""):
        self.curves, self.every, self.title = curves, every, title
        self.records: list[dict] = []
        self.output = w.Output()

    def __call__(self, record: dict) -> None:
        self.records.append(record)
        if len(self.records) % self.every == 0:
            self.redraw()

    def redraw(self) -> None:
        with self.output:
            self.output.clear_output(wait=True)
            display(plots.training_curves(self.records, self.curves, self.title))


def gan_panel(
    make_trainer: Callable[..., object],
    metrics: Callable[..., dict[str, float]],
    steps: int = 20,
    eval_every: int = 5,
    curves: Sequence[tuple[str, str]] = (("eval", "nll_oracle"), ("eval", "nll_test"), ("eval", "distinct-3")),
) -> w.VBox:
    """Choose a method, loss, learning rate, rollouts and inverse temperature; Run trains a fresh GAN from
    `make_trainer(TrainConfig)` (e.g. one that starts from MLE weights) with live curves."""
    from heygen_lib.gan.losses import LOSSES
    from heygen_lib.gan.training import TrainConfig, train_adversarial

    method = w.Dropdown(options=["gumbel", "seqgan"], description="method")
    loss = w.Dropdown(options=sorted(LOSSES), value="rsgan", description="loss (gumbel)")
    g_lr = w.FloatLogSlider(value=1e-4, base=10, min=-5, max=-1, description="generator lr")
    rollouts = w.IntSlider(value=4, min=1, max=32, description="rollouts (seqgan)")
    beta_max = w.FloatLogSlider(value=100.0, base=10, min=0, max=3, description="beta max")
    n_steps = w.IntSlider(value=steps, min=1, max=2000, description="steps")

    def action(_: w.Output) -> None:
        config = TrainConfig(method=method.value, loss=loss.value, g_lr=g_lr.value, rollouts=rollouts.value,
                             beta_max=beta_max.value, anneal_steps=n_steps.value)
        trainer = make_trainer(config)
        live = LivePlot(curves, every=1, title=f"{method.value} ({loss.value if method.value == 'gumbel' else 'policy gradient'})")
        trainer.callback = live
        display(live.output)
        trainer.evaluate(metrics)
        train_adversarial(trainer, n_steps.value, metrics, eval_every=eval_every)
        final = trainer.history[-1]
        print("final:", {k: round(v, 3) for k, v in final.items() if isinstance(v, float)})

    return run_panel([method, loss, g_lr, rollouts, beta_max, n_steps], action, "Train a GAN from the MLE weights")
