"""Figures for notebook 04's LM dialogue GAN: training curves over seeds, discriminator reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure


def curves_over_seeds(histories: Mapping[str, Sequence[Sequence[Mapping[str, object]]]],
                      metrics: Sequence[tuple[str, str]]) -> Figure:
    """One panel per (key, axis label) in `metrics`; one line per run: `histories` maps a run kind ("adversarial",
    "control") to its seeds' records."""
    fig = Figure(figsize=(4.2 * len(metrics), 3.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    colours = {"adversarial": "tab:red", "teacher forcing only": "tab:blue"}
    for ax, (key, label) in zip(axes, metrics):
        for kind, runs in histories.items():
            for i, records in enumerate(runs):
                values = [(int(r["step"]), float(r[key])) for r in records if key in r]
                if values:
                    ax.plot(*zip(*values), color=colours.get(kind), alpha=0.8, linewidth=1.2,
                            label=kind if i == 0 else None)
        ax.set(xlabel="adversarial step (policy updates)", ylabel=label)
        ax.ticklabel_format(useOffset=False)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8)
    return fig


def accuracy_by_kind_figure(reports: Mapping[str, Mapping[str, float]], title: str) -> Figure:
    """Grouped bars: accuracy per kind of pair (real, generated, mismatched, reversed) for each report."""
    kinds = ["real", "generated", "mismatched", "reversed", "balanced"]
    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(reports)
    for j, (name, report) in enumerate(reports.items()):
        xs = [i + (j - (len(reports) - 1) / 2) * width for i in range(len(kinds))]
        ax.bar(xs, [report.get(k, float("nan")) for k in kinds], width, label=name)
    ax.axhline(0.5, color="black", linewidth=0.8, linestyle="--")
    ax.annotate("chance", (len(kinds) - 0.6, 0.51), fontsize=8)
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set(ylabel="accuracy (share judged correctly)", xlabel="kind of pair", ylim=(0, 1.05), title=title)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    return fig
