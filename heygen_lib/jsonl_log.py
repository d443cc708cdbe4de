"""An append-only JSONL log: the store behind review decisions (notebook 04) and chat feedback (notebook 06).

People's decisions must never be lost. So each record is one line, written whole (one ``write``, repeated if it
stops short) under an exclusive file lock, and fsynced before `append` returns; a write that fails part-way (a full
disk) is undone and raises, so `append` never reports a record saved that is not. Nothing is ever rewritten in
place. A crash can at worst leave the *last* line cut short: `read` reports it (file, line, reason) and skips it, and
the next `append` starts on a fresh line so the cut line never merges with a new record.

The lock is ``fcntl.flock``: POSIX only (Linux, macOS, Colab, WSL), as the README says.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SkippedLine:
    """A line `read` could not use, and why."""

    line: int
    reason: str


@dataclass
class LogContents:
    """The records of a log in file order with their line numbers, and the lines that were skipped (reported, never
    silently merged)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the file line of each record, to name it in later errors
    skipped: list[SkippedLine] = field(default_factory=list)


def utc_timestamp() -> str:
    """Now, in UTC, as ISO 8601 to the second: the time stamp of every record the kit's logs keep."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def os_error(cause: BaseException, message: str) -> OSError:
    """An `OSError` that reads as `message` alone (no "[Errno n]" prefix) and keeps the cause's type (e.g.
    PermissionError) and errno."""
    err = type(cause)(message) if isinstance(cause, OSError) else OSError(message)
    err.errno = getattr(cause, "errno", None)
    return err


def lone_surrogate(text: str) -> str:
    """The first lone surrogate in `text` as an escape (e.g. "\\ud800"), or "": a JSON escape like \\ud800 without
    its pair decodes to one, and it then fails far away, wherever the text is encoded."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"\\u{ord(text[err.start]):04x}"
    return ""


def unstorable(value: Any, where: str = "") -> tuple[str, str] | None:
    """The first field of `value` that strict JSON in UTF-8 cannot hold, and why: ``("meta.score", "holds nan; nan
    is not a JSON number ...")``; None when every field can. A NaN or infinite number (``json`` would write ``NaN``,
    which no JSON reader need accept and the kit's loaders refuse) or a lone surrogate (UTF-8 cannot encode it)."""
    if isinstance(value, float) and not math.isfinite(value):
        return where, f"holds {value}; {value} is not a JSON number (write null or a finite number)"
    if isinstance(value, str):
        surrogate = lone_surrogate(value)
        return (where, f"holds {surrogate}, half of a UTF-16 pair: not a character, and UTF-8 cannot hold it "
                       "(remove it, or write the whole character)") if surrogate else None
    if isinstance(value, dict):
        named = ((f"{where}.{key}" if where else str(key), key, item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        named = ((f"{where}[{i}]", None, item) for i, item in enumerate(value))
    else:
        return None
    for inner, key, item in named:
        problem = (unstorable(key, inner) if isinstance(key, str) else None) or unstorable(item, inner)
        if problem:
            return problem
    return None


def _write_all(fd: int, data: bytes, size: int, path: Path) -> None:
    """Write every byte of `data` or none: ``os.write`` may write only part (a full disk, a file-size limit), so it
    loops; on a failure the file is cut back to `size`, the length it had before, and the error names the file."""
    written = 0
    try:
        while written < len(data):
            n = os.write(fd, data[written:])
            if n == 0:
                raise OSError(f"no space to write ({written} of {len(data)} bytes written)")
            written += n
    except OSError as err:
        os.ftruncate(fd, size)  # no partial record stays behind to be read as a cut line
        raise os_error(err, f"could not save the record to {path}: {err.strerror or err}; nothing was written "
                             "(is the disk full?)") from err


class JsonlLog:
    """Append JSON objects to `path`, one per line, safely across threads, processes and crashes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._thread_lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield fd
            finally:
                os.close(fd)  # closing releases the lock

    def check_writable(self) -> None:
        """Raise an `OSError` naming the file unless records can be appended to it (creating it, empty, if need be):
        a program that collects people's input checks this before it asks for any."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
        except OSError as err:
            raise os_error(err, f"cannot write to {self.path}: {err.strerror or err}") from None

    def append(self, record: dict[str, Any]) -> None:
        """Write `record` as one line and make it durable before returning."""
        if not isinstance(record, dict):
            raise TypeError(f"a log record must be a dict, got {type(record).__name__}")
        problem = unstorable(record)  # refused before the file is touched: the log stays as it was
        if problem:
            raise ValueError(f"cannot save the record to {self.path}: field '{problem[0]}' {problem[1]}; nothing "
                             "was written")
        line = (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        with self._locked() as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a crash cut the last line: never write onto it
                line = b"\n" + line
            _write_all(fd, line, size, self.path)
            os.fsync(fd)

    def read(self) -> LogContents:
        """Every complete record; blank lines are ignored, unreadable ones are listed in ``skipped``."""
        contents = LogContents()
        if not self.path.exists():
            return contents
        raw = self.path.read_bytes()
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as err:
                cut = not raw.endswith(b"\n") and number == raw.count(b"\n") + 1
                reason = "cut short (the writer stopped mid-line)" if cut else f"not valid JSON ({err})"
                contents.skipped.append(SkippedLine(number, reason))
                continue
            if not isinstance(record, dict):
                contents.skipped.append(SkippedLine(number, f"expected a JSON object, got {type(record).__name__}"))
                continue
            contents.records.append(record)
            contents.lines.append(number)
        return contents

    def describe_skipped(self, skipped: Sequence[SkippedLine]) -> str:
        """One line per skipped line in file order, naming the file: what a notebook prints when a log had damage."""
        ordered = sorted(skipped, key=lambda s: s.line)
        return "\n".join(f"{self.path}, line {s.line}: skipped, {s.reason}" for s in ordered)
