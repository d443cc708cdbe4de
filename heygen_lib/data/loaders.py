"""Loaders: every corpus becomes a list of `Dialogue`s.

The kit's own file format, for the support set in `data/` and for your own data:

* **JSONL**, UTF-8, one dialogue per line::

      {"id": "ord-001", "turns": [{"speaker": "customer", "text": "hi"}, {"speaker": "agent", "text": "Hello!"}],
       "meta": {"intents": ["order"]}}

  ``turns`` is required (a non-empty list of objects with a string ``speaker`` and ``text``); ``id`` is optional
  (default ``<file stem>-<line>``) and must be unique; ``meta`` is an optional object. Blank lines are skipped.
* **CSV**, UTF-8, one row per turn, with a header naming ``dialogue_id``, ``speaker`` and ``text``; a dialogue's
  turns are its rows in file order. Other columns are ignored.

A file that breaks these rules raises `DataFormatError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

import yaml

from heygen_lib.data.dialogue import DataFormatError, Dialogue, Turn
from heygen_lib.jsonl_log import lone_surrogate, unstorable
from heygen_lib.paths import data_dir

SUPPORT_FILE = "support_dialogues.jsonl"
_RECORD_FIELDS = {"id", "turns", "meta"}
_TURN_FIELDS = {"speaker", "text"}
_CSV_COLUMNS = ("dialogue_id", "speaker", "text")


def read_text(path: Path) -> str:
    """The file's text, or a `DataFormatError` at the first line that is not UTF-8."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataFormatError(
            path, f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}); save the file as UTF-8", line=line
        ) from None


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def turn_from_record(raw: Any, path: Path, line: int, where: str) -> Turn:
    """A `Turn` from a JSON object with a non-empty string `speaker` and a string `text`, or a `DataFormatError`."""
    if not isinstance(raw, dict):
        raise DataFormatError(path, f"expected an object with speaker and text, got {type_name(raw)}", line, where)
    unknown = sorted(set(raw) - _TURN_FIELDS)
    if unknown:
        raise DataFormatError(path, "unknown field (allowed: speaker, text)", line, f"{where}.{unknown[0]}")
    speaker, text = raw.get("speaker"), raw.get("text")
    if not isinstance(speaker, str) or not speaker.strip():
        raise DataFormatError(path, f"expected a non-empty string, got {type_name(speaker)}", line, f"{where}.speaker")
    if not isinstance(text, str):
        raise DataFormatError(path, f"expected a string, got {type_name(text)}", line, f"{where}.text")
    for name, value in (("speaker", speaker), ("text", text)):
        surrogate = lone_surrogate(value)
        if surrogate:
            raise DataFormatError(path, f"contains {surrogate}, half of a UTF-16 pair: not a character, and no UTF-8 "
                                        "text can hold it (remove it, or write the whole character)", line,
                                  f"{where}.{name}")
    return Turn(speaker, text)


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for every non-blank line of a UTF-8 JSONL file, or a `DataFormatError`. Strict
    where Python's ``json`` is lenient: a NaN or infinite number (``NaN``, ``Infinity``, ``1e999``) and a key given
    twice in one object (``json`` keeps the last one silently) are refused, naming the field."""
    duplicates: list[str] = []  # of the line being read
    non_finite: list[str] = []

    def number_of(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            non_finite.append(text)
        return value

    def object_of(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        record = dict(pairs)
        if len(record) < len(pairs):
            seen: set[str] = set()
            duplicates.append(next(key for key, _ in pairs if key in seen or seen.add(key)))
        return record

    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        duplicates.clear()
        non_finite.clear()
        try:
            record = json.loads(line, parse_float=number_of, parse_constant=number_of, object_pairs_hook=object_of)
        except json.JSONDecodeError as err:
            raise DataFormatError(path, f"not valid JSON ({err.msg}, column {err.colno})", line=number) from None
        except RecursionError:
            raise DataFormatError(path, "JSON nested too deeply", line=number) from None
        except ValueError as err:  # e.g. an integer over Python's 4,300-digit limit
            raise DataFormatError(path, f"not valid JSON ({err})", line=number) from None
        if duplicates:
            raise DataFormatError(path, "duplicate key (JSON keeps only the last one)", number, duplicates[0])
        if non_finite:
            field = unstorable(record)[0] or None
            raise DataFormatError(path, f"{non_finite[0]} is not a number JSON allows (write null or a finite "
                                        "number)", number, field)
        yield number, record


def _dialogue_from_record(record: Any, path: Path, line: int, source: str) -> Dialogue:
    def fail(message: str, field: str | None = None) -> DataFormatError:
        return DataFormatError(path, message, line=line, field=field)

    if not isinstance(record, dict):
        raise fail(f"expected a JSON object for one dialogue, got {type_name(record)}")
    unknown = sorted(set(record) - _RECORD_FIELDS)
    if unknown:
        raise fail(f"unknown field (allowed: {', '.join(sorted(_RECORD_FIELDS))})", field=unknown[0])
    dialogue_id = record.get("id", f"{path.stem}-{line}")
    if not isinstance(dialogue_id, (str, int)) or isinstance(dialogue_id, bool) or str(dialogue_id) == "":
        raise fail(f"expected a non-empty string, got {type_name(dialogue_id)}", field="id")
    if "turns" not in record:
        raise fail("missing; a dialogue needs a list of turns", field="turns")
    raw_turns = record["turns"]
    if not isinstance(raw_turns, list) or not raw_turns:
        raise fail(f"expected a non-empty list, got {type_name(raw_turns)}", field="turns")
    turns = [turn_from_record(raw_turn, path, line, f"turns[{i}]") for i, raw_turn in enumerate(raw_turns)]
    meta = record.get("meta", {})
    if not isinstance(meta, dict):
        raise fail(f"expected an object, got {type_name(meta)}", field="meta")
    for field, value in (("id", str(dialogue_id)), ("meta", json.dumps(meta, ensure_ascii=False))):
        surrogate = lone_surrogate(value)
        if surrogate:
            raise fail(f"contains {surrogate}, half of a UTF-16 pair: not a character (remove it)", field=field)
    return Dialogue(str(dialogue_id), tuple(turns), source, meta)


def load_jsonl(path: str | Path, source: str | None = None) -> list[Dialogue]:
    """Read dialogues from a JSONL file in the kit's schema (see the module docstring)."""
    path = Path(path)
    source = source or path.stem
    dialogues: list[Dialogue] = []
    first_line_of: dict[str, int] = {}
    for number, record in json_lines(path):
        dialogue = _dialogue_from_record(record, path, number, source)
        if dialogue.id in first_line_of:
            message = f"duplicate id {dialogue.id!r} (first used on line {first_line_of[dialogue.id]})"
            raise DataFormatError(path, message, line=number, field="id")
        first_line_of[dialogue.id] = number
        dialogues.append(dialogue)
    if not dialogues:
        raise DataFormatError(path, "no dialogues in the file")
    return dialogues


def load_csv(path: str | Path, source: str | None = None) -> list[Dialogue]:
    """Read dialogues from a CSV file with one row per turn (columns dialogue_id, speaker, text)."""
    path = Path(path)
    # strict: a quote left open raises at the end of the file instead of swallowing every later row into one field
    reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    turns_of: dict[str, list[Turn]] = {}
    line = 1  # the line the row being read starts on (a quoted field may span lines)
    try:
        header = next(reader, None)
        if not header:
            raise DataFormatError(path, "empty file; expected a header with " + ", ".join(_CSV_COLUMNS), line=1)
        missing = [column for column in _CSV_COLUMNS if column not in header]
        if missing:
            raise DataFormatError(path, "missing column in the header", line=1, field=missing[0])
        for column in _CSV_COLUMNS:  # two columns of one name: which one holds the value?
            places = [i + 1 for i, name in enumerate(header) if name == column]
            if len(places) > 1:
                raise DataFormatError(path, f"duplicate column (columns {places[0]} and {places[1]}; which one holds "
                                            f"the {column}?)", line=1, field=column)
        while True:
            line = reader.line_num + 1
            fields = next(reader, None)
            if fields is None:
                break
            if not fields:  # a blank line
                continue
            if len(fields) > len(header):
                raise DataFormatError(path, f"more fields than the header has ({len(header)})", line=line)
            row = dict(zip(header, fields + [None] * (len(header) - len(fields))))
            for column in _CSV_COLUMNS:
                value = row[column]
                if value is None:
                    raise DataFormatError(path, "missing value (the row has too few fields)", line=line, field=column)
                if column != "text" and not value.strip():
                    raise DataFormatError(path, "empty value", line=line, field=column)
            turns_of.setdefault(row["dialogue_id"], []).append(Turn(row["speaker"], row["text"]))
    except csv.Error as err:
        if "unexpected end of data" in str(err):
            message = "a quote opened in this row is never closed (add the closing \" or remove the stray one)"
        elif "field larger than field limit" in str(err):
            message = f"a field longer than {csv.field_size_limit():,} characters (a missing closing quote?)"
        else:
            message = f"not valid CSV ({err})"
        raise DataFormatError(path, message, line=line) from None
    if not turns_of:
        raise DataFormatError(path, "no dialogues in the file (only a header)")
    source = source or path.stem
    return [Dialogue(dialogue_id, tuple(turns), source) for dialogue_id, turns in turns_of.items()]


def load_support_set(path: str | Path | None = None, limit: int | None = None) -> list[Dialogue]:
    """The kit's customer-support dialogues (`data/support_dialogues.jsonl`; see `data/README.md`)."""
    path = Path(path) if path else data_dir() / SUPPORT_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run from a clone of heygen-kit or set HEYGEN_DATA_DIR")
    return load_jsonl(path, source="support")[:limit]


def chitchat_path() -> Path:
    """Where the `chitchat-dataset` package keeps its conversations: one JSON file."""
    import chitchat_dataset

    return Path(chitchat_dataset.__file__).with_name("dataset.json")


def load_chitchat(limit: int | None = None) -> list[Dialogue]:
    """The Chit-Chat Challenge corpus (BYU PCC lab, MIT licence) from the `chitchat-dataset` package.

    About 7,000 real open-domain chats between two crowd workers. Each message is one turn (a person often sends
    several in a row; cleaning merges them). ``meta`` keeps the conversation's prompt, ratings and start time.
    """
    conversations = json.loads(chitchat_path().read_text(encoding="utf-8"))
    dialogues = []
    for conversation_id, conversation in islice(conversations.items(), limit):
        speaker_of: dict[str, str] = {}
        turns = []
        for group in conversation["messages"]:
            for message in group:
                sender = message["sender"]
                if sender not in speaker_of:
                    speaker_of[sender] = f"speaker_{len(speaker_of) + 1}"
                turns.append(Turn(speaker_of[sender], message["text"]))
        meta = {key: conversation[key] for key in ("prompt", "ratings", "start") if key in conversation}
        dialogues.append(Dialogue(conversation_id, tuple(turns), "chitchat", meta))
    return dialogues


def load_chatterbot(language: str = "english", limit: int | None = None) -> list[Dialogue]:
    """The ChatterBot corpus (BSD licence): short topic dialogues (greetings, food, science...) in many languages.

    Utterances are read as written (YAML's node text, so "yes" stays "yes", not True). The package has a few
    malformed entries; they are skipped with a warning that names the file and line.
    """
    import chatterbot_corpus

    root = Path(chatterbot_corpus.__file__).parent / "data"
    folder = root / language
    if not folder.is_dir():
        available = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
        raise ValueError(f"no ChatterBot corpus for language {language!r}; available: {available}")
    dialogues = []
    for file in sorted(folder.glob("*.yml")):
        document = yaml.compose(file.read_text(encoding="utf-8"))
        fields = {key.value: value for key, value in document.value} if document else {}
        categories = [node.value for node in fields["categories"].value] if "categories" in fields else []
        conversations = fields["conversations"].value if "conversations" in fields else []
        skipped = []
        for i, node in enumerate(conversations, start=1):
            if not isinstance(node, yaml.SequenceNode) or not all(isinstance(n, yaml.ScalarNode) for n in node.value):
                skipped.append(node.start_mark.line + 1)
                continue
            turns = tuple(Turn(f"speaker_{j % 2 + 1}", n.value) for j, n in enumerate(node.value))
            dialogues.append(Dialogue(f"{file.stem}-{i}", turns, "chatterbot", {"categories": categories}))
        if skipped:
            lines = ", ".join(map(str, skipped))
            shown = file.relative_to(root.parent.parent)  # chatterbot_corpus/data/...: no machine path in the message
            warnings.warn(f"{shown}: skipped {len(skipped)} conversation(s) that are not lists of utterances (line {lines})")
    return dialogues[:limit]


def dialogues_from_rows(
    rows: Iterable[Mapping[str, Any]], turns_field: str, source: str
) -> list[Dialogue]:
    """Dialogues from table rows whose ``turns_field`` is a list of utterances by two alternating speakers."""
    dialogues = []
    for i, row in enumerate(rows):
        utterances = row[turns_field]
        turns = tuple(Turn(f"speaker_{j % 2 + 1}", str(text)) for j, text in enumerate(utterances))
        dialogues.append(Dialogue(f"{source}-{i}", turns, source))
    return dialogues


def load_hf_dataset(
    name: str, split: str = "train", turns_field: str = "dialog", config: str | None = None, limit: int | None = None
) -> list[Dialogue]:
    """A dialogue data set from the Hugging Face hub by name (needs the network and ``pip install heygen-kit[hub]``).

    ``turns_field`` names the column holding each conversation's list of utterances (``"dialog"`` in DailyDialog).
    """
    try:
        import datasets
    except ImportError:
        raise ImportError("load_hf_dataset needs the `datasets` package: pip install 'heygen-kit[hub]'") from None
    table = datasets.load_dataset(name, config, split=split)
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    return dialogues_from_rows(table, turns_field, source=f"hf:{name}")


CORPORA: dict[str, Callable[..., list[Dialogue]]] = {
    "support": load_support_set,
    "chitchat": load_chitchat,
    "chatterbot": load_chatterbot,
}


def load_corpus(name: str, limit: int | None = None) -> list[Dialogue]:
    """One of the corpora that ship with the kit, by name: support, chitchat or chatterbot."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}")
    return CORPORA[name](limit=limit)
