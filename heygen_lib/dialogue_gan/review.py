"""People review generated pairs before they become training data; the decisions live in an append-only log.

A decision is accept, reject, or edit (with the corrected response). Each one is one JSON line appended to the
review file through `heygen_lib.jsonl_log.JsonlLog`: written under a file lock and fsynced before `record` returns,
never rewritten. So a crash, a kernel restart or two reviewers at once lose nothing; re-opening the store resumes:
`pending` lists the candidates without a decision. Every decision is kept; the latest one for a candidate counts.
A damaged line (a crash cut the last line short) is reported with file and line, skipped, and never merged.

Decisions are filed under `candidate_key`: a hash of the context's origin and the response text, so the same
candidate exported again finds its earlier decision, and an edited candidate keeps its key.

`write_reviewed_pairs` turns accepted and edited candidates into the pair file notebook 05 trains on.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from heygen_lib.augment.base import origin_key
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pair_files import save_pairs
from heygen_lib.data.pairs import Pair
from heygen_lib.jsonl_log import JsonlLog, SkippedLine, utc_timestamp
from heygen_lib.paths import artifacts_dir

DECISIONS = ("accept", "reject", "edit")


def review_store_path() -> Path:
    """The review decisions: artifacts/dialogue_gan/review_decisions.jsonl."""
    return artifacts_dir() / "dialogue_gan" / "review_decisions.jsonl"


def reviewed_pairs_path() -> Path:
    """The reviewed synthetic pairs notebook 05 reads: artifacts/dialogue_gan/reviewed_pairs.jsonl."""
    return artifacts_dir() / "dialogue_gan" / "reviewed_pairs.jsonl"


def candidate_key(pair: Pair) -> str:
    """The stable key of a generated pair: its context's origin and its (generated) response text, hashed."""
    text = f"{origin_key(pair)}\x1f{pair.response.text}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def key_of(pair: Pair) -> str:
    """The key a candidate was exported with (``meta["candidate_key"]``), else its `candidate_key`."""
    return pair.meta.get("candidate_key") or candidate_key(pair)


@dataclass(frozen=True)
class Decision:
    """One reviewer decision on one candidate."""

    key: str
    decision: str  # "accept", "reject" or "edit"
    text: str | None  # the corrected response (edit only)
    reviewer: str
    time: str  # UTC, ISO 8601


class ReviewStore:
    """Review decisions in an append-only JSONL file (default `review_store_path()`)."""

    def __init__(self, path: str | Path | None = None):
        self.log = JsonlLog(path or review_store_path())
        self.skipped: list[SkippedLine] = []  # damaged lines found by the last read

    @property
    def path(self) -> Path:
        return self.log.path

    def record(self, key: str, decision: str, text: str | None = None, reviewer: str = "") -> Decision:
        """Append one decision and make it durable before returning. An edit needs the corrected, non-empty text;
        accept and reject take none."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
        if not (isinstance(key, str) and key) or not isinstance(reviewer, str) or not isinstance(text, str | None):
            raise TypeError(f"key must be a non-empty string, reviewer a string, text a string or None; got "
                            f"{type(key).__name__}, {type(reviewer).__name__}, {type(text).__name__}")
        if decision == "edit" and not (text and text.strip()):
            raise ValueError("an edit needs the corrected response text")
        if decision != "edit" and text is not None:
            raise ValueError(f"only an edit carries text, not {decision!r}")
        made = Decision(key, decision, text.strip() if text else None, reviewer, utc_timestamp())
        self.log.append(asdict(made))
        return made

    def history(self) -> list[Decision]:
        """Every decision in file order. Damaged lines and records that are not decisions are skipped, kept in
        `skipped`, and reported in a warning naming the file and line."""
        contents = self.log.read()
        decisions, self.skipped = [], list(contents.skipped)
        for number, record in zip(contents.lines, contents.records):
            problem = _decision_problem(record)
            if problem:
                self.skipped.append(SkippedLine(number, problem))
                continue
            decisions.append(Decision(**record))
        if self.skipped:
            warnings.warn(self.damage(), stacklevel=2)
        return decisions

    def damage(self) -> str:
        """The skipped lines of the last read, one per line with file and line number ("" when none)."""
        return self.log.describe_skipped(self.skipped)

    def decisions(self) -> dict[str, Decision]:
        """The latest decision for each key."""
        return {d.key: d for d in self.history()}

    def pending(self, candidates: Sequence[Pair]) -> list[Pair]:
        """The candidates without a decision, in order."""
        decided = self.decisions()
        return [pair for pair in candidates if key_of(pair) not in decided]

    def summary(self, candidates: Sequence[Pair]) -> str:
        """"k of n reviewed (a accepted, e edited, r rejected)" for these candidates."""
        decided = self.decisions()
        counts = Counter(decided[key_of(p)].decision for p in candidates if key_of(p) in decided)
        return (f"{sum(counts.values())} of {len(candidates)} reviewed ({counts['accept']} accepted, "
                f"{counts['edit']} edited, {counts['reject']} rejected)")


def _decision_problem(record: dict) -> str:
    """Why a log record is not a valid `Decision` (naming the field), or "": a hand-edited line must not crash
    loading nor write a broken pair file."""
    names = {f.name for f in fields(Decision)}
    if set(record) != names:
        return f"not a review decision (fields {sorted(record)}; expected {sorted(names)})"
    for name in ("key", "decision", "reviewer", "time"):
        if not isinstance(record[name], str):
            return f"field {name!r}: expected a string, got {type(record[name]).__name__}"
    if not record["key"]:
        return "field 'key': empty (a decision names the pair it is about)"
    if record["decision"] not in DECISIONS:
        return f"unknown decision {record['decision']!r}"
    text = record["text"]
    if record["decision"] == "edit" and not (isinstance(text, str) and text.strip()):
        return f"field 'text': an edit needs the corrected response as a non-empty string, got {text!r}"
    if record["decision"] != "edit" and text is not None:
        return f"field 'text': only an edit carries text, not {record['decision']!r}"
    return ""


def scripted_review(store: ReviewStore, candidates: Sequence[Pair], threshold: float) -> Counter:
    """A stand-in reviewer for headless runs: accept each *pending* candidate whose discriminator score is at least
    `threshold`, reject the rest. Decisions already in the store are left alone. Returns the decisions made."""
    made: Counter = Counter()
    reviewer = f"script: accept P(real) >= {threshold}"
    for pair in store.pending(candidates):
        score = pair.meta["provenance"]["scores"]["discriminator"]
        decision = "accept" if score >= threshold else "reject"
        store.record(key_of(pair), decision, reviewer=reviewer)
        made[decision] += 1
    return made


def reviewed_pairs(store: ReviewStore, candidates: Sequence[Pair]) -> list[Pair]:
    """The accepted candidates as they are and the edited ones with the reviewer's text, in candidate order; each
    with the review decision added to ``meta["provenance"]["review"]`` (an edit also keeps the original text)."""
    decided = store.decisions()
    out = []
    for pair in candidates:
        decision = decided.get(key_of(pair))
        if decision is None or decision.decision == "reject":
            continue
        review = {"decision": decision.decision, "reviewer": decision.reviewer, "time": decision.time}
        if decision.decision == "edit":
            review["original_text"] = pair.response.text
            pair = replace(pair, response=Turn(pair.response.speaker, decision.text))
        provenance = {**pair.meta.get("provenance", {}), "review": review}
        out.append(replace(pair, meta={**pair.meta, "provenance": provenance}))
    return out


def write_reviewed_pairs(store: ReviewStore, candidates: Sequence[Pair], path: str | Path | None = None) -> Path:
    """Write `reviewed_pairs` to `path` (default `reviewed_pairs_path()`, what notebook 05 reads). A review that
    accepted nothing writes an empty file: notebook 05 then trains on no GAN pair and says so."""
    return save_pairs(reviewed_pairs(store, candidates), path or reviewed_pairs_path())
