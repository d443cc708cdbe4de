"""Measuring text GANs: the oracle benchmark's two NLLs, BLEU and Self-BLEU on real text, and temperature sweeps.

Quality alone misleads (Caccia et al. 2020, "Language GANs Falling Short"): lowering an MLE model's sampling
temperature improves every quality-only number while diversity collapses. So each trained generator is also swept
over temperatures and drawn as a curve, quality against diversity; a GAN only wins if its curve is better.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from heygen_lib.gan.generators import TextGenerator, eval_mode
from heygen_lib.gan.oracle import nll_oracle, nll_test
from heygen_lib.gan.text_data import Vocabulary
from heygen_lib.metrics import bleu_vs_set, distinct_n, self_bleu
from heygen_lib.text import word_tokens

Metrics = Callable[[TextGenerator], dict[str, float]]


@torch.no_grad()
def distinct_token_ngrams(samples: torch.Tensor, n: int) -> float:
    """Distinct n-grams of token ids / all n-grams, over sequences [N, T] (n-grams never cross sequences)."""
    grams = samples.unfold(1, n, 1).reshape(-1, n)
    return len(torch.unique(grams, dim=0)) / len(grams)


def oracle_metrics(oracle: TextGenerator, test_data: torch.Tensor, n_samples: int, temperature: float = 1.0) -> Metrics:
    """NLL_oracle of `n_samples` of the generator's samples (quality), the generator's NLL of held-out oracle data
    (coverage, NLL_test), per token, both at `temperature`; and distinct-3, the share of distinct token trigrams among
    all trigrams of the samples (mode collapse drives it down)."""

    def metrics(generator: TextGenerator) -> dict[str, float]:
        samples = generator.sample(n_samples, temperature=temperature)
        return {
            "nll_oracle": nll_oracle(oracle, samples),
            "nll_test": nll_test(generator, test_data, temperature=temperature),
            "distinct-3": distinct_token_ngrams(samples, 3),
        }

    return metrics


def text_metrics(vocab: Vocabulary, references: Sequence[str], n_samples: int, temperature: float = 1.0) -> Metrics:
    """BLEU-2..5 of `n_samples` decoded samples against the reference set (quality), their Self-BLEU-4 and distinct-2
    (diversity); definitions and signatures in `heygen_lib.metrics`."""
    known = set(vocab.tokens)
    references = [" ".join(w if w in known else "<unk>" for w in word_tokens(r)) for r in references]  # as decoded

    def metrics(generator: TextGenerator) -> dict[str, float]:
        texts = [t for t in vocab.decode(generator.sample(n_samples, temperature=temperature)) if t] or [""]
        values = {f"BLEU-{n}": bleu_vs_set(texts, references, max_n=n).score for n in (2, 3, 4, 5)}
        values["self-BLEU-4"] = self_bleu(texts, max_n=4).score if len(texts) > 1 else 1.0
        values["distinct-2"] = distinct_n(texts, 2)
        return values

    return metrics


def temperature_sweep(
    generator: TextGenerator, make_metrics: Callable[[float], Metrics], temperatures: Sequence[float]
) -> list[dict[str, float]]:
    """`make_metrics(temperature)(generator)` at each temperature, with the temperature in each row."""
    with eval_mode(generator):
        return [{"temperature": t, **make_metrics(t)(generator)} for t in temperatures]
