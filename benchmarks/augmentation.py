"""Throughput of the augmenters and filters on the support set's agent responses, with same-run baselines.

    .venv/bin/python benchmarks/augmentation.py            # full sizes (a few minutes on 2 cores)
    .venv/bin/python benchmarks/augmentation.py --quick    # small sizes

Prints pairs/second for every augmenter, and three ratios against a straightforward baseline measured in the same run:
back-translation batched vs one text at a time (tiny offline models: they measure the code path, not MarianMT; and
Apertium, one process per batch vs one per text),
the near-duplicate filter's MinHash-LSH vs comparing every pair exactly, and the kit's Self-BLEU vs NLTK's
sentence_bleu averaged. Device and sizes are printed with the results.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Callable

import torch

from heygen_lib.augment import augment_pairs
from heygen_lib.augment.apertium import ApertiumBackTranslator, apertium_available
from heygen_lib.augment.backtranslate import BackTranslationConfig, BackTranslator
from heygen_lib.augment.filters import NearDuplicateFilter
from heygen_lib.augment.perturb import RandomDeletion, RandomInsertion, RandomSwap, SynonymReplacement, Typos
from heygen_lib.augment.reversal import SentenceReversal, WordReversal
from heygen_lib.augment.wordnet import load_wordnet
from heygen_lib.data import prepare_pairs
from heygen_lib.metrics import self_bleu
from heygen_lib.paths import artifacts_dir
from heygen_lib.profile import device
from heygen_lib.tiny_models import tiny_translation_pair


def seconds(work: Callable[[], object], repeat: int = 3) -> float:
    """Best wall-clock time of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def nltk_self_bleu(texts: list[str]) -> float:
    """The baseline: NLTK's sentence_bleu of each text against all others, averaged."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    from heygen_lib.text import word_tokens

    tokens = [word_tokens(t) for t in texts]
    smooth = SmoothingFunction().method1
    return sum(
        sentence_bleu(tokens[:i] + tokens[i + 1 :], hyp, smoothing_function=smooth) for i, hyp in enumerate(tokens)
    ) / len(tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    args = parser.parse_args()
    n_bleu, n_dup, n_bt = (100, 500, 32) if args.quick else (300, 3000, 128)

    prepared = prepare_pairs("support")
    pairs = prepared.train
    texts = [p.response.text for p in pairs]
    print(f"device {device()}, torch {torch.__version__}, {torch.get_num_threads()} threads; {len(pairs)} pairs\n")

    load_wordnet()
    print("augmenter             pairs/s")
    for augmenter in (SynonymReplacement(), RandomInsertion(), RandomSwap(), RandomDeletion(), Typos(),
                      WordReversal(), SentenceReversal()):
        augment_pairs(pairs[:20], augmenter)  # warm caches (WordNet lookups)
        took = seconds(lambda: augment_pairs(pairs, augmenter))
        print(f"  {augmenter.name:<20} {len(pairs) / took:>8.0f}")

    forward, backward = tiny_translation_pair(texts, artifacts_dir() / "tiny-translation")
    sample = texts[:n_bt]
    rates = {}
    for batch in (1, 32):
        translator = BackTranslator(BackTranslationConfig(str(forward), str(backward), batch_size=batch, max_length=32))
        rates[batch] = n_bt / seconds(lambda: translator.augment(sample, random.Random(0)), repeat=1)
    print(f"\nback-translation (tiny models, max 32 tokens): batch 1 {rates[1]:.1f} texts/s, batch 32 {rates[32]:.1f}"
          f" texts/s: x{rates[32] / rates[1]:.1f}")
    if apertium_available():
        apertium, few = ApertiumBackTranslator(), min(16, n_bt)
        batched = n_bt / seconds(lambda: apertium.augment(sample, random.Random(0)), repeat=1)
        alone = few / seconds(lambda: [apertium.augment([text], random.Random(0)) for text in sample[:few]], repeat=1)
        print(f"back-translation (Apertium, rule-based): one batch {batched:.0f} texts/s, one call per text "
              f"{alone:.1f} texts/s: x{batched / alone:.0f}")
    else:
        print("back-translation (Apertium): not installed, skipped (apt-get install apertium apertium-eng-spa)")

    pool = list(itertools.islice(itertools.cycle(texts), n_dup))
    rng = random.Random(0)
    edited = [" ".join(w for w in t.split() if rng.random() > 0.1) or t for t in pool]
    near = NearDuplicateFilter(threshold=0.8)
    lsh = seconds(lambda: near(edited, pool), repeat=1)
    brute = seconds(lambda: [near.jaccard(a, b) for a, b in zip(edited, pool)], repeat=1)
    m = 200  # all-pairs comparison measured on m texts and scaled by pair count
    all_pairs = seconds(lambda: [near.jaccard(a, b) for a, b in itertools.combinations(edited[:m], 2)], repeat=1)
    estimate = brute + all_pairs * (n_dup * (n_dup - 1) / 2) / (m * (m - 1) / 2)
    print(f"near duplicates on {n_dup} texts: MinHash-LSH {lsh:.2f} s, exact all pairs (estimated from {m}) "
          f"{estimate:.0f} s: x{estimate / lsh:.0f}")

    bleu_texts = texts[:n_bleu]
    ours = seconds(lambda: self_bleu(bleu_texts), repeat=1)
    theirs = seconds(lambda: nltk_self_bleu(bleu_texts), repeat=1)
    print(f"Self-BLEU-4 on {n_bleu} texts: kit {ours:.2f} s, NLTK sentence_bleu {theirs:.1f} s: x{theirs / ours:.0f}")


if __name__ == "__main__":
    main()
