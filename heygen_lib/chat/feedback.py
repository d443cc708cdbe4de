"""Feedback on the bot's replies, kept safe on disk and turned into new training pairs.

Every rating (good/bad) and every correction is one event appended to a `JsonlLog` (one JSON line, fsynced before
`record_*` returns; nothing rewritten in place), so a crash loses at most the event being written, and a cut last
line is reported, never merged. An event holds everything needed to retrain from it: the context the bot saw, its
reply, the rating or correction, the decoding settings and the model folder::

    {"time": "2025-01-01T12:00:00+00:00", "conversation": "3f2a9c", "turn": 1, "bot": "agent",
     "context": [{"speaker": "customer", "text": "where is my parcel?"}], "response": "hello hello",
     "rating": "bad", "correction": "Sorry! Could you give me the order number?", "decoding": {...}, "model": "..."}

`feedback_pairs` folds the events of each bot turn in file order (the latest word counts): a correction becomes the
response; a turn whose latest rating is good keeps the bot's reply; a bad reply with no correction is dropped, and
counted. `retraining_set` mixes those pairs with replayed original training pairs for a short retraining round.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heygen_lib.data.cleaning import is_invisible
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.jsonl_log import JsonlLog, SkippedLine, utc_timestamp
from heygen_lib.paths import artifacts_dir

RATINGS = ("good", "bad")
KEPT_CONTROLS = "\n\t"  # the only invisible characters a message, a reply or a correction keeps
_REQUIRED = ("time", "conversation", "turn", "bot", "context", "response")


def strip_controls(text: str) -> str:
    """`text` without invisible characters (`data.cleaning.is_invisible`: control characters, zero-width spaces,
    bidi overrides and marks, lone surrogates), newline and tab excepted: the kit's cleaning of training text, applied
    to what the chat reads, writes and stores, so nothing hidden reaches the feedback and from there retraining."""
    return "".join(c for c in text if c in KEPT_CONTROLS or not is_invisible(c))


def feedback_path() -> Path:
    """The default store: ``artifacts/chat/feedback.jsonl``."""
    return artifacts_dir() / "chat" / "feedback.jsonl"


@dataclass(frozen=True)
class FeedbackEvent:
    """One rating or correction of one bot turn."""

    time: str  # ISO 8601, UTC
    conversation: str  # the chatbot's conversation id
    turn: int  # index of the rated bot turn in the conversation's history
    bot: str  # the bot's speaker name (the response's speaker in a training pair)
    context: tuple[Turn, ...]  # the turns before the bot turn, as the user saw them
    response: str  # what the bot said
    rating: str | None = None  # "good" or "bad"; None for a correction on its own
    correction: str | None = None  # a better response written by the user
    decoding: dict[str, Any] = field(default_factory=dict)  # the decoding settings that produced the response
    model: str = ""  # folder or name of the model that produced it


@dataclass
class FeedbackContents:
    """The events of a store in file order, and the lines that could not be used (with their reasons)."""

    events: list[FeedbackEvent]
    skipped: list[SkippedLine]


@dataclass(frozen=True)
class FeedbackReport:
    """How the events became pairs."""

    bot_turns: int  # distinct bot turns with feedback
    corrected: int  # pairs whose response is the user's correction
    kept_good: int  # pairs whose response is the bot's own, rated good
    dropped_bad: int  # turns rated bad with no correction: no pair

    def __str__(self) -> str:
        return (f"{self.bot_turns} rated bot turns -> {self.corrected + self.kept_good} pairs "
                f"({self.corrected} corrected, {self.kept_good} rated good); "
                f"{self.dropped_bad} rated bad without a correction, dropped")


class FeedbackStore:
    """Append ratings and corrections to a JSONL file; read them back with damage reported."""

    def __init__(self, path: str | Path | None = None):
        self.log = JsonlLog(path or feedback_path())

    @property
    def path(self) -> Path:
        return self.log.path

    def record_rating(self, conversation: str, turn: int, context: Sequence[Turn], response: str, rating: str,
                      bot: str = "agent", decoding: Mapping[str, Any] | None = None, model: str = "") -> FeedbackEvent:
        """Store a good/bad rating of the bot's `response` to `context`."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {', '.join(RATINGS)}, got {rating!r}")
        return self._append(conversation, turn, context, response, bot, decoding, model, rating=rating)

    def record_correction(self, conversation: str, turn: int, context: Sequence[Turn], response: str, correction: str,
                          bot: str = "agent", decoding: Mapping[str, Any] | None = None,
                          model: str = "") -> FeedbackEvent:
        """Store a better response for the bot's turn; it replaces the bot's reply in the training pair."""
        correction = strip_controls(correction).strip() if isinstance(correction, str) else correction
        if not isinstance(correction, str) or not correction:
            raise ValueError("empty correction: write the response the bot should have given")
        return self._append(conversation, turn, context, response, bot, decoding, model, correction=correction)

    def rate(self, chatbot, rating: str, turn: int | None = None, model: str = "") -> FeedbackEvent:
        """Rate the bot turn ``chatbot.history[turn]`` (default: the latest reply)."""
        about, origin = _about(chatbot, turn, model)
        return self.record_rating(*about, rating, **origin)

    def correct(self, chatbot, correction: str, turn: int | None = None, model: str = "") -> FeedbackEvent:
        """Give a better response for the bot turn ``chatbot.history[turn]`` (default: the latest reply)."""
        about, origin = _about(chatbot, turn, model)
        return self.record_correction(*about, correction, **origin)

    def load(self) -> FeedbackContents:
        """Every usable event; lines that are cut, not JSON, or miss a field are listed in ``skipped``."""
        contents = self.log.read()
        events, skipped = [], list(contents.skipped)
        for number, record in zip(contents.lines, contents.records):
            try:
                events.append(_event(record))
            except (KeyError, TypeError, ValueError) as err:
                skipped.append(SkippedLine(number, f"not a feedback event ({err})"))
        return FeedbackContents(events, sorted(skipped, key=lambda s: s.line))

    def describe_skipped(self, contents: FeedbackContents) -> str:
        """One line per skipped line, naming the file and line."""
        return self.log.describe_skipped(contents.skipped)

    def _append(self, conversation, turn, context, response, bot, decoding, model, **what) -> FeedbackEvent:
        def visible(text):  # what is not text is refused below, by _event
            return strip_controls(text) if isinstance(text, str) else text

        context = tuple(Turn(t.speaker, visible(t.text)) for t in context)
        event = FeedbackEvent(utc_timestamp(), str(conversation), int(turn), bot, context, visible(response),
                              decoding=dict(decoding or {}), model=str(model), **what)
        record = {**vars(event), "context": [vars(t) for t in event.context]}
        _event(record)  # what is written must read back: refuse e.g. a response that is not text
        self.log.append(record)
        return event


def feedback_pairs(events: Sequence[FeedbackEvent]) -> tuple[list[Pair], FeedbackReport]:
    """Training pairs from feedback, one per bot turn (see the module docstring), in order of first feedback."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for event in events:
        state = latest.setdefault((event.conversation, event.turn),
                                  {"event": event, "rating": None, "correction": None})
        state["event"] = event
        if event.rating is not None:
            state["rating"] = event.rating
        if event.correction is not None:
            state["correction"] = event.correction
    pairs, corrected, good, bad = [], 0, 0, 0
    for (conversation, turn), state in latest.items():
        event: FeedbackEvent = state["event"]
        if state["correction"] is not None:
            text, corrected = state["correction"], corrected + 1
        elif state["rating"] == "good":
            text, good = event.response, good + 1
        else:
            bad += 1
            continue
        meta = {"feedback": {"rating": state["rating"], "corrected": state["correction"] is not None,
                             "bot_response": event.response, "model": event.model, "decoding": event.decoding,
                             "time": event.time}}
        pairs.append(Pair(event.context, Turn(event.bot, text), f"chat-{conversation}", "feedback", turn, meta))
    return pairs, FeedbackReport(len(latest), corrected, good, bad)


def retraining_set(feedback: Sequence[Pair], original: Sequence[Pair], repeat: int = 4, replay: int = 64,
                   seed: int = 0) -> list[Pair]:
    """Training pairs for a short retraining round: each feedback pair `repeat` times (a few pairs must be seen often
    to count), plus `replay` random pairs of the original training set, so that the model keeps what it knew
    (replaying old data is the standard guard against catastrophic forgetting). Shuffled with `seed`."""
    if not feedback:
        raise ValueError("no feedback pairs to retrain on: rate or correct some replies first")
    if repeat < 1 or replay < 0:
        raise ValueError(f"repeat must be >= 1 and replay >= 0, got {repeat} and {replay}")
    rng = random.Random(seed)
    mixed = [*feedback] * repeat + rng.sample(list(original), min(replay, len(original)))
    rng.shuffle(mixed)
    return mixed


def _about(chatbot, turn: int | None, model: str) -> tuple[tuple[str, int, tuple[Turn, ...], str], dict[str, Any]]:
    """(conversation, turn, context, response) of a chatbot's bot turn, and where the reply came from."""
    history = chatbot.history
    turn = len(history) - 1 if turn is None else turn
    reply = chatbot.reply_for(turn)  # raises IndexError unless history[turn] is a bot turn
    origin = {"bot": chatbot.bot, "decoding": reply.decoding.to_dict() if reply.decoding else {}, "model": model}
    return (chatbot.conversation_id, turn, history[:turn], history[turn].text), origin


def _event(record: Mapping[str, Any]) -> FeedbackEvent:
    """The event a log record holds; a ValueError naming the field for one that is not an event (a hand-edited line
    must never become training text such as "None")."""
    missing = [name for name in _REQUIRED if name not in record]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")

    def field_error(name: str, expected: str) -> ValueError:
        value = record.get(name)
        got = "null" if value is None else type(value).__name__
        return ValueError(f"field {name!r}: expected {expected}, got {got}")

    for name in ("time", "conversation", "bot", "response", "model"):
        if name in record and not isinstance(record[name], str):
            raise field_error(name, "a string")
    turn = record["turn"]
    if not isinstance(turn, int) or isinstance(turn, bool) or turn < 0:
        raise field_error("turn", "a non-negative integer")
    raw_context = record["context"]
    if not isinstance(raw_context, list) or not all(
            isinstance(t, dict) and isinstance(t.get("speaker"), str) and isinstance(t.get("text"), str)
            for t in raw_context):
        raise ValueError("field 'context': expected a list of objects with a string speaker and text")
    rating, correction = record.get("rating"), record.get("correction")
    if rating not in (None, *RATINGS):
        raise ValueError(f"field 'rating' is {rating!r}, expected good, bad or null")
    if correction is not None and not isinstance(correction, str):
        raise field_error("correction", "a string or null")
    if correction is not None and not correction.strip():
        raise ValueError("field 'correction': blank; a correction is the response the bot should have given")
    if rating is None and correction is None:
        raise ValueError("neither a rating nor a correction")
    decoding = record.get("decoding") or {}
    if not isinstance(decoding, dict):
        raise field_error("decoding", "an object")
    context = tuple(Turn(t["speaker"], t["text"]) for t in raw_context)
    return FeedbackEvent(record["time"], record["conversation"], turn, record["bot"], context, record["response"],
                         rating, correction, dict(decoding), record.get("model", ""))
