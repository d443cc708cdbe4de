"""The kit's dialogue types and the one error that bad data files raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Turn:
    """One utterance: who said it and what they said."""

    speaker: str
    text: str


@dataclass(frozen=True)
class Dialogue:
    """A conversation from one corpus. ``meta`` holds corpus-specific facts (intents, prompt, ratings, ...)."""

    id: str
    turns: tuple[Turn, ...]
    source: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def speakers(self) -> list[str]:
        """Speakers in order of first appearance."""
        return list(dict.fromkeys(t.speaker for t in self.turns))


class DataFormatError(ValueError):
    """A data file that cannot be read as dialogues, with the file, line and field that are wrong."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


def format_dialogue(dialogue: Dialogue, max_turns: int | None = None) -> str:
    """A dialogue as indented 'speaker: text' lines, for printing."""
    turns = dialogue.turns[:max_turns]
    lines = [f"[{dialogue.source}:{dialogue.id}]"] + [f"  {t.speaker}: {t.text}" for t in turns]
    if len(turns) < len(dialogue.turns):
        lines.append(f"  ... ({len(dialogue.turns) - len(turns)} more turns)")
    return "\n".join(lines)
