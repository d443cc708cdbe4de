"""Figures of notebook 06. Each function takes plain data and returns a matplotlib Figure; none draws to screen."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from heygen_lib.chat.chatbot import Reply


def latency_figure(replies: Sequence[Reply], labels: Sequence[str] | None = None) -> Figure:
    """Per reply: seconds to generate (labelled with the tokens it wrote) and tokens per second."""
    labels = list(labels) if labels is not None else [str(i + 1) for i in range(len(replies))]
    if len(labels) != len(replies):
        raise ValueError(f"{len(labels)} labels for {len(replies)} replies")
    fig = Figure(figsize=(8, 3), layout="constrained")
    latency, speed = fig.subplots(1, 2)
    bars = latency.bar(labels, [r.seconds for r in replies], color="#4c72b0")
    latency.bar_label(bars, [f"{r.new_tokens} tok" for r in replies], fontsize=8)
    latency.set(xlabel="reply", ylabel="seconds", title="Latency per reply")
    latency.margins(y=0.15)  # room for the labels above the bars
    speed.bar(labels, [r.tokens_per_s for r in replies], color="#55a868")
    speed.set(xlabel="reply", ylabel="tokens / s", title="Generation speed")
    return fig


def retraining_figure(history: Sequence[dict], kept_step: int) -> Figure:
    """A retraining round: training loss and selection (dev) loss against the optimizer step, with the starting
    point (step 0) and the kept step marked, so the choice can be checked by eye."""
    fig = Figure(figsize=(6.5, 3.2), layout="constrained")
    ax = fig.subplots()
    train = [r for r in history if r["phase"] == "train"]
    dev = [r for r in history if r["phase"] == "dev"]
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], ".-", color="#4c72b0", label="training loss")
    ax.plot([r["step"] for r in dev], [r["loss"] for r in dev], "o-", color="#dd8452", label="selection loss")
    start = next(r["loss"] for r in dev if r["step"] == 0)
    ax.axhline(start, color="#999", lw=0.8, ls="--", label="selection loss at step 0")
    kept = next(r["loss"] for r in dev if r["step"] == kept_step)
    ax.plot([kept_step], [kept], "*", ms=14, color="#c44e52", label=f"kept: step {kept_step}")
    ax.set(xlabel="optimizer step", ylabel="loss (nats per response token)", title="Retraining round")
    ax.ticklabel_format(useOffset=False)
    ax.legend(fontsize=8)
    return fig
