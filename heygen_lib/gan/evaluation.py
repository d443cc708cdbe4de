"""Measuring text GANs: the oracle benchmark's two NLLs, BLEU and Self-BLEU on real text, and temperature sweeps.

Quality alone misleads (Caccia et al. 2020, "Language GANs Falling Short"): lowering an MLE model's sampling
temperature improves every quality-only number while diversity collapses. So each trained generator is also swept
over temperatures and drawn as a curve, quality against diversity; a GAN only wins if its curve is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch

from heygen_lib.gan.generators import TextGenerator
from heygen_lib.gan.oracle import nll_oracle, nll_test
from heygen_lib.gan.text_data import Vocabulary
from heygen_lib.metrics import bleu_scores
from heygen_lib.torch_utils import eval_mode

Metrics = Callable[[TextGenerator], dict[str, float]]


@torch.no_grad()
def distinct_token_ngrams(samples: torch.Tensor, n: int) -> float:
    """Distinct n-grams of token ids / all n-grams, over sequences [N, T] (n-grams never cross sequences)."""
    grams = samples.unfold(1, n, 1).reshape(-1, n)
    return len(torch.unique(grams, dim=0)) / len(grams)


class SequenceSet:
    """A set of token sequences (rows of [N, T]) for exact-copy lookups, built once."""

    def __init__(self, sequences: torch.Tensor):
        self.rows = {tuple(row) for row in sequences.tolist()}

    def copy_rate(self, samples: torch.Tensor) -> float:
        """The fraction of `samples` [N, T] that are exact copies of a sequence in the set (memorisation)."""
        return sum(tuple(row) in self.rows for row in samples.tolist()) / len(samples)


def copy_rate(samples: torch.Tensor, train_data: torch.Tensor) -> float:
    """The fraction of `samples` [N, T] that exactly copy some training sequence [M, T]: a generator that
    memorised its training set scores high here while every quality number looks excellent."""
    return SequenceSet(train_data).copy_rate(samples)


def unique_fraction(samples: torch.Tensor) -> float:
    """Distinct sequences among `samples` [N, T], as a fraction of N (1.0: no sample repeated)."""
    return len(torch.unique(samples, dim=0)) / len(samples)


def oracle_metrics(oracle: TextGenerator, test_data: torch.Tensor, n_samples: int, temperature: float = 1.0,
                   train_data: torch.Tensor | None = None) -> Metrics:
    """NLL_oracle of `n_samples` of the generator's samples (quality), the generator's NLL of held-out oracle data
    (coverage, NLL_test), per token, both at `temperature`; distinct-3, the share of distinct token trigrams among
    all trigrams of the samples (mode collapse drives it down); the unique fraction of the samples; and, given the
    generator's `train_data`, its copy rate (the fraction of samples that are training sequences verbatim)."""
    train_set = SequenceSet(train_data) if train_data is not None else None

    def metrics(generator: TextGenerator) -> dict[str, float]:
        samples = generator.sample(n_samples, temperature=temperature)
        values = {
            "nll_oracle": nll_oracle(oracle, samples),
            "nll_test": nll_test(generator, test_data, temperature=temperature),
            "distinct-3": distinct_token_ngrams(samples, 3),
            "unique": unique_fraction(samples),
        }
        if train_set is not None:
            values["copy_rate"] = train_set.copy_rate(samples)
        return values

    return metrics


def evaluation_noise(metrics: Metrics, generator: TextGenerator, repeats: int = 5) -> dict[str, tuple[float, float]]:
    """Each metric's (mean, standard deviation) over `repeats` evaluations of the same weights with fresh samples:
    the noise any comparison of one evaluation against another must clear. A difference counts as a move only
    beyond 3 standard deviations (`moved`)."""
    if repeats < 2:
        raise ValueError(f"need at least 2 repeats for a standard deviation, got {repeats}")
    with eval_mode(generator):
        runs = [metrics(generator) for _ in range(repeats)]
    out = {}
    for key in runs[0]:
        values = torch.tensor([r[key] for r in runs], dtype=torch.float64)
        out[key] = (values.mean().item(), values.std().item())
    return out


def moved(before: float, after: float, std: float, k: float = 3.0) -> bool:
    """Whether `after` differs from `before` by more than `k` evaluation-noise standard deviations."""
    return abs(after - before) > k * std


def direction(before: float, after: float, std: float, k: float = 3.0, lower_is_better: bool = True) -> str:
    """"better", "worse" or "no difference": `after` read against `before` only once it `moved` beyond `k`
    evaluation-noise standard deviations, in the metric's own direction (lower is better for an NLL)."""
    if not moved(before, after, std, k):
        return "no difference"
    return "better" if (after < before) == lower_is_better else "worse"


def curve_value(curve: Sequence[dict[str, float]], x: str, y: str, at: float, lower_is_better: bool = True
                ) -> float | None:
    """The curve's best `y` at ``x = at``: interpolated linearly along the sweep in temperature order (between
    neighbouring temperatures, never across the sweep), the lowest (or, with ``lower_is_better=False``, highest) of
    the segments that reach `at` when the curve turns back on itself, as a sweep does past the coverage optimum.
    None outside the range the sweep covers."""
    points = [(r[x], r[y]) for r in sorted(curve, key=lambda r: r["temperature"])]
    found = [y0 if x1 == x0 else y0 + (y1 - y0) * (at - x0) / (x1 - x0)
             for (x0, y0), (x1, y1) in zip(points, points[1:]) if min(x0, x1) <= at <= max(x0, x1)]
    if not found:
        return None
    return min(found) if lower_is_better else max(found)


def place_against_curve(point: dict[str, float], curve: Sequence[dict[str, float]], x: str, y: str, noise: float,
                        lower_is_better: bool = True, k: float = 3.0) -> tuple[str, float | None]:
    """Where a generator's (x, y) lies against MLE's temperature curve (Caccia et al. 2020): ("below" | "on" |
    "above" | "outside the sweep", gap), gap = point - curve at the same x. "on" means within `k` * `noise` of it:
    MLE reaches the same trade-off by changing its temperature. With ``lower_is_better`` (NLL) "below" is better."""
    at = curve_value(curve, x, y, point[x], lower_is_better)
    if at is None:
        return "outside the sweep", None
    gap = point[y] - at
    if abs(gap) <= k * noise:
        return "on", gap
    return ("below" if gap < 0 else "above"), gap


def text_metrics(vocab: Vocabulary, references: Sequence[str], n_samples: int, temperature: float = 1.0,
                 train_texts: Sequence[str] | None = None) -> Metrics:
    """On `n_samples` decoded samples: BLEU-2..5 against the reference set (quality), Self-BLEU-2..5 and distinct-2
    (diversity), the share of empty samples (``<eos>`` first; scored as empty texts, never dropped), the unique
    fraction, and, given `train_texts`, the copy rate (samples equal to a training text as the vocabulary sees it).

    References are tokenized as the generator sees text (`Vocabulary.tokenize`): a word outside the vocabulary is
    one ``<unk>`` token on both sides. Definitions of BLEU and Self-BLEU in `heygen_lib.metrics` (`bleu_scores`)."""
    refs = [vocab.tokenize(r) for r in references]
    train_set = {tuple(vocab.tokenize(t)) for t in train_texts} if train_texts is not None else None

    def metrics(generator: TextGenerator) -> dict[str, float]:
        samples = vocab.decode_tokens(generator.sample(n_samples, temperature=temperature))
        values = bleu_scores(samples, refs)
        values["distinct-2"] = distinct_token_lists(samples, 2)
        values["empty"] = sum(not s for s in samples) / len(samples)
        values["unique"] = len({tuple(s) for s in samples}) / len(samples)
        if train_set is not None:
            values["copy_rate"] = sum(tuple(s) in train_set for s in samples) / len(samples)
        return values

    return metrics


def distinct_token_lists(texts: Sequence[list[str]], n: int) -> float:
    """`heygen_lib.metrics.distinct_n` on tokenized texts: distinct n-grams / all n-grams (0.0 if none)."""
    grams = [tuple(t[i : i + n]) for t in texts for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def temperature_sweep(
    generator: TextGenerator, make_metrics: Callable[[float], Metrics], temperatures: Sequence[float]
) -> list[dict[str, float]]:
    """`make_metrics(temperature)(generator)` at each temperature, with the temperature in each row."""
    with eval_mode(generator):
        return [{"temperature": t, **make_metrics(t)(generator)} for t in temperatures]


def run_summary(trainer, metrics: Metrics, held_out: torch.Tensor, reference: float, noise: float,
                k: float = 3.0) -> dict[str, float | str]:
    """One table row for a trained `trainer` (a `GANTrainer`): its final evaluation (recorded in its history), the
    discriminator's accuracy on training vs `held_out` real data (fresh negatives each), and NLL_oracle's move from
    `reference` (MLE's mean), in nats and in evaluation-`noise` standard deviations, read as better, worse or no
    difference beyond `k` of them (`direction`; lower is better)."""
    values = trainer.evaluate(metrics)
    move = values["nll_oracle"] - reference
    row: dict[str, float | str] = {
        "NLL_oracle": values["nll_oracle"], "NLL_test": values["nll_test"], "move": move,
        "move / std": move / noise if noise > 0 else "-", "vs MLE": direction(reference, values["nll_oracle"], noise, k),
        "copy rate": values.get("copy_rate", float("nan")), "unique": values["unique"],
        "distinct-3": values["distinct-3"],
        "D acc train": trainer.discriminator_accuracy(trainer.real[: len(held_out)]),
        "D acc held-out": trainer.discriminator_accuracy(held_out),
    }
    return row


def caccia_reading(name: str, point: dict[str, float], mle_curve: Sequence[dict[str, float]], noise: float,
                   copy: float, memorisation: float = 0.05) -> str:
    """One sentence placing a generator's T = 1 point against MLE's temperature curve (NLL_test on x, NLL_oracle
    on y, both lower-is-better), within 3 x `noise`, naming memorisation when `copy` (its copy rate) reaches
    `memorisation`."""
    where, gap = place_against_curve(point, mle_curve, "nll_test", "nll_oracle", noise)
    text = {
        "below": "**below** MLE's curve: better quality at the same coverage than any temperature of MLE gives",
        "on": "**on** MLE's curve (within 3 std): MLE at another temperature makes the same trade-off",
        "above": "**above** MLE's curve: worse on both counts than MLE at a suitable temperature",
        "outside the sweep": "outside the coverage range MLE's sweep spans, so the curve cannot place it "
                             "(cannot tell at this size)",
    }[where]
    gap_text = "" if gap is None else f" (gap {gap:+.3f} nats, noise std {noise:.3f})"
    memo = (f"; {copy:.1%} of its samples copy a training sequence verbatim: **memorisation**, not learning"
            if copy >= memorisation else "")
    return f"- {name}: {text}{gap_text}{memo}."


def largest_reversal(history: Sequence[Mapping]) -> float:
    """The largest rise of NLL_oracle after a fall, between successive evaluations of one run (nats): how far
    training went back on what it had reached."""
    values = [r["nll_oracle"] for r in history if r["phase"] == "eval"]
    return max([b - min(values[: i + 1]) for i, b in enumerate(values)] + [0.0])


def claims(histories: Mapping[str, Sequence[Mapping]], placement: Mapping[str, str], noise: float,
           steps: int) -> list[dict[str, str]]:
    """Notebook 03's two claims with their verdicts, from every run's history (name -> `GANTrainer.history`) and
    each GAN's place against MLE's temperature curve (name -> its `caccia_reading`): stable (finite losses and no
    reversal beyond 3 `noise` std) and improving (below the curve without memorisation). One seed per method, so
    a verdict is never stronger than "cannot tell" where the evidence is one run."""
    finite = all(math.isfinite(v) for h in histories.values() for r in h for v in r.values() if isinstance(v, float))
    worst_name = max(histories, key=lambda n: largest_reversal(histories[n]))
    worst = largest_reversal(histories[worst_name])
    if not finite:
        stable = "**not supported**: a loss became non-finite"
    elif worst > 3 * noise:
        stable = (f"**not supported**: losses stayed finite, but {worst_name}'s NLL_oracle rose by {worst:.3f} nats "
                  f"after falling (more than 3 std = {3 * noise:.3f}); training does not settle (one seed per method)")
    else:
        stable = (f"**cannot tell at this size**: finite losses and no reversal beyond 3 std, but one seed per "
                  f"method and {steps} steps at most")
    below = [n for n, text in placement.items() if "**below**" in text]
    honest = [n for n in below if "memorisation" not in placement[n]]
    if honest:
        improves = (f"**supported** for {', '.join(honest)}: below MLE's temperature curve without memorisation "
                    "(one seed)")
    elif below:
        improves = f"**not supported**: {', '.join(below)} lie below MLE's curve only by copying their real set"
    elif any("outside the sweep" in text for text in placement.values()):
        improves = "**cannot tell at this size**: a method lies outside the coverage range of MLE's sweep"
    else:
        improves = "**not supported**: every GAN lies on or above MLE's temperature curve; a colder MLE does as well"
    return [{"claim": "GAN training is stable", "verdict": stable},
            {"claim": "adversarial training improves on MLE", "verdict": improves}]
