"""Does extra training data help? The same model fine-tuned on four data mixes under the same budget and seeds.

The mixes: (a) the real training pairs; (b) real + augmented (notebook 02); (c) real + reviewed GAN pairs
(notebook 04); (d) all three. Every run starts from the same base weights and gets the **same number of optimizer
steps** (the steps `epochs` passes over the real pairs take), so a bigger mix shows each pair fewer times: the
question is whether the same compute spent on more varied data helps. Early stopping and the choice of checkpoint
use the **real** dev split, and every number is measured on the **real** test split, never on generated data.

Extra pairs from a dev or test dialogue would leak the answers into training; `data_mixes` drops them and counts.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from matplotlib.figure import Figure
from tqdm.auto import tqdm

from heygen_lib.data import Pair, load_pairs
from heygen_lib.nlg.compare import reply_stats
from heygen_lib.nlg.evaluate import evaluate_model
from heygen_lib.nlg.finetune import FineTuneConfig, fine_tune, load_model, planned_steps

METRICS = ("dev ppl", "test ppl", "BLEU-4", "distinct-2", "Self-BLEU-4", "avg words", "median words")
# Which way is better; length has no better side (compare it with the real replies' instead).
BETTER = {"dev ppl": "lower", "test ppl": "lower", "BLEU-4": "higher", "distinct-2": "higher", "Self-BLEU-4": "lower"}


def load_extra_pairs(path: str | Path, made_by: str) -> list[Pair]:
    """Pairs another notebook wrote; a missing file stops with a message naming that notebook (`made_by`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebook {made_by} first (it writes this file)")
    return load_pairs(path)


def data_mixes(
    real: Sequence[Pair], augmented: Sequence[Pair], gan: Sequence[Pair], held_out: Sequence[Pair],
    response_augmented: Sequence[Pair] | None = None,
) -> tuple[dict[str, list[Pair]], dict[str, int]]:
    """The four training sets (five with `response_augmented`, notebook 02's response-perturbed pool, so that
    context- and response-augmentation are measured apart), and how many extra pairs were dropped for leaking
    `held_out` (dev and test) data: pairs from a held-out dialogue (same dialogue id) or whose response is a
    held-out response."""
    held_ids = {p.dialogue_id for p in held_out}
    held_responses = {p.response.text for p in held_out}
    dropped = {}

    def clean(name: str, pairs: Sequence[Pair]) -> list[Pair]:
        kept = [p for p in pairs if p.dialogue_id not in held_ids and p.response.text not in held_responses]
        dropped[name] = len(pairs) - len(kept)
        return kept

    aug, gen = clean("augmented", augmented), clean("GAN", gan)
    mixes = {"real": list(real), "real + augmented": [*real, *aug]}
    if response_augmented is not None:
        mixes["real + augmented (response-perturbed)"] = [*real, *clean("augmented (response)", response_augmented)]
    mixes.update({"real + GAN": [*real, *gen], "all": [*real, *aug, *gen]})
    return mixes, dropped


def run_ablation(
    base: str | Path, mixes: Mapping[str, Sequence[Pair]], dev: Sequence[Pair], test: Sequence[Pair],
    config: FineTuneConfig, seeds: Sequence[int], output_dir: str | Path, eval_contexts: int | None = None,
    max_new_tokens: int = 48, progress: bool = True, **generate_kwargs,
) -> list[dict]:
    """Fine-tune `base` (a hub name or folder, loaded fresh for every run) once per mix and seed; one row each with
    dev/test perplexity, the metrics of the replies generated for the first `eval_contexts` test contexts, and
    whether those replies are degenerate (`compare.reply_stats`). The budget is
    ``planned_steps(len(mixes["real"]), config)`` optimizer steps for every run."""
    if "real" not in mixes:
        raise ValueError("the ablation compares against the real data: mixes needs a 'real' entry")
    budget = planned_steps(len(mixes["real"]), config)
    rows = []
    runs = [(name, seed) for name in mixes for seed in seeds]
    for name, seed in tqdm(runs, desc="ablation runs", disable=not progress):
        model, tokenizer = load_model(base)
        run_config = replace(config, seed=seed, max_steps=budget)
        folder = Path(output_dir) / name.replace(" + ", "+").replace(" ", "_") / f"seed-{seed}"
        result = fine_tune(model, tokenizer, mixes[name], dev, run_config, folder, progress=False)
        metrics, replies = evaluate_model(model, tokenizer, dev, test, eval_contexts, max_new_tokens,
                                          config.max_length, seed, **generate_kwargs)
        stats = reply_stats(replies)
        metrics["median words"] = stats["median words"]
        rows.append({"data": name, "seed": seed, "train pairs": len(mixes[name]), "steps": result.steps,
                     **{k: metrics[k] for k in METRICS}, "degenerate": stats["degenerate"]})
    return rows


def summarize(rows: Sequence[Mapping]) -> list[dict]:
    """One row per data mix: each metric's mean over seeds and its sample standard deviation (0 with one seed)."""
    by_mix: dict[str, list[Mapping]] = {}
    for row in rows:
        by_mix.setdefault(row["data"], []).append(row)
    summary = []
    for name, group in by_mix.items():
        line = {"data": name, "seeds": len(group), "train pairs": group[0]["train pairs"],
                "degenerate runs": sum(bool(r.get("degenerate", False)) for r in group)}
        for metric in METRICS:
            values = [float(r[metric]) for r in group]
            line[metric] = statistics.fmean(values)
            line[f"{metric} sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(line)
    return summary


def table_rows(summary: Sequence[Mapping], metrics: Sequence[str] = METRICS) -> list[dict]:
    """The summary for a table: "mean ± sd" strings (just the mean with one seed)."""
    rows = []
    for line in summary:
        cells = {m: f"{line[m]:.3f}" + (f" ± {line[f'{m} sd']:.3f}" if line["seeds"] > 1 else "") for m in metrics}
        flag = f"**{line['degenerate runs']} of {line['seeds']}**" if line["degenerate runs"] else "none"
        rows.append({"data": line["data"], "train pairs": line["train pairs"], "seeds": line["seeds"], **cells,
                     "degenerate runs": flag})
    return rows


def noise(a: Mapping, b: Mapping, metric: str) -> float:
    """Two standard errors of the difference of two mixes' means over their seeds (nan with one seed each)."""
    if min(a["seeds"], b["seeds"]) < 2:
        return math.nan
    return 2 * math.sqrt(a[f"{metric} sd"] ** 2 / a["seeds"] + b[f"{metric} sd"] ** 2 / b["seeds"])


def verdict(summary: Sequence[Mapping], mix: str, metric: str) -> str:
    """Whether `mix` beat real data alone on `metric` (which must have a better side): "better" or "worse" only
    beyond the seed noise, else "no difference (within the seed noise)"; "cannot tell" with one seed or when
    either side has degenerate runs (their numbers are not a model's)."""
    by_name = {line["data"]: line for line in summary}
    real, line = by_name["real"], by_name[mix]
    if real["degenerate runs"] or line["degenerate runs"]:
        return "cannot tell: degenerate runs"
    gap = noise(real, line, metric)
    if math.isnan(gap):
        return "cannot tell: one seed gives no noise estimate"
    diff = line[metric] - real[metric]
    if abs(diff) <= gap:
        return "no difference (within the seed noise)"
    return "better" if (diff < 0) == (BETTER[metric] == "lower") else "worse"


def reading(summary: Sequence[Mapping], metrics: Sequence[str] = ("test ppl", "BLEU-4")) -> str:
    """A paragraph that reads the table: each mix against real-only on each of `metrics`, whether the gap is larger
    than the seed-to-seed noise (two standard errors of the difference; one seed gives no noise estimate). Mixes
    with degenerate runs are flagged and not compared; a mix is named best only when it beats real data alone
    beyond the noise."""
    by_name = {line["data"]: line for line in summary}
    if "real" not in by_name:
        raise ValueError("the summary has no 'real' row to compare against")
    real = by_name["real"]
    several = min(line["seeds"] for line in summary) > 1
    sentences = []
    flagged = [line["data"] for line in summary if line.get("degenerate runs")]
    if flagged:
        sentences.append(f"Degenerate runs (median reply under 3 words or distinct-2 under 0.05) in: "
                         f"{', '.join(flagged)}; those mixes are not compared or ranked.")
    for metric in metrics:
        better_side = BETTER.get(metric)
        parts = []
        for name, line in by_name.items():
            if name == "real" or name in flagged:
                continue
            diff = line[metric] - real[metric]
            if abs(diff) < 5e-4:
                parts.append(f"{name} {_number(line[metric])} (the same to three decimals)")
                continue
            if better_side:
                side = "better" if (diff < 0) == (better_side == "lower") else "worse"
            else:
                side = "higher" if diff > 0 else "lower"
            text = f"{name} {_number(line[metric])} ({side} by {_number(abs(diff))}"
            if abs(real[metric]) >= 5e-4:
                text += f", {100 * abs(diff) / abs(real[metric]):.1f}%"
            if several:
                gap = noise(real, line, metric)
                text += f"; {'beyond' if abs(diff) > gap else 'within'} the seed noise of {_number(gap)}"
            parts.append(text + ")")
        if "real" in flagged or not parts:
            continue
        sentence = f"**{metric}**" + (f" ({better_side} is better)" if better_side else "")
        sentence += f": real data alone {_number(real[metric])}; " + "; ".join(parts) + "."
        if better_side and several:
            winners = [n for n in by_name if n != "real" and n not in flagged and verdict(summary, n, metric) == "better"]
            if winners:
                pick = min if better_side == "lower" else max
                best = pick(winners, key=lambda n: by_name[n][metric])
                sentence += f" Best beyond the seed noise: {best}."
            else:
                sentence += " No mix beats real data alone beyond the seed noise."
        sentences.append(sentence)
    if "real" in flagged:
        sentences.append("Real data alone gives degenerate runs, so there is no sound baseline to compare with.")
    if several:
        sentences.append("A gap within the seed noise (two standard errors of the difference) is no evidence either "
                         "way: no difference; only gaps beyond it say that a data source helped or hurt.")
    else:
        sentences.append("With one seed per mix there is no estimate of run-to-run noise, so none of these gaps can "
                         "be told apart from chance.")
    return " ".join(sentences)


def _number(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"


def ablation_plot(summary: Sequence[Mapping], metrics: Sequence[str] = ("test ppl", "BLEU-4", "distinct-2")) -> Figure:
    """One bar panel per metric, a bar per data mix, error bars of one standard deviation over seeds."""
    fig = Figure(figsize=(3.6 * len(metrics), 3.8), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    names = [line["data"] for line in summary]
    seeds = min(line["seeds"] for line in summary)
    for ax, metric in zip(axes, metrics):
        spread = [line[f"{metric} sd"] for line in summary] if seeds > 1 else None
        ax.bar(range(len(names)), [line[metric] for line in summary], yerr=spread, capsize=4,
               color=[f"C{i}" for i in range(len(names))])
        ax.set_xticks(range(len(names)), [textwrap.fill(name, 20) for name in names], fontsize=8, rotation=30,
                      ha="right", rotation_mode="anchor")  # slanted, anchored at each bar: long names do not overlap
        ax.set_xlabel("training data")
        ax.set_ylabel(f"{metric} (mean over seeds)")
        ax.set_title(f"{metric} ({BETTER[metric]} is better)" if metric in BETTER else metric, fontsize=10)
    bars = ", bars: ± 1 sd" if seeds > 1 else ""
    fig.suptitle(f"Same model, same steps, real test split; {seeds} seed{'s' if seeds > 1 else ''} per mix{bars}")
    return fig

