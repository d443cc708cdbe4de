"""Comparing fine-tuning runs that differ in one thing (the starting weights, which layers train, the optimizer),
and telling a model that writes replies from one that repeats a word.

Each run starts from its own base (a folder or hub name, loaded fresh), fine-tunes with its own config on the same
data, and is measured the same way: test perplexity, and the replies it writes greedily for the same test contexts.
A model whose median reply is under 3 words, or whose replies share almost no word pairs (distinct-2 under 0.05),
is **degenerate**: its perplexity may look fine, but it is flagged and never ranked.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from heygen_lib.data.pairs import Pair
from heygen_lib.metrics import distinct_n
from heygen_lib.nlg.evaluate import generate_responses, perplexity
from heygen_lib.nlg.finetune import FineTuneConfig, FineTuneResult, fine_tune, load_model

DEGENERATE_MEDIAN_WORDS = 3  # a median reply shorter than this is not a reply
DEGENERATE_DISTINCT_2 = 0.05  # under this share of distinct word pairs, the replies are one reply repeated
LOOP_REPEATS = 3  # a reply in which one word 3-gram occurs this often loops ("I'm sorry, I'm sorry, I'm sorry")


def loops(reply: str, n: int = 3) -> bool:
    """Whether one word n-gram occurs `LOOP_REPEATS` times or more in the reply: the failure greedy decoding of a
    small model falls into, which neither length nor repeats across replies shows."""
    words = reply.split()
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return max(grams.values(), default=0) >= LOOP_REPEATS


def reply_stats(replies: Sequence[str]) -> dict[str, float | bool]:
    """Median length in words (split at spaces), distinct-2, the share of replies that repeat an earlier one, the
    share that loop (`loops`), and whether the replies are degenerate (see the module docstring)."""
    if not replies:
        raise ValueError("reply_stats needs at least one reply")
    median_words = statistics.median(len(r.split()) for r in replies)  # words as a reader counts them
    distinct_2 = distinct_n(replies, 2)
    return {"median words": median_words, "distinct-2": distinct_2,
            "identical share": 1 - len(set(replies)) / len(replies),
            "looping share": sum(map(loops, replies)) / len(replies),
            "degenerate": median_words < DEGENERATE_MEDIAN_WORDS or distinct_2 < DEGENERATE_DISTINCT_2}


@dataclass(frozen=True)
class Variant:
    """One run: where it starts and how it trains; `train` replaces the shared training pairs when given."""

    base: str
    config: FineTuneConfig
    train: Sequence[Pair] | None = field(default=None, repr=False)


@dataclass
class RunOutcome:
    """A run's numbers (one table row), its replies to the test contexts, its training record, and the fine-tuned
    model with its tokenizer."""

    row: dict
    replies: list[str]
    result: FineTuneResult = field(repr=False)
    model: object = field(repr=False)
    tokenizer: object = field(repr=False)


def run_variant(
    name: str, variant: Variant, train: Sequence[Pair], dev: Sequence[Pair], test: Sequence[Pair],
    output_dir: str | Path, eval_contexts: int | None = None, max_new_tokens: int = 48, callbacks: Sequence = (),
    progress: bool = False,
) -> RunOutcome:
    """Fine-tune a fresh copy of `variant.base` and measure it on the test split."""
    model, tokenizer = load_model(variant.base)
    result = fine_tune(model, tokenizer, variant.train if variant.train is not None else train, dev, variant.config,
                       output_dir, callbacks=callbacks, progress=progress)
    shown = list(test)[:eval_contexts]
    replies = generate_responses(model, tokenizer, [p.context for p in shown], max_new_tokens,
                                 seed=variant.config.seed, max_length=variant.config.max_length)
    row = {"run": name, "steps": result.steps, "best step": result.best_step,
           "trainable parameters": result.trainable_parameters,
           "test ppl": perplexity(model, tokenizer, test, variant.config.max_length), **reply_stats(replies),
           "seconds": result.seconds}
    return RunOutcome(row, replies, result, model, tokenizer)


def evaluate_base(
    name: str, base: str, test: Sequence[Pair], eval_contexts: int | None = None, max_new_tokens: int = 48,
    max_length: int = 256, seed: int = 0,
) -> dict:
    """The row `run_variant` gives, for a model that is not fine-tuned at all (0 steps)."""
    model, tokenizer = load_model(base)
    shown = list(test)[:eval_contexts]
    replies = generate_responses(model, tokenizer, [p.context for p in shown], max_new_tokens, seed=seed,
                                 max_length=max_length)
    return {"run": name, "steps": 0, "best step": 0, "trainable parameters": 0,
            "test ppl": perplexity(model, tokenizer, test, max_length), **reply_stats(replies), "seconds": 0.0}


def run_variants(
    variants: Mapping[str, Variant], train: Sequence[Pair], dev: Sequence[Pair], test: Sequence[Pair],
    output_dir: str | Path, eval_contexts: int | None = None, max_new_tokens: int = 48, progress: bool = True,
) -> dict[str, RunOutcome]:
    """`run_variant` for each named variant, in order, under one progress bar."""
    outcomes = {}
    for name in tqdm(list(variants), desc="runs", disable=not progress):
        folder = Path(output_dir) / name.replace(" ", "_").replace("/", "-")
        outcomes[name] = run_variant(name, variants[name], train, dev, test, folder, eval_contexts, max_new_tokens)
    return outcomes


def table(rows: Sequence[Mapping], columns: Sequence[str] = (
        "steps", "trainable parameters", "test ppl", "median words", "distinct-2", "identical share")) -> list[dict]:
    """Run rows (`RunOutcome.row`, `evaluate_base`) for a table: numbers rounded, degenerate runs marked."""
    return [{"run": row["run"], **{c: _cell(row[c]) for c in columns},
             "degenerate": "**yes**" if row["degenerate"] else "no"} for row in rows]


def knob_readings(rows: Mapping[str, Mapping], reference: str, noise: float) -> list[str]:
    """One line per run against the `reference` run (`RunOutcome.row`s by name): its test perplexity better, worse
    or no different beyond `noise`, and how many parameters it trained. A degenerate run is not compared, and
    nothing is compared with a degenerate reference."""
    base = rows[reference]
    if base["degenerate"]:
        return [f"**{reference}** writes degenerate replies, so no run is compared with it."]
    lines = []
    for name, row in rows.items():
        if name == reference:
            continue
        if row["degenerate"]:
            lines.append(f"**{name}**: degenerate replies; not compared.")
            continue
        diff = row["test ppl"] - base["test ppl"]
        side = "no difference" if abs(diff) <= noise else ("worse" if diff > 0 else "better")
        lines.append(f"**{name}**: test perplexity {row['test ppl']:.1f} against {base['test ppl']:.1f} for "
                     f"{reference}: {side} (gap {abs(diff):.1f}, seed noise {noise:.1f}), with "
                     f"{row['trainable parameters']:,} of {base['trainable parameters']:,} parameters trained.")
    return lines


def _cell(value: object) -> object:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"
    return value


def gap_verdict(baseline: float, treated: float, noise: float, lower_is_better: bool = True,
                degenerate: bool = False) -> str:
    """A claim's verdict from a measured gap: "supported" when `treated` beats `baseline` by more than `noise`,
    "contradicted" when it loses by more, else "cannot tell at this size" (also when a side is degenerate or the
    noise is unknown, nan)."""
    if degenerate:
        return "cannot tell at this size (degenerate replies)"
    if noise != noise:  # nan: no estimate of the noise
        return "cannot tell at this size (no noise estimate)"
    gain = (baseline - treated) if lower_is_better else (treated - baseline)
    if abs(gain) <= noise:
        return "cannot tell at this size (no difference within the noise)"
    return "supported" if gain > 0 else "contradicted"
