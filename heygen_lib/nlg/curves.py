"""Loss curves of a pretraining or fine-tuning run: training and dev loss against the optimizer step, with the kept
checkpoint and an early stop marked, so the figure shows where the run chose to end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure


def loss_curves(
    history: Sequence[Mapping[str, object]], title: str = "", best_step: int | None = None,
    stopped_at: int | None = None, dev_label: str = "dev loss",
) -> Figure:
    """One panel: the training loss records and the dev-loss evaluations (``phase`` "train" and "dev") in nats per
    token against the optimizer step; a dashed line at the kept checkpoint, a dotted one where early stopping ended
    the run."""
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.subplots()
    for phase, label, style in (("train", "training loss", "-"), ("dev", dev_label, "o-")):
        rows = [r for r in history if r["phase"] == phase]
        if rows:
            ax.plot([float(r["step"]) for r in rows], [float(r["loss"]) for r in rows], style, label=label,
                    markersize=4)
    if best_step is not None:
        ax.axvline(best_step, color="C2", linestyle="--", label=f"kept checkpoint (step {best_step})")
    if stopped_at is not None:
        ax.axvline(stopped_at, color="C3", linestyle=":", label=f"early stop (step {stopped_at})")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats per token)")
    ax.ticklabel_format(useOffset=False)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
