"""Measuring text GANs: the oracle benchmark's two NLLs, BLEU and Self-BLEU on real text, and temperature sweeps.

Quality alone misleads (Caccia et al. 2020, "Language GANs Falling Short"): lowering an MLE model's sampling
temperature improves every quality-only number while diversity collapses. So each trained generator is also swept
over temperatures and drawn as a curve, quality against diversity; a GAN only wins if its curve is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import torch

from heygen_lib.gan.generators import TextGenerator
from heygen_lib.gan.oracle import nll_oracle, nll_test
from heygen_lib.gan.text_data import Vocabulary
from heygen_lib.metrics import bleu_scores
from heygen_lib.torch_utils import eval_mode

if TYPE_CHECKING:
    from heygen_lib.gan.collapse import CollapseCheck

Metrics = Callable[[TextGenerator], dict[str, float]]
NOT_FLAGGED = "none"  # a collapse check's verdict when nothing is flagged (`collapse.CollapseCheck.flag`)


def is_flagged(collapse: str) -> bool:
    """Whether a collapse verdict (`collapse.CollapseCheck.flag`; "" where no check ran) flags a collapse."""
    return collapse not in ("", NOT_FLAGGED)


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


def evaluation_noise(metrics: Metrics, generator: TextGenerator, repeats: int = 30,
                     reuse: Sequence[Mapping[str, float]] = ()) -> dict[str, tuple[float, float]]:
    """Each metric's (mean, standard deviation) over `repeats` evaluations of the same weights by the same
    `metrics` (the call that makes the compared numbers, so the same samples per evaluation and the same code):
    the noise any comparison of one evaluation against another must clear. `reuse`: evaluations of these weights
    by this very `metrics` already made (e.g. the training curve's last point), counted among the repeats instead
    of drawn again. A difference counts as a move only beyond 3 standard deviations (`moved`)."""
    if repeats < 2:
        raise ValueError(f"need at least 2 repeats for a standard deviation, got {repeats}")
    runs = [dict(r) for r in reuse][:repeats]
    with eval_mode(generator):
        runs += [metrics(generator) for _ in range(repeats - len(runs))]
    out = {}
    for key in metrics_keys(runs):
        values = torch.tensor([r[key] for r in runs], dtype=torch.float64)
        out[key] = (values.mean().item(), values.std().item())
    return out


def metrics_keys(runs: Sequence[Mapping[str, float]]) -> list[str]:
    """The names with a float value in every run: the metrics (a reused training record also holds its phase and
    integer step counters, which are not measurements)."""
    return [key for key in runs[0] if all(isinstance(r.get(key), float) for r in runs)]


def chi2_quantile(p: float, dof: int) -> float:
    """The `p` quantile of a chi-square distribution with `dof` degrees of freedom (bisection on its CDF)."""
    half_dof = torch.tensor(dof / 2, dtype=torch.float64)
    lo, hi = 0.0, dof + 40.0 * math.sqrt(dof) + 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        cdf = torch.special.gammainc(half_dof, torch.tensor(mid / 2, dtype=torch.float64)).item()
        lo, hi = (mid, hi) if cdf < p else (lo, mid)
    return (lo + hi) / 2


def std_interval(std: float, repeats: int, level: float = 0.95) -> tuple[float, float]:
    """How well `repeats` evaluations pin down a standard deviation: the chi-square interval for the true std
    given the measured `std` (normal evaluations). 5 repeats leave it uncertain by a factor of about 3
    (0.60 to 2.87 times the measured value), 30 by about 1.7 (0.80 to 1.34)."""
    dof = repeats - 1
    tail = (1 - level) / 2
    return (std * math.sqrt(dof / chi2_quantile(1 - tail, dof)), std * math.sqrt(dof / chi2_quantile(tail, dof)))


@torch.no_grad()
def nll_test_noise(generator: TextGenerator, reference: TextGenerator, test_data: torch.Tensor,
                   pad_id: int | None = None) -> float:
    """NLL_test's noise for a comparison of `generator` with `reference` (e.g. MLE): both score the same fixed test
    sequences, so repeating an evaluation gives the same number, and what could still move the difference is which
    sequences the test set holds. That is the standard error of the per-sequence difference of mean NLLs (paired:
    the part of the test set both generators find hard cancels); `pad_id` tokens are left out (real text)."""
    def per_sequence(model: TextGenerator, chunk: torch.Tensor) -> torch.Tensor:
        nll = model.token_nll(chunk.to(model.device)).double().cpu()  # [B, T]
        real = chunk != pad_id if pad_id is not None else torch.ones_like(chunk, dtype=torch.bool)
        return (nll * real).sum(1) / real.sum(1).clamp(min=1)

    with eval_mode(generator, reference):
        diff = torch.cat([per_sequence(generator, c) - per_sequence(reference, c) for c in test_data.split(500)])
    return diff.std().item() / math.sqrt(len(diff))


def moved(before: float, after: float, std: float, k: float = 3.0) -> bool:
    """Whether `after` differs from `before` by more than `k` evaluation-noise standard deviations."""
    return abs(after - before) > k * std


def direction(before: float, after: float, std: float, k: float = 3.0, lower_is_better: bool = True) -> str:
    """"better", "worse" or "no difference": `after` read against `before` only once it `moved` beyond `k`
    evaluation-noise standard deviations, in the metric's own direction (lower is better for an NLL)."""
    if not moved(before, after, std, k):
        return "no difference"
    return "better" if (after < before) == lower_is_better else "worse"


def curve_window(curve: Sequence[dict[str, float]], x: str, y: str, at: float, half_width: float = 0.0
                 ) -> list[tuple[float, float]]:
    """The `y` values the curve takes while `x` is within `half_width` of `at`: one (lowest, highest) pair per
    segment between neighbouring temperatures that enters that window (never joining points across the sweep, so
    a curve that turns back on itself, as a sweep does past the coverage optimum, gives one pair per branch).
    Empty outside the range the sweep covers."""
    points = [(r[x], r[y]) for r in sorted(curve, key=lambda r: r["temperature"])]
    parts = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 == x1:
            if abs(x0 - at) <= half_width:
                parts.append((min(y0, y1), max(y0, y1)))
            continue
        ends = ((at - half_width - x0) / (x1 - x0), (at + half_width - x0) / (x1 - x0))  # where x meets the window
        lo, hi = max(0.0, min(ends)), min(1.0, max(ends))
        if lo <= hi:
            ys = (y0 + (y1 - y0) * lo, y0 + (y1 - y0) * hi)
            parts.append((min(ys), max(ys)))
    return parts


def place_against_curve(point: dict[str, float], curve: Sequence[dict[str, float]], x: str, y: str, noise: float,
                        lower_is_better: bool = True, k: float = 3.0, noise_x: float = 0.0
                        ) -> tuple[str, float | None]:
    """Where a generator's (x, y) lies against MLE's temperature curve (Caccia et al. 2020), with noise on both
    axes: ("below" | "on" | "above" | "outside the sweep", gap). The curve is read over the x-window
    ``point.x +- k * noise_x`` (an x-difference inside the noise is no difference, and near the coverage optimum a
    tiny step in x is a large step in y); "on" when some part of it there is within `k` * `noise` of the point's y:
    MLE at some temperature reaches the same trade-off within the noise. Otherwise "below" or "above" all of it
    (a point between two branches is read against the better one). gap: the point's y minus the nearest curve y
    in the window. With ``lower_is_better`` (NLL) "below" is better."""
    parts = curve_window(curve, x, y, point[x], k * noise_x)
    if not parts:
        return "outside the sweep", None
    gaps = [point[y] - hi if point[y] > hi else point[y] - lo if point[y] < lo else 0.0 for lo, hi in parts]
    if any(abs(g) <= k * noise for g in gaps):
        return "on", min(gaps, key=abs)
    below, above = [g for g in gaps if g < 0], [g for g in gaps if g > 0]
    if not above or (below and not lower_is_better):
        return "below", max(below)
    return "above", min(above)


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
    generator: TextGenerator, make_metrics: Callable[[float], Metrics], temperatures: Sequence[float],
    measured: Mapping[float, Mapping[str, float]] | None = None,
) -> list[dict[str, float]]:
    """`make_metrics(temperature)(generator)` at each temperature, with the temperature in each row. `measured`:
    rows this generator already has at some temperatures by the same evaluation (e.g. its results-table row at
    T = 1), used as they are, so the curve passes through the table's number instead of a second draw of it."""
    measured = measured or {}
    with eval_mode(generator):
        return [{"temperature": t, **(measured[t] if t in measured else make_metrics(t)(generator))}
                for t in temperatures]


def run_summary(trainer, metrics: Metrics, held_out: torch.Tensor, reference: float, noise: float,
                k: float = 3.0, collapse: CollapseCheck | None = None) -> dict[str, float | str]:
    """One table row for a trained `trainer` (a `GANTrainer`): its final evaluation (the training curve's last point
    when `metrics` made it, `GANTrainer.evaluate(reuse=True)`, so the table and the curve show one number), the
    discriminator's accuracy on training vs `held_out` real data (fresh negatives each), and NLL_oracle's move from
    `reference` (MLE's mean), in nats and in evaluation-`noise` standard deviations, read as better, worse or no
    difference beyond `k` of them (`direction`; lower is better). Given a `collapse` check, its flag too, and a
    flagged row is not ranked: "vs MLE" says "collapsed" instead of better or worse; and NLL_test's noise against
    the check's reference ("NLL_test std", `nll_test_noise`)."""
    values = trainer.evaluate(metrics, reuse=True)
    move = values["nll_oracle"] - reference
    nll_std = collapse.coverage_noise(trainer.generator) if collapse is not None else math.nan
    flag = collapse.flag(trainer.generator, values, coverage_std=nll_std) if collapse is not None else ""
    row: dict[str, float | str] = {
        "NLL_oracle": values["nll_oracle"], "NLL_test": values["nll_test"], "move": move,
        "move / std": move / noise if noise > 0 else "-",
        "vs MLE": "collapsed: not ranked" if is_flagged(flag) else direction(reference, values["nll_oracle"], noise, k),
        "copy rate": values.get("copy_rate", float("nan")), "unique": values["unique"],
        "distinct-3": values["distinct-3"],
        "D acc train": trainer.discriminator_accuracy(trainer.real[: len(held_out)]),
        "D acc held-out": trainer.discriminator_accuracy(held_out),
    }
    if collapse is not None:
        row["NLL_test std"] = nll_std
        row["collapse"] = flag
    return row


def caccia_reading(name: str, point: dict[str, float], mle_curve: Sequence[dict[str, float]], noise: float,
                   copy: float, noise_x: float = 0.0, collapse: str = "", memorisation: float = 0.05) -> str:
    """One sentence placing a generator's T = 1 point against MLE's temperature curve (NLL_test on x, NLL_oracle
    on y, both lower-is-better) within 3 x the noise on each axis (`noise` in NLL_oracle, `noise_x` in NLL_test,
    `place_against_curve`), naming memorisation when `copy` (its copy rate) reaches `memorisation` and a
    `collapse` flag (`collapse.CollapseCheck.flag`) when there is one: either makes "below" no improvement."""
    where, gap = place_against_curve(point, mle_curve, "nll_test", "nll_oracle", noise, noise_x=noise_x)
    text = {
        "below": "**below** MLE's curve: better quality at the same coverage than any temperature of MLE gives",
        "on": "**on** MLE's curve (within 3 std on both axes): MLE at some temperature makes the same trade-off",
        "above": "**above** MLE's curve: worse quality at the same coverage than MLE at a suitable temperature",
        "outside the sweep": "outside the coverage range MLE's sweep spans, so the curve cannot place it "
                             "(cannot tell at this size)",
    }[where]
    gap_text = ("" if gap is None else f" (gap {gap:+.3f} nats = {gap / noise:+.1f} std; noise std {noise:.3f} "
                f"in NLL_oracle, {noise_x:.3f} in NLL_test)")
    memo = (f"; {copy:.1%} of its samples copy a training sequence verbatim: **memorisation**, not learning"
            if copy >= memorisation else "")
    collapsed = f"; **collapse** flagged ({collapse})" if is_flagged(collapse) else ""
    return f"- {name}: {text}{gap_text}{memo}{collapsed}."


def text_reading(name: str, point: Mapping[str, float], mle_curve: Sequence[dict[str, float]],
                 noise: Mapping[str, float], collapse: str = "", k: float = 3.0) -> str:
    """A real-text generator's T = 1 point against MLE's temperature curve, before any BLEU verdict (Self-BLEU-4 on
    x, lower is more diverse; BLEU-4 on y, higher is better; each axis within `k` std of its `noise`): a higher
    BLEU-4 ranks a generator above MLE only when it lies above MLE's curve and no `collapse` is flagged, because a
    colder MLE also raises BLEU-4 by giving up diversity."""
    where, gap = place_against_curve(point, mle_curve, "self-BLEU-4", "BLEU-4", noise["BLEU-4"], lower_is_better=False,
                                     k=k, noise_x=noise["self-BLEU-4"])
    text = {
        "above": "**above** MLE's curve: more BLEU-4 at the same diversity than any temperature of MLE gives",
        "on": f"**on** MLE's curve (within {k:g} std on both axes): MLE at some temperature gives the same BLEU-4 "
              "at the same Self-BLEU-4",
        "below": "**below** MLE's curve: less BLEU-4 at the same diversity than MLE at a suitable temperature",
        "outside the sweep": "outside the diversity range MLE's sweep spans (cannot tell at this size)",
    }[where]
    gap_text = "" if gap is None else f" (gap {gap:+.3f} BLEU-4 = {gap / noise['BLEU-4']:+.1f} std)"
    if is_flagged(collapse):
        verdict = f"; **collapse** flagged ({collapse}): its BLEU-4 is not ranked"
    elif where == "above":
        verdict = "; BLEU-4 ranks it above MLE"
    else:
        verdict = "; no BLEU-4 verdict beyond what a temperature gives"
    return f"- {name}: {text}{gap_text}{verdict}."


def largest_reversal(history: Sequence[Mapping]) -> float:
    """The largest rise of NLL_oracle after a fall, between successive evaluations of one run (nats): how far
    training went back on what it had reached."""
    values = [r["nll_oracle"] for r in history if r["phase"] == "eval"]
    return max([b - min(values[: i + 1]) for i, b in enumerate(values)] + [0.0])


def claims(histories: Mapping[str, Sequence[Mapping]], placement: Mapping[str, str], noise: float,
           steps: int) -> list[dict[str, str]]:
    """Notebook 03's two claims with their verdicts, from every run's history (name -> `GANTrainer.history`) and
    each GAN's place against MLE's temperature curve (name -> its `caccia_reading`): stable (finite losses and no
    reversal beyond 3 `noise` std) and improving (below the curve without memorisation or collapse). One seed per
    method, so a verdict is never stronger than "cannot tell" where the evidence is one run."""
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
    honest = [n for n in below if "memorisation" not in placement[n] and "**collapse**" not in placement[n]]
    if honest:
        improves = (f"**supported** for {', '.join(honest)}: below MLE's temperature curve without memorisation "
                    "or collapse (one seed)")
    elif below:
        improves = (f"**not supported**: {', '.join(below)} lie below MLE's curve only by copying their real set "
                    "or collapsing")
    elif any("outside the sweep" in text for text in placement.values()):
        improves = "**cannot tell at this size**: a method lies outside the coverage range of MLE's sweep"
    else:
        improves = "**not supported**: every GAN lies on or above MLE's temperature curve; a colder MLE does as well"
    return [{"claim": "GAN training is stable", "verdict": stable},
            {"claim": "adversarial training improves on MLE", "verdict": improves}]
