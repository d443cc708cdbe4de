"""Figures the notebooks show. Each function takes plain data and returns a matplotlib Figure; none draws to screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from heygen_lib.data.cleaning import CleaningReport


def length_histograms(
    lengths: Mapping[str, Sequence[int]], what: str = "turn length", by: str = "corpus", unit: str = "tokens"
) -> Figure:
    """One density histogram per group (corpus, split...) on shared bins, clipped at the 99th percentile."""
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    values = [v for vs in lengths.values() for v in vs]
    top = max(2, int(np.percentile(values, 99))) if values else 2
    bins = np.arange(0, top + 2) if top <= 40 else np.linspace(0, top + 1, 41)
    for source, vs in lengths.items():
        vs = np.asarray(vs)
        ax.hist(np.minimum(vs, top + 1), bins=bins, density=True, histtype="step", linewidth=1.6,
                label=f"{source} (median {np.median(vs):.0f}, n={len(vs):,})")
    ax.set(xlabel=f"{what} ({unit}; last bin holds the top 1%)", ylabel="share", title=f"{what.capitalize()} by {by}")
    ax.legend(frameon=False)
    return fig


def vocabulary_growth(curves: Mapping[str, tuple[Sequence[int], Sequence[int]]]) -> Figure:
    """Distinct words against words read (Heaps' law), log-log, with the fitted exponent per corpus."""
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    for source, (tokens, types) in curves.items():
        slope = np.polyfit(np.log(tokens), np.log(types), 1)[0] if len(tokens) > 1 else float("nan")
        ax.loglog(tokens, types, marker=".", label=f"{source}: {types[-1]:,} types in {tokens[-1]:,} tokens, slope {slope:.2f}")
    ax.set(xlabel="tokens read", ylabel="distinct tokens (vocabulary)", title="Vocabulary size vs corpus size")
    ax.legend(frameon=False, fontsize=8)
    return fig


def top_ngrams(by_source: Mapping[str, Sequence[tuple[str, int]]], n: int) -> Figure:
    """Horizontal bars of the most frequent n-grams, one panel per corpus."""
    fig = Figure(figsize=(4 * len(by_source), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(by_source)))
    for ax, (source, grams) in zip(axes, by_source.items()):
        labels = [g for g, _ in grams][::-1]
        ax.barh(labels, [c for _, c in grams][::-1], color="tab:blue")
        ax.set(title=f"{source}: top {n}-grams", xlabel="count (occurrences in the corpus)", ylabel=f"{n}-gram")
        ax.tick_params(axis="y", labelsize=8)
    return fig


def cleaning_steps(reports: Mapping[str, CleaningReport]) -> Figure:
    """What each cleaning step touched, per corpus, relative to the corpus's size. Steps that touched nothing in any
    corpus are left out (the reports list them with 0)."""
    steps = [s for s in dict.fromkeys(s for r in reports.values() for s in r.steps) if any(r.steps.get(s) for r in reports.values())]
    fig = Figure(figsize=(8, 0.5 * len(steps) + 1.5), layout="constrained")
    ax = fig.subplots()
    height = 0.8 / len(reports)
    for k, (source, report) in enumerate(reports.items()):
        shares = []
        for step in steps:
            total = report.dialogues_in if "dialogues" in step else report.turns_in
            shares.append(100 * report.steps.get(step, 0) / max(total, 1))
        ax.barh(np.arange(len(steps)) + k * height, shares, height=height, label=source)
    ax.set_yticks(np.arange(len(steps)) + height * (len(reports) - 1) / 2, steps, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="per 100 turns of the corpus (dialogue steps: per 100 dialogues)", ylabel="cleaning step",
           title="What cleaning changed or removed")
    ax.legend(frameon=False)
    return fig


def diversity_fidelity(
    rows: Sequence[Mapping[str, object]], reference: Mapping[str, object] | None = None,
    x: str = "similarity to source", y: str = "distinct-2",
) -> Figure:
    """One point per table row (augmenter at a rate), a line through each augmenter's rates, the real data as a star.

    Rows need the keys "augmenter", "rate" (or None), `x` and `y`.
    """
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.subplots()
    by_augmenter: dict[str, list[Mapping[str, object]]] = {}
    for row in rows:
        by_augmenter.setdefault(str(row["augmenter"]), []).append(row)
    for augmenter, group in by_augmenter.items():
        xs, ys = [float(r[x]) for r in group], [float(r[y]) for r in group]
        ax.plot(xs, ys, marker="o", label=augmenter)
        for r, xi, yi in zip(group, xs, ys):
            if r.get("rate") is not None:
                ax.annotate(f"{r['rate']}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if reference is not None:
        ax.plot(float(reference[x]), float(reference[y]), marker="*", markersize=14, color="black", linestyle="",
                label="real data")
    ax.set(xlabel=f"fidelity: {x}", ylabel=f"diversity: {y}", title="Diversity vs fidelity (numbers: rate)")
    ax.legend(frameon=False, fontsize=8, loc="best")
    return fig


def augmentation_tradeoffs(
    rows: Sequence[Mapping[str, object]], reference: Mapping[str, object] | None = None,
    min_similarity: float | None = None, max_perplexity_ratio: float | None = None,
) -> Figure:
    """Diversity against meaning (left) and against realism (right, perplexity ratio on a log axis: it sees word
    order, which the mean-pooled similarity barely does); one line per augmenter through its rates, the real data as
    a star, a selection rule's limits as dashed lines."""
    fig = Figure(figsize=(11, 4.3), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    by_augmenter: dict[str, list[Mapping[str, object]]] = {}
    for row in rows:
        by_augmenter.setdefault(str(row["augmenter"]), []).append(row)
    for ax, x in ((left, "similarity to source"), (right, "perplexity vs source")):
        for augmenter, group in by_augmenter.items():
            xs, ys = [float(r[x]) for r in group], [float(r["distinct-2"]) for r in group]
            ax.plot(xs, ys, marker="o", label=augmenter)
            for r, xi, yi in zip(group, xs, ys):
                if r.get("rate") is not None:
                    ax.annotate(f"{r['rate']}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
        if reference is not None:
            ax.plot(float(reference[x]), float(reference["distinct-2"]), marker="*", markersize=14, color="black",
                    linestyle="", label="real data")
    if min_similarity is not None:
        left.axvline(min_similarity, color="grey", linestyle="--", linewidth=1, label="rule's limit")
    if max_perplexity_ratio is not None:
        right.axvline(max_perplexity_ratio, color="grey", linestyle="--", linewidth=1, label="rule's limit")
    right.set_xscale("log")
    right.xaxis.set_major_locator(FixedLocator([0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200]))
    right.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    right.xaxis.set_minor_locator(NullLocator())
    left.set(xlabel="meaning kept: similarity to source (MiniLM cosine)", ylabel="diversity: distinct-2",
             title="Diversity vs meaning (numbers: rate)")
    right.set(xlabel="realism: perplexity / source's perplexity (x, log scale)", title="Diversity vs realism")
    right.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


# Axis labels, with units, of the metrics and phases trainers record; one not listed is labelled with its own name.
METRIC_LABELS = {
    "nll": "NLL (nats per token)",
    "nll_oracle": "NLL_oracle (nats per token)",
    "nll_test": "NLL_test (nats per token)",
    "loss": "loss (nats per token)",
    "distinct-3": "distinct-3 (share of 3-grams unique)",
    "reward": "mean reward D(x) (probability)",
    "accuracy": "accuracy (share correct)",
    "g_loss": "generator loss (the chosen GAN loss)",
    "d_loss": "discriminator loss (the chosen GAN loss)",
    "beta": "inverse temperature beta",
}
STEP_LABELS = {
    "mle": "MLE epoch",
    "adversarial": "adversarial step",
    "discriminator": "discriminator update",
    "train": "optimizer step",
    "dev": "optimizer step",
}


def training_curves(history: Sequence[Mapping[str, object]], curves: Sequence[tuple[str, str]], title: str = "") -> Figure:
    """One panel per (phase, metric) of a trainer's history, against that phase's step; a panel of "eval" records is
    drawn against adversarial steps when they exist, else against MLE epochs."""
    fig = Figure(figsize=(3.6 * len(curves), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(curves)))
    for ax, (phase, metric) in zip(axes, curves):
        rows = [r for r in history if r["phase"] == phase and metric in r]
        if phase == "eval":
            xs = [float(r["mle_epochs"]) + float(r["adversarial_steps"]) for r in rows]
            ax.set_xlabel("MLE epochs + adversarial steps")
        else:
            xs = [float(r["step"]) for r in rows]
            ax.set_xlabel(STEP_LABELS.get(phase, f"{phase} step"))
        ax.plot(xs, [float(r[metric]) for r in rows], marker="." if len(rows) < 60 else None)
        ax.set_ylabel(METRIC_LABELS.get(metric, metric), fontsize=9)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_title(metric if phase == "eval" else f"{phase}: {metric}", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def quality_diversity(curves: Mapping[str, Sequence[Mapping[str, float]]], x: str, y: str,
                      anchors: Mapping[str, tuple[float, float]] | None = None, xlabel: str | None = None,
                      ylabel: str | None = None, boxes: Mapping[str, tuple[float, float]] | None = None) -> Figure:
    """Temperature sweeps, one line per generator, each point labelled with its temperature (labels of successive
    curves sit on alternating sides of their points, so close curves do not print over each other). `boxes`: name
    -> (half-width in x, in y) drawn as error bars on that curve's T = 1 point, e.g. 3 noise std on each axis: the
    box a placement against another curve reads."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    offsets = [(4, 4), (4, -10), (-14, 4), (-14, -10)]
    for k, (name, rows) in enumerate(curves.items()):
        xs, ys = [r[x] for r in rows], [r[y] for r in rows]
        line, = ax.plot(xs, ys, marker="o", markersize=4, label=name)
        for r, xi, yi in zip(rows, xs, ys):
            ax.annotate(f"{r['temperature']:g}", (xi, yi), textcoords="offset points", xytext=offsets[k % 4],
                        fontsize=7, color=line.get_color())
            if boxes and name in boxes and r["temperature"] == 1.0:
                ax.errorbar(xi, yi, xerr=boxes[name][0], yerr=boxes[name][1], color=line.get_color(), capsize=3,
                            linewidth=1)
    for name, (xi, yi) in (anchors or {}).items():
        ax.plot(xi, yi, marker="*", markersize=12, linestyle="", label=name)
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y, title="Quality vs diversity over sampling temperature (labels: T)")
    ax.ticklabel_format(useOffset=False)
    ax.legend(frameon=False, fontsize=8)
    return fig
