"""Pairs on disk: the JSONL files that carry augmented and generated training data between notebooks.

One pair per line::

    {"context": [{"speaker": "customer", "text": "..."}], "response": {"speaker": "agent", "text": "..."},
     "dialogue_id": "ord-001", "source": "support", "turn_index": 1, "meta": {"provenance": {...}}}

``context`` (a non-empty list of turns) and ``response`` are required; ``dialogue_id`` (default
``<file stem>-<line>``), ``source`` (default the file stem), ``turn_index`` (default the context length) and ``meta``
are optional.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from heygen_lib.data.dialogue import DataFormatError
from heygen_lib.data.loaders import type_name, json_lines, turn_from_record
from heygen_lib.data.pairs import Pair
from heygen_lib.jsonl_log import os_error, unstorable

_FIELDS = {"context", "response", "dialogue_id", "source", "turn_index", "meta"}


def save_pairs(pairs: Sequence[Pair], path: str | Path) -> Path:
    """Write pairs as JSONL (atomically: a crash leaves the old file, never half a new one). A pair that JSON cannot
    hold (a NaN in its meta, a lone surrogate in its text) is refused before anything is written, naming the pair and
    the field; a failed write (a full disk) names the file and leaves no temporary file behind."""
    path = Path(path)
    lines = []
    for number, pair in enumerate(pairs, start=1):
        record = asdict(pair)
        problem = unstorable(record)
        if problem:
            raise ValueError(f"cannot save the pairs to {path}: pair {number}, field '{problem[0]}' {problem[1]}")
        lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise os_error(err, f"could not save the pairs to {path}: {err.strerror or err}; the file there is "
                                "unchanged (is the disk full?)") from err
        raise
    return path


def load_pairs(path: str | Path, allow_empty: bool = False) -> list[Pair]:
    """Read pairs written by `save_pairs` (or by hand in the same schema); errors name file, line and field. An
    empty file is an error unless `allow_empty` (a review that accepted nothing writes one)."""
    path = Path(path)
    pairs = []
    for line, record in json_lines(path):
        if not isinstance(record, dict):
            raise DataFormatError(path, f"expected a JSON object for one pair, got {type_name(record)}", line)
        unknown = sorted(set(record) - _FIELDS)
        if unknown:
            raise DataFormatError(path, f"unknown field (allowed: {', '.join(sorted(_FIELDS))})", line, unknown[0])
        context = record.get("context")
        if not isinstance(context, list) or not context:
            raise DataFormatError(path, f"expected a non-empty list of turns, got {type_name(context)}", line, "context")
        if "response" not in record:
            raise DataFormatError(path, "missing; a pair needs a response turn", line, "response")
        turns = tuple(turn_from_record(t, path, line, f"context[{i}]") for i, t in enumerate(context))
        response = turn_from_record(record["response"], path, line, "response")
        dialogue_id = record.get("dialogue_id", f"{path.stem}-{line}")
        source = record.get("source", path.stem)
        turn_index = record.get("turn_index", len(turns))
        meta = record.get("meta", {})
        for field, value, kind in (("dialogue_id", dialogue_id, str), ("source", source, str), ("meta", meta, dict)):
            if not isinstance(value, kind):
                raise DataFormatError(path, f"expected {kind.__name__}, got {type_name(value)}", line, field)
        if not isinstance(turn_index, int) or isinstance(turn_index, bool) or turn_index < 0:
            raise DataFormatError(path, f"expected a non-negative integer, got {turn_index!r}", line, "turn_index")
        pairs.append(Pair(turns, response, dialogue_id, source, turn_index, meta))
    if not pairs and not allow_empty:
        raise DataFormatError(path, "no pairs in the file")
    return pairs
