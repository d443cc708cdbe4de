"""Reading a fine-tuned model's replies the way a user meets them: greedy, with the chatbot's repetition penalty, to
every test context, for each fine-tuning seed.

The **reply targets** say what "it writes replies" means in numbers a reader can check: a median reply of at least
ten words (real support replies run to about 31), fewer than 10% of replies repeating an earlier one (a model that
answers every message with the same sentence is not reading the context), and fewer than 5% looping (one word
3-gram three times or more). A target counts as met only when it holds **in every seed**: a lucky seed is not a
recipe.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence

from heygen_lib.data.pairs import Pair
from heygen_lib.nlg.compare import reply_stats

# statistic -> (comparison, bound)
REPLY_TARGETS = {"median words": (">=", 10), "identical share": ("<", 0.10), "looping share": ("<", 0.05)}
OPS = {">=": operator.ge, "<": operator.lt, "<=": operator.le}


def target_rows(replies_by_seed: Mapping[int, Sequence[str]]) -> list[dict]:
    """One row per fine-tuning seed: the reply statistics of `REPLY_TARGETS` and whether each target holds."""
    rows = []
    for seed, replies in replies_by_seed.items():
        stats = reply_stats(replies)
        row = {"fine-tuning seed": seed, **{name: stats[name] for name in REPLY_TARGETS},
               "distinct-2": stats["distinct-2"]}
        row["targets met"] = all(OPS[op](stats[name], bound) for name, (op, bound) in REPLY_TARGETS.items())
        rows.append(row)
    return rows


def worst(rows: Sequence[Mapping], name: str) -> float:
    """The seed farthest from the target on one statistic (the smallest median, the largest share)."""
    op, _ = REPLY_TARGETS[name]
    return (min if op == ">=" else max)(row[name] for row in rows)


def targets_reading(rows: Sequence[Mapping]) -> str:
    """Which targets hold in every seed, said plainly, with the worst seed's value for each."""
    held, missed = [], []
    for name, (op, bound) in REPLY_TARGETS.items():
        value = worst(rows, name)
        shown = f"{value:.0f}" if name == "median words" else f"{value:.0%}"
        text = f"{name} {op} {bound if name == 'median words' else f'{bound:.0%}'} (worst seed: {shown})"
        (held if OPS[op](value, bound) else missed).append(text)
    seeds = len(rows)
    reading = f"Over {seeds} fine-tuning seeds, the targets that hold in every seed: {', '.join(held) or 'none'}."
    if missed:
        reading += f" Missed in at least one seed: {', '.join(missed)}."
    return reading


def quoted(pairs: Sequence[Pair], replies: Sequence[str], count: int = 20, width: int = 90) -> list[dict]:
    """The first `count` test contexts with the real reply and the model's, for a reader to judge as English."""
    def cut(text: str) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    return [{"customer said": cut(p.context[-1].text), "real reply": cut(p.response.text), "model": cut(r) or "(empty)"}
            for p, r in list(zip(pairs, replies))[:count]]
