"""Measuring the dialogue GAN on held-out contexts: MLE-only against adversarially trained generators.

For each held-out context each generator writes one response (sampled at the given temperature, from one shared
random seed). Then:

- **BLEU-2 / BLEU-4**: `heygen_lib.metrics.corpus_bleu`, NLTK's corpus BLEU with smoothing method1, each response
  against the real response to its context (cut as the model sees it, out-of-vocabulary words as ``<unk>``, since
  the generator cannot write them). One reference per context, so scores are low for any model: a fine answer in
  other words scores near 0;
- **distinct-1 / distinct-2**: unique n-grams / all n-grams over all responses (diversity);
- **Self-BLEU-4**: each response against all the other responses, leave-one-out (`metrics.self_bleu`; high = the
  responses resemble each other);
- **length**: mean words per response (the real responses' mean is in the "real" row);
- **NLL**: the generator's per-token NLL of the real responses (lower = it gives the real data more probability;
  adversarial training usually raises it);
- **adversarial success**: the share of generated responses that a discriminator judges real (Li et al. 2017's
  AdverSuc). Which discriminator judges matters; the notebook names it.

With a hundred held-out contexts one sample per context is noisy, so `compare_generators` samples with several
seeds and reports the mean and the spread; `reading` calls a difference within the spread noise, not a result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from heygen_lib.dialogue_gan.data import EncodedPairs, detokenize, response_words
from heygen_lib.dialogue_gan.lstm.discriminator import PairDiscriminator
from heygen_lib.dialogue_gan.lstm.generator import Seq2SeqGenerator
from heygen_lib.dialogue_gan.negatives import mismatched_indices, reversed_responses
from heygen_lib.gan.text_data import Vocabulary
from heygen_lib.metrics import corpus_bleu, distinct_n, self_bleu
from heygen_lib.torch_utils import eval_mode

# Which way is better, for `reading`: +1 higher, -1 lower; length is judged by its distance to the real length.
DIRECTIONS = {"BLEU-2": 1, "BLEU-4": 1, "distinct-1": 1, "distinct-2": 1, "self-BLEU-4": -1, "NLL": -1,
              "adversarial success": 1}


@torch.no_grad()
def generate(generator: Seq2SeqGenerator, data: EncodedPairs, temperature: float = 1.0, seed: int = 0,
             batch_size: int = 256) -> torch.Tensor:
    """One response per context of `data`, in eval mode, from a seeded random stream: ids [N, T] on the CPU."""
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    out = []
    with eval_mode(generator):
        for rows in torch.arange(len(data)).split(batch_size):
            contexts, lengths, _ = data.batch(rows, generator.device)
            out.append(generator.sample(contexts, lengths, temperature, generator=rng)[0].cpu())
    return torch.cat(out)


def texts_of(vocab: Vocabulary, ids: torch.Tensor) -> list[str]:
    """Readable responses from ids (`data.detokenize`)."""
    return [detokenize(words) for words in response_words(vocab, ids)]


def text_metrics(texts: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """BLEU-2/4 against aligned references, distinct-1/2, Self-BLEU-4 and mean length in words (see module doc)."""
    return {
        "BLEU-2": corpus_bleu(texts, references, max_n=2).score,
        "BLEU-4": corpus_bleu(texts, references, max_n=4).score,
        "distinct-1": distinct_n(texts, 1),
        "distinct-2": distinct_n(texts, 2),
        "self-BLEU-4": self_bleu(texts, max_n=4).score,
        "length": sum(len(t.split()) for t in texts) / len(texts),
    }


@torch.no_grad()
def nll(generator: Seq2SeqGenerator, data: EncodedPairs, batch_size: int = 256) -> float:
    """Mean per-token NLL of `data`'s real responses under `generator` (eval mode)."""
    with eval_mode(generator):
        values = [generator.nll(*data.batch(rows, generator.device))
                  for rows in torch.arange(len(data)).split(batch_size)]
    return torch.cat(values).mean().item()


@dataclass(frozen=True)
class Comparison:
    """Metrics of each generator (and of the real responses), as the mean and the spread (standard deviation) over
    sampling seeds. The spread is the noise floor: a difference smaller than it is not a finding."""

    means: dict[str, dict[str, float]]
    spreads: dict[str, dict[str, float]]
    seeds: tuple[int, ...]

    def rows(self, digits: int = 3) -> list[dict[str, str]]:
        """Table rows, each value as "mean ± spread" (just the mean where the spread is 0)."""
        out = []
        for name, means in self.means.items():
            row = {"generator": name}
            for metric, mean in means.items():
                spread = self.spreads[name][metric]
                row[metric] = f"{mean:.{digits}f}" + (f" ± {spread:.{digits}f}" if spread > 0 else "")
            out.append(row)
        return out


def compare_generators(
    generators: Mapping[str, Seq2SeqGenerator],
    discriminator: PairDiscriminator,
    data: EncodedPairs,
    vocab: Vocabulary,
    temperature: float = 1.0,
    seeds: Sequence[int] = (0, 1, 2),
) -> Comparison:
    """The module's metrics for each generator, one response per context per seed, averaged over the seeds. The
    first entry, "real responses", scores the real responses the same way (their NLL is not defined: nan)."""
    references = texts_of(vocab, data.responses)
    contexts, lengths = data.contexts.to(discriminator.device), data.context_lengths
    real = {**text_metrics(references, references), "NLL": float("nan"),
            "adversarial success": _share_real(discriminator, contexts, lengths, data.responses)}
    means, spreads = {"real responses": real}, {"real responses": dict.fromkeys(real, 0.0)}
    for name, generator in generators.items():
        runs, teacher_forced = [], nll(generator, data)  # no sampling in the NLL: the same for every seed
        for seed in seeds:
            ids = generate(generator, data, temperature, seed)
            runs.append({**text_metrics(texts_of(vocab, ids), references), "NLL": teacher_forced,
                         "adversarial success": _share_real(discriminator, contexts, lengths, ids)})
        values = {metric: torch.tensor([run[metric] for run in runs], dtype=torch.float64) for metric in runs[0]}
        means[name] = {metric: v.mean().item() for metric, v in values.items()}
        spreads[name] = {metric: v.std(unbiased=False).item() for metric, v in values.items()}
    return Comparison(means, spreads, tuple(seeds))


def _share_real(discriminator: PairDiscriminator, contexts: torch.Tensor, lengths: torch.Tensor,
                responses: torch.Tensor) -> float:
    probs = discriminator.probability(contexts, lengths, responses.to(contexts.device))
    return (probs > 0.5).float().mean().item()


def discriminator_accuracy(
    discriminator: PairDiscriminator,
    generator: Seq2SeqGenerator,
    data: EncodedPairs,
    vocab: Vocabulary,
    temperature: float = 1.0,
    seed: int = 0,
    reversal: str = "word",
) -> dict[str, float]:
    """The discriminator's accuracy on held-out pairs, by kind: real pairs (share judged real) and each negative kind
    (share judged fake): the generator's responses, mismatched responses from other dialogues, reversed ones."""
    device = discriminator.device
    contexts, lengths, responses = data.batch(torch.arange(len(data)), device)
    others = mismatched_indices(data.dialogue_ids, torch.arange(len(data)), torch.Generator().manual_seed(seed))
    flipped = reversed_responses([p.response.text for p in data.pairs], vocab, data.responses.size(1), reversal)
    ok = flipped.available.to(device)
    kinds = {
        "real": (contexts, lengths, responses),
        "generated": (contexts, lengths, generate(generator, data, temperature, seed).to(device)),
        "mismatched": (contexts, lengths, responses[others.to(device)]),
        "reversed": (contexts[ok], lengths[ok.cpu()], flipped.responses.to(device)[ok]),
    }
    return {kind: ((discriminator.probability(*batch) > 0.5) == (kind == "real")).float().mean().item()
            for kind, batch in kinds.items()}


def side_by_side(generators: Mapping[str, Seq2SeqGenerator], data: EncodedPairs, vocab: Vocabulary, n: int = 5,
                 temperature: float = 1.0, seed: int = 0) -> list[dict[str, str]]:
    """The first `n` held-out contexts (their last turn), the real response and each generator's response."""
    sample = data.subset(range(min(n, len(data))))
    rows = [{"context (last turn)": p.context[-1].text, "real": t}
            for p, t in zip(sample.pairs, texts_of(vocab, sample.responses))]
    for name, generator in generators.items():
        for row, text in zip(rows, texts_of(vocab, generate(generator, sample, temperature, seed))):
            row[name] = text
    return rows


def reading(comparison: Comparison, candidate: str, baseline: str) -> str:
    """One honest sentence from a comparison: the metrics where `candidate` beats `baseline`, where it does worse,
    and where the difference is within noise (no larger than the sum of the two seed spreads plus 1% of the larger
    value: NLL has no seed spread, and a thousandth of a nat is not a finding). Length counts as better when closer
    to the real responses' length."""
    new, old, real = (comparison.means[n] for n in (candidate, baseline, "real responses"))
    better, worse, noise = [], [], []
    for metric in [*DIRECTIONS, "length"]:
        if metric == "length":
            a, b = -abs(new[metric] - real[metric]), -abs(old[metric] - real[metric])
        else:
            a, b = DIRECTIONS[metric] * new[metric], DIRECTIONS[metric] * old[metric]
        margin = comparison.spreads[candidate][metric] + comparison.spreads[baseline][metric]
        margin += 0.01 * max(abs(new[metric]), abs(old[metric]))
        (noise if abs(a - b) <= margin else better if a > b else worse).append(metric)

    def listed(metrics: list[str]) -> str:
        return ", ".join(metrics) if metrics else "nothing"

    return (f"The {candidate} generator beats {baseline} on {listed(better)}; it does worse on {listed(worse)}; "
            f"the difference is within the seed-to-seed noise on {listed(noise)}.")


def plot_discriminator_accuracy(history: Sequence[Mapping[str, object]], title: str = "") -> Figure:
    """The discriminator's training-batch accuracy on each kind over its updates (pre-training and adversarial),
    smoothed over 10 updates: how well it tells real pairs from each kind of negative as the generator changes."""
    rows = [r for r in history if r["phase"] == "discriminator"]
    fig = Figure(figsize=(7.5, 3.5), layout="constrained")
    ax = fig.subplots()
    for kind in ("real", "generated", "mismatched", "reversed"):
        values = [float(r[f"acc_{kind}"]) for r in rows if f"acc_{kind}" in r]
        if values:
            windows = [values[max(0, i - 9) : i + 1] for i in range(len(values))]
            smooth = [sum(window) / len(window) for window in windows]
            ax.plot(range(1, len(values) + 1), smooth, label=kind)
    starts = [i for i, r in enumerate(history) if r["phase"] == "adversarial"]
    if starts:
        first = sum(1 for r in history[: starts[0]] if r["phase"] == "discriminator")
        ax.axvline(first + 0.5, color="grey", linestyle="--", linewidth=1)
        ax.annotate("adversarial training starts", (first + 0.5, 0.95), fontsize=8, color="grey", xytext=(4, 0),
                    textcoords="offset points")
    ax.set(xlabel="discriminator update", ylabel="accuracy (10-update mean)", ylim=(0, 1.02),
           title=title or "Discriminator accuracy by kind of pair")
    ax.axhline(0.5, color="black", linewidth=0.5)
    ax.legend(frameon=False, fontsize=8, ncol=4, loc="lower right")
    return fig
