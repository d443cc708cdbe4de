"""When does made-up data help? Fine-tuning at several real-data sizes, with and without made-up data, and what the
made-up data is worth in real pairs.

A single ablation at one size cannot tell "made-up data does not help" from "it does not help *at this size*": the
augmentation literature (EDA, Wei & Zou 2019) reports gains that grow as the real set shrinks. So the same
fine-tuning runs at several sizes n of real data, drawn by conversation (`nested_subsets`), for real data alone and
for real data plus made-up pairs (`mix`). The made-up pairs at size n derive **only from those n pairs**
(`derived_from`): an augmenter or a GAN that had seen all the training pairs would carry the other pairs' content
in and flatter the small sizes.

**The budget rule.** Every run at size n takes the optimizer steps the fine-tuning config gives n real pairs
(`planned_steps`), whatever it adds: extra data changes *what* the steps see, not how many there are.

**The exchange rate.** Let $p_{\\text{real}}(n)$ be the test perplexity of real data alone at size $n$, and
$p_A(n)$ that of arm $A$ (real + made-up). The made-up data is worth $n^\\ast - n$ real pairs, where
$p_{\\text{real}}(n^\\ast) = p_A(n)$ on the real curve interpolated linearly in $\\log n$ (`worth`). Each training
seed gives one reading (the same seed on both curves); their mean $\\pm$ two standard errors is the interval, and
an interval that covers 0 says *no difference*. A reading outside the measured sizes is only a bound.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from heygen_lib.augment.base import origin_key
from heygen_lib.data import load_pairs
from heygen_lib.data.pairs import Pair
from heygen_lib.metrics import SentenceEncoder, default_encoder
from heygen_lib.nlg.compare import reply_stats
from heygen_lib.nlg.evaluate import generate_responses, perplexity
from heygen_lib.nlg.finetune import FineTuneConfig, fine_tune, load_model, planned_steps

REAL = "real"


@dataclass(frozen=True)
class CurveConfig:
    """Which sizes, how many seeds, and how much made-up data per real pair."""

    sizes: tuple[int, ...] = (40, 80, 170, 340, 689)  # real training pairs; the last is the whole support split
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds at every point: their spread is the noise of each reading
    # The mixing ratio: made-up pairs added per real pair (fewer where the made-up pool of that size holds fewer).
    extra_per_real: float = 1.0
    draw_seed: int = 0  # the order in which conversations join the growing real set
    reply_contexts: int = 24  # test contexts whose greedy replies are compared with the real reply (MiniLM)


def load_extra_pairs(path: str | Path, made_by: str) -> list[Pair]:
    """Pairs another notebook wrote (possibly none: a review may accept nothing); a missing file stops with a
    message naming that notebook (`made_by`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebook {made_by} first (it writes this file)")
    return load_pairs(path, allow_empty=True)


def drop_leaks(extra: Sequence[Pair], held_out: Sequence[Pair]) -> tuple[list[Pair], int]:
    """The made-up pairs without those that would leak the answers into training: pairs from a held-out (dev or
    test) conversation, or whose reply is a held-out reply; and how many were dropped."""
    ids = {p.dialogue_id for p in held_out}
    replies = {p.response.text for p in held_out}
    kept = [p for p in extra if p.dialogue_id not in ids and p.response.text not in replies]
    return kept, len(extra) - len(kept)


def nested_subsets(train: Sequence[Pair], sizes: Sequence[int], seed: int = 0) -> dict[int, list[Pair]]:
    """The real training pairs at each size, drawn by conversation: the conversations in one seeded order, each size
    the first n pairs of that order. A smaller set is part of every larger one (the curve then measures more data,
    not other data), and a conversation's pairs stay together except where a size cuts one."""
    if max(sizes) > len(train):
        raise ValueError(f"the largest size ({max(sizes)}) exceeds the {len(train)} training pairs")
    conversations: dict[str, list[int]] = {}
    for index, pair in enumerate(train):
        conversations.setdefault(pair.dialogue_id, []).append(index)
    order = sorted(conversations)
    random.Random(seed).shuffle(order)
    drawn = [index for dialogue in order for index in conversations[dialogue]]
    # each set keeps the training split's order, so the whole split is `train` itself, pair for pair
    return {n: [train[i] for i in sorted(drawn[:n])] for n in sorted(sizes)}


def derived_from(extra: Sequence[Pair], subset: Sequence[Pair]) -> list[Pair]:
    """The made-up pairs whose provenance names a pair of `subset` as their origin: a pool made from every training
    pair, cut to what these pairs alone would have made (each augmenter rewrites one pair at a time)."""
    keys = {origin_key(pair) for pair in subset}
    return [pair for pair in extra if pair.meta.get("provenance", {}).get("from") in keys]


def mix(subset: Sequence[Pair], extra: Sequence[Pair], extra_per_real: float, seed: int = 0) -> list[Pair]:
    """`subset` plus up to ``extra_per_real * len(subset)`` of the made-up pairs, drawn with `seed`."""
    count = min(len(extra), round(extra_per_real * len(subset)))
    return [*subset, *random.Random(seed).sample(list(extra), count)]


def run_curve(
    base: str | Path, subsets: Mapping[int, Sequence[Pair]], extras: Mapping[str, Mapping[int, Sequence[Pair]]],
    dev: Sequence[Pair], test: Sequence[Pair], config: FineTuneConfig, curve: CurveConfig, output_dir: str | Path,
    max_new_tokens: int = 48, made: Mapping[tuple[int, str, int], tuple] | None = None,
    encoder: SentenceEncoder | None = None, progress: bool = True,
) -> list[dict]:
    """Fine-tune `base` (loaded fresh each run) at every size, for real data alone and for each arm of `extras`
    (name -> size -> made-up pairs derived from that size's real pairs; an arm runs at the sizes it holds), once per
    seed, with the budget rule of the module docstring (`finetune.fixed_budget` makes such a `config`). One row per
    run: test perplexity on the real test split, and the mean MiniLM similarity of its greedy replies to the real
    replies of the first `curve.reply_contexts` test contexts. `made` holds runs
    already trained with this config, (size, arm, seed) -> (model, tokenizer, steps): they are measured, not
    trained again."""
    shown = list(test)[: curve.reply_contexts]
    runs = [(n, arm, seed) for n in sorted(subsets) for arm in (REAL, *extras) if arm == REAL or n in extras[arm]
            for seed in curve.seeds]
    rows, replies = [], []
    for n, arm, seed in tqdm(runs, desc="learning-curve runs", disable=not progress):
        extra = [] if arm == REAL else extras[arm][n]
        train = mix(subsets[n], extra, curve.extra_per_real, seed)
        if made and (n, arm, seed) in made:
            model, tokenizer, steps = made[(n, arm, seed)]
        else:
            run_config = replace(config, seed=seed, max_steps=planned_steps(len(subsets[n]), config))
            model, tokenizer = load_model(base)
            steps = fine_tune(model, tokenizer, train, dev, run_config,
                              Path(output_dir) / f"{n}-{arm.replace(' ', '_')}-{seed}", progress=False).steps
        replies.append(generate_responses(model, tokenizer, [p.context for p in shown], max_new_tokens, seed=seed,
                                          max_length=config.max_length))
        rows.append({"size": n, "arm": arm, "seed": seed, "extra pairs": len(train) - n, "steps": steps,
                     "test ppl": perplexity(model, tokenizer, test, config.max_length),
                     "degenerate": reply_stats(replies[-1])["degenerate"]})
    # every run's replies against the real ones: the real replies encoded once, all generated ones in one pass
    encoder = encoder or default_encoder()
    real = encoder.encode([p.response.text for p in shown])  # [C, D], unit vectors
    generated = encoder.encode([r for run in replies for r in run]).reshape(len(replies), len(shown), -1)
    for row, cosines in zip(rows, (generated * real).sum(-1)):  # cosine of each reply with its real reply
        row["similarity"] = float(cosines.mean())
    return rows


def summarize(rows: Sequence[Mapping], metric: str = "test ppl") -> dict[tuple[str, int], tuple[float, float, int]]:
    """(arm, size) -> (mean, sample std, seeds) of `metric`."""
    groups: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        groups.setdefault((row["arm"], row["size"]), []).append(float(row[metric]))
    return {key: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else math.nan, len(v))
            for key, v in groups.items()}


def real_gain(rows: Sequence[Mapping]) -> float:
    """The real-only curve's test perplexity at its largest size over that at its smallest, each a mean over seeds:
    below 1 when more real pairs help, the premise every exchange rate rests on."""
    stats = summarize([row for row in rows if row["arm"] == REAL], "test ppl")
    sizes = sorted(n for _, n in stats)
    return stats[(REAL, sizes[-1])][0] / stats[(REAL, sizes[0])][0]


def worth(sizes: Sequence[int], real_ppl: Sequence[float], ppl: float, n: int) -> tuple[float, str]:
    """What a perplexity reached at size `n` is worth in extra real pairs, read off the real-only curve
    (`sizes`, `real_ppl`) interpolated linearly in log size: (n* - n, "exact"), or a bound when `ppl` lies outside
    the curve: (largest - n, "above") when it beats the largest size, (smallest - n, "below") when it is worse
    than the smallest. A curve that rises somewhere is read through its running minimum (more data never hurts
    the reading)."""
    order = np.argsort(sizes)
    ns = np.asarray(sizes, dtype=float)[order]
    ys = np.minimum.accumulate(np.asarray(real_ppl, dtype=float)[order])
    if ppl < ys[-1]:
        return float(ns[-1] - n), "above"
    if ppl > ys[0]:
        return float(ns[0] - n), "below"
    for i in range(len(ns) - 1):
        if ys[i + 1] <= ppl <= ys[i]:
            share = 0.0 if ys[i] == ys[i + 1] else (ys[i] - ppl) / (ys[i] - ys[i + 1])
            return math.exp(math.log(ns[i]) + share * math.log(ns[i + 1] / ns[i])) - n, "exact"
    return float(ns[0] - n), "exact"  # a single size: the curve is one point, equal to ppl


# Verdicts when every seed's reading lies beyond the real-only curve, so that only a bound is known.
BEYOND = {"below": "did not help: worse than every real-only run at every seed (how much, the curve cannot say)",
          "above": "helped: better than every real-only run at every seed (by how much, the curve cannot say)"}


def exchange_rates(rows: Sequence[Mapping]) -> list[dict]:
    """For each arm and size: the made-up data's worth in real pairs per seed (`worth`, the same seed on both
    curves), its mean, two standard errors, and the verdict: "worth more real pairs", "worth fewer" (it hurt), or
    "no difference" when the interval covers 0; readings outside the measured sizes are marked as bounds, and when
    every seed's lies outside, the verdict says only which side (`BEYOND`)."""
    sizes = sorted({row["size"] for row in rows})
    by = {(row["arm"], row["size"], row["seed"]): row for row in rows}
    arms = [arm for arm in dict.fromkeys(row["arm"] for row in rows) if arm != REAL]
    seeds = sorted({row["seed"] for row in rows})
    table = []
    for arm in arms:
        for n in sizes:
            readings = []
            for seed in seeds:
                if (arm, n, seed) not in by or any((REAL, s, seed) not in by for s in sizes):
                    continue
                curve = [by[(REAL, s, seed)]["test ppl"] for s in sizes]
                readings.append(worth(sizes, curve, by[(arm, n, seed)]["test ppl"], n))
            if not readings:
                continue
            values = [value for value, _ in readings]
            mean = statistics.fmean(values)
            half = 2 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
            kinds = {kind for _, kind in readings}
            bounds = sorted(kinds - {"exact"})
            if kinds == {"below"}:  # only an upper bound on the worth: no size of the curve is as bad
                verdict = BEYOND["below"]
            elif kinds == {"above"}:  # only a lower bound: it beat every real-only run
                verdict = BEYOND["above"]
            elif math.isnan(half):
                verdict = "cannot tell (one seed)"
            elif mean - half <= 0 <= mean + half:
                verdict = "no difference"
            else:
                verdict = "worth more real pairs" if mean > 0 else "worth fewer: it hurt"
            table.append({"arm": arm, "size": n, "worth": mean, "interval": half, "seeds": len(values),
                          "bound": ", ".join(bounds), "verdict": verdict})
    return table


def claim(rates: Sequence[Mapping], arm: str) -> str:
    """A claim's verdict for one arm across sizes: "supported" where its data was worth more real pairs beyond the
    seed noise, "contradicted" where it hurt beyond it, "no difference" elsewhere, each with the sizes it holds at."""
    by_verdict: dict[str, list[str]] = {}
    for rate in rates:
        if rate["arm"] == arm:
            by_verdict.setdefault(rate["verdict"], []).append(str(rate["size"]))
    if not by_verdict:
        return "cannot tell: no run of this arm"
    names = {"worth more real pairs": "**supported**", "worth fewer: it hurt": "**contradicted**"}
    return "; ".join(f"{names.get(v, v)} at {', '.join(sizes)} real pairs" for v, sizes in by_verdict.items())


def rates_table(rates: Sequence[Mapping]) -> str:
    """`exchange_rates` as a Markdown table; a worth known only as a bound is shown as one (<= or >=)."""
    from heygen_lib.tables import markdown_table

    side = {BEYOND["below"]: "<= ", BEYOND["above"]: ">= "}
    return markdown_table([{"arm": r["arm"], "real pairs": r["size"],
                            "worth (real pairs)": f"{side.get(r['verdict'], '')}{r['worth']:+.0f}",
                            "± 2 se": "-" if r["verdict"] in side or math.isnan(r["interval"]) else f"{r['interval']:.0f}",
                            "seeds": r["seeds"], "reading": r["verdict"], "bound": r["bound"] or "-"} for r in rates])


def reading(rates: Sequence[Mapping]) -> str:
    """One sentence per arm and size, from `exchange_rates`."""
    lines = []
    for rate in rates:
        if rate["verdict"] in BEYOND.values():
            lines.append(f"- At {rate['size']} real pairs, **{rate['arm']}** {rate['verdict']}.")
            continue
        bound = (f" (a bound: at some seeds the run lies {rate['bound']} the real curve's measured sizes)"
                 if rate["bound"] else "")
        interval = "" if math.isnan(rate["interval"]) else f" ± {rate['interval']:.0f}"
        lines.append(f"- At {rate['size']} real pairs, **{rate['arm']}** was worth {rate['worth']:+.0f}{interval} "
                     f"real pairs over {rate['seeds']} seeds: {rate['verdict']}{bound}.")
    return "\n".join(lines)


def curve_plot(rows: Sequence[Mapping], metrics: Sequence[tuple[str, str]] = (
        ("test ppl", "test perplexity (lower is better)"),
        ("similarity", "MiniLM cosine to the real reply"))) -> Figure:
    """One panel per metric: a line per arm over real-data size (log axis), the band one standard deviation over
    training seeds."""
    fig = Figure(figsize=(5.2 * len(metrics), 3.8), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    for ax, (metric, label) in zip(axes, metrics):
        stats = summarize(rows, metric)
        for i, arm in enumerate(arms):
            sizes = sorted(n for a, n in stats if a == arm)
            mean = np.array([stats[(arm, n)][0] for n in sizes])
            sd = np.nan_to_num(np.array([stats[(arm, n)][1] for n in sizes]))
            ax.plot(sizes, mean, marker="o", color=f"C{i}", label=arm)
            ax.fill_between(sizes, mean - sd, mean + sd, color=f"C{i}", alpha=0.15)
        ax.set_xscale("log")
        measured = sorted({n for _, n in stats})
        ax.set_xticks(measured, [str(n) for n in measured])  # the measured sizes, not log-scale powers of ten
        ax.minorticks_off()
        ax.set_xlabel("real training pairs (log scale)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    seeds = max(stats[key][2] for key in stats)
    fig.suptitle(f"Learning curves on the real test split: mean over {seeds} training seeds, band ± 1 sd")
    return fig
