"""What every export of generated pairs shares: where candidates are written, the checkpoint's hash, notebook 02's
quality filters, and the step-by-step report of what each step removed (nothing is dropped silently).

The LM path (`lm_pipeline.export_lm_candidates`) and the LSTM contrast (`lstm.export.export_candidates`) both
write their kept pairs with `heygen_lib.data.save_pairs`; each pair carries ``meta["candidate_key"]`` (the stable key
its review decisions are filed under) and ``meta["provenance"]``: generator, its config, checkpoint file and
SHA-256, seed, temperature, the pair whose context it answers, and its scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from heygen_lib.augment.filters import (ExactDuplicateFilter, LengthFilter, NearDuplicateFilter, QualityFilter,
                                        ngram_perplexity_filter)
from heygen_lib.data.pairs import Pair
from heygen_lib.paths import artifacts_dir


def candidates_path() -> Path:
    """Where the export writes candidates for review: artifacts/dialogue_gan/candidates.jsonl."""
    return artifacts_dir() / "dialogue_gan" / "candidates.jsonl"


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex): names exactly which checkpoint made a candidate."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_filters(train_responses: Sequence[str], max_words: int) -> list[QualityFilter]:
    """Notebook 02's filters, cheap ones first: exact copies (of a training response or an earlier candidate),
    2..`max_words` words, near duplicates among the candidates, perplexity under an n-gram LM of the real
    responses (threshold: the 0.95 quantile on held-out real responses)."""
    return [ExactDuplicateFilter(reference=list(train_responses)), LengthFilter(min_words=2, max_words=max_words),
            NearDuplicateFilter(), ngram_perplexity_filter(train_responses)]


@dataclass(frozen=True)
class ExportStep:
    """One step of the export: how many candidates it removed and what it tested."""

    name: str
    removed: int
    detail: str


@dataclass(frozen=True)
class ExportReport:
    """What happened to the generated candidates, step by step."""

    generated: int
    steps: list[ExportStep]
    kept: int

    def __str__(self) -> str:
        lines = [f"generated {self.generated} candidate responses"]
        lines += [f"  - {s.removed:>4} removed by {s.name} ({s.detail})" for s in self.steps]
        return "\n".join(lines + [f"kept {self.kept}"])


@dataclass(frozen=True)
class ExportResult:
    candidates: list[Pair]  # best first
    report: ExportReport
    path: Path  # where they were written
