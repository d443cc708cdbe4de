"""The LSTM contrast's export: generate responses to training contexts, filter and score them, keep the best.

`export_candidates` runs, in order, counting what each step removes (nothing is dropped silently):

1. generate one response per chosen training context (contexts drawn without replacement, cycling when more
   candidates than contexts are asked for);
2. **unfinished**: drop responses that never wrote ``<eos>`` (cut off at the length limit, mid-sentence);
3. **unknown words**: drop responses with ``<unk>``, a word outside the vocabulary that no one can train on;
4. notebook 02's quality filters (`default_filters`): exact copies of a training response or of an earlier
   candidate (a copy adds nothing new), length, near duplicates among the candidates (a generator repeating
   itself), and perplexity under an n-gram LM of the real responses (reads like the data?);
5. **discriminator score** below `min_score`, then all but the `keep` best-scoring.

The kept pairs carry the provenance `dialogue_gan.export` describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from heygen_lib.augment.base import origin_key
from heygen_lib.augment.filters import PerplexityFilter, QualityFilter, apply_filters
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pair_files import save_pairs
from heygen_lib.dialogue_gan.data import EncodedPairs, has_eos
from heygen_lib.dialogue_gan.export import (ExportReport, ExportResult, ExportStep, candidates_path, default_filters,
                                            file_sha256)
from heygen_lib.dialogue_gan.lstm.discriminator import PairDiscriminator
from heygen_lib.dialogue_gan.lstm.evaluation import generate, texts_of
from heygen_lib.dialogue_gan.lstm.generator import Seq2SeqGenerator
from heygen_lib.dialogue_gan.review import candidate_key
from heygen_lib.gan.text_data import UNK, Vocabulary


def export_candidates(
    generator: Seq2SeqGenerator,
    discriminator: PairDiscriminator,
    train: EncodedPairs,
    vocab: Vocabulary,
    n: int,
    keep: int,
    *,
    checkpoint: str | Path,
    model: str = "dialogue-gan seq2seq-lstm",
    temperature: float = 1.0,
    seed: int = 0,
    min_score: float = 0.0,
    filters: Sequence[QualityFilter] | None = None,
    path: str | Path | None = None,
) -> ExportResult:
    """Generate `n` candidates from training contexts, filter, score, keep the best `keep` (see the module doc) and
    write them to `path` (default `candidates_path()`). `checkpoint` is the saved trainer whose generator this is;
    its SHA-256 goes into every candidate's provenance. Raises ValueError (with the report) when nothing is kept,
    rather than leave an older candidates file in place."""
    if n < 1 or keep < 1:
        raise ValueError(f"need n >= 1 and keep >= 1, got {n} and {keep}")
    checkpoint = Path(checkpoint)
    sha = file_sha256(checkpoint)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    rows = order.repeat((n + len(train) - 1) // len(train))[:n]
    chosen = train.subset(rows)
    ids = generate(generator, chosen, temperature, seed)
    texts = texts_of(vocab, ids)
    steps: list[ExportStep] = []

    alive = has_eos(ids).numpy()
    steps.append(ExportStep("unfinished", int((~alive).sum()), f"no <eos> within {ids.size(1)} tokens"))
    unknown = np.array([UNK in t for t in texts]) & alive
    alive &= ~unknown
    steps.append(ExportStep("unknown words", int(unknown.sum()), f"contains {UNK}"))

    filters = list(filters) if filters is not None else default_filters(texts_of(vocab, train.responses), ids.size(1))
    index = np.flatnonzero(alive)
    mask, reports = apply_filters([texts[i] for i in index], [None] * len(index), filters)
    steps += [ExportStep(r.filter, r.dropped, r.threshold) for r in reports]
    index = index[mask]

    scores = discriminator.probability(chosen.contexts[index].to(discriminator.device),
                                       chosen.context_lengths[index], ids[index].to(discriminator.device)).numpy()
    above = scores >= min_score
    steps.append(ExportStep("discriminator score", int((~above).sum()), f"P(real) < {min_score}"))
    index, scores = index[above], scores[above]
    best = np.argsort(-scores, kind="stable")[:keep]
    steps.append(ExportStep("rank", len(index) - len(best), f"beyond the best {keep} by P(real)"))
    index, scores = index[best], scores[best]

    kept_texts = [texts[i] for i in index]
    perplexity = {f.name: f.scorer.perplexity(kept_texts) for f in filters if isinstance(f, PerplexityFilter)}
    config = asdict(generator.config)
    candidates = []
    for rank, (i, score) in enumerate(zip(index.tolist(), scores.tolist())):
        source = chosen.pairs[i]
        provenance = {
            "generator": model, "config": config, "checkpoint": str(checkpoint), "checkpoint_sha256": sha,
            "seed": seed, "temperature": temperature, "from": origin_key(source),
            "context_dialogue_id": source.dialogue_id, "rank": rank,
            "scores": {"discriminator": score, **{k: float(v[rank]) for k, v in perplexity.items()}},
        }
        pair = replace(source, response=Turn(source.response.speaker, texts[i]), source="gan",
                       meta={"provenance": provenance})
        candidates.append(replace(pair, meta={**pair.meta, "candidate_key": candidate_key(pair)}))
    report = ExportReport(n, steps, len(candidates))
    if not candidates:
        raise ValueError(f"no candidate survived the export; generate more or lower min_score:\n{report}")
    return ExportResult(candidates, report, save_pairs(candidates, path or candidates_path()))
