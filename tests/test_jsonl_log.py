import errno
import json
import multiprocessing
import os
import resource
from contextlib import contextmanager

import pytest

from heygen_lib import jsonl_log
from heygen_lib.jsonl_log import JsonlLog


def _append_many(path, worker, n):
    log = JsonlLog(path)
    for i in range(n):
        log.append({"worker": worker, "i": i, "text": "x" * 2000})


def test_records_come_back_in_order(tmp_path):
    log = JsonlLog(tmp_path / "deep" / "log.jsonl")
    for i in range(3):
        log.append({"i": i, "text": "caf\u00e9 \u2728"})
    assert [r["i"] for r in log.read().records] == [0, 1, 2]
    assert JsonlLog(log.path).read().records[0]["text"] == "caf\u00e9 \u2728"  # a new object resumes from the file


def test_concurrent_appends_from_processes_lose_nothing(tmp_path):
    path = tmp_path / "log.jsonl"
    procs = [multiprocessing.get_context("fork").Process(target=_append_many, args=(path, w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    contents = JsonlLog(path).read()
    assert not contents.skipped
    assert sorted((r["worker"], r["i"]) for r in contents.records) == [(w, i) for w in range(4) for i in range(50)]


def test_a_cut_last_line_is_reported_and_never_merged_with_the_next_record(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append({"i": 0})
    with log.path.open("a") as f:
        f.write('{"i": 1, "te')  # a crash mid-write
    contents = log.read()
    assert [r["i"] for r in contents.records] == [0]
    assert [(s.line, s.reason.split(" (")[0]) for s in contents.skipped] == [(2, "cut short")]
    log.append({"i": 2})
    contents = log.read()
    assert [r["i"] for r in contents.records] == [0, 2]
    assert contents.lines == [1, 3]
    assert [s.line for s in contents.skipped] == [2]
    assert "log.jsonl, line 2" in log.describe_skipped(contents.skipped)


def test_a_line_that_is_not_an_object_is_reported(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"i": 0}) + "\n[1, 2]\n\n")
    contents = JsonlLog(path).read()
    assert len(contents.records) == 1
    assert contents.skipped[0].line == 2 and "list" in contents.skipped[0].reason


def test_a_missing_log_reads_as_empty(tmp_path):
    contents = JsonlLog(tmp_path / "none.jsonl").read()
    assert contents.records == [] and contents.skipped == []


@contextmanager
def file_size_limit(limit: int):
    """Writes past `limit` bytes fail (as on a full disk): the OS writes what fits, then refuses with EFBIG."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_write_that_stops_short_raises_and_leaves_no_partial_line(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append({"n": 1})
    size = log.path.stat().st_size
    with file_size_limit(size + 20), pytest.raises(OSError, match="log.jsonl") as raised:
        log.append({"n": 2, "text": "x" * 100})
    assert raised.value.errno == errno.EFBIG  # the cause's errno, for a caller that tells a full disk apart
    assert log.path.stat().st_size == size
    log.append({"n": 3})
    contents = log.read()
    assert [r["n"] for r in contents.records] == [1, 3]
    assert contents.skipped == []


def test_review_and_feedback_stores_raise_when_the_disk_is_full(tmp_path):
    from heygen_lib.chat.feedback import FeedbackStore
    from heygen_lib.data.dialogue import Turn
    from heygen_lib.dialogue_gan.review import ReviewStore

    review, feedback = ReviewStore(tmp_path / "review.jsonl"), FeedbackStore(tmp_path / "feedback.jsonl")
    with file_size_limit(30):
        with pytest.raises(OSError, match="review.jsonl"):
            review.record("k" * 16, "edit", text="a corrected reply " * 5)
        with pytest.raises(OSError, match="feedback.jsonl"):
            feedback.record_rating("c", 1, [Turn("customer", "hi")], "hello there", "good")
    assert review.path.stat().st_size == 0 and feedback.path.stat().st_size == 0


def test_short_writes_are_continued_until_the_whole_record_is_written(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(jsonl_log.os, "write", lambda fd, data: real_write(fd, data[:1]))  # one byte per call
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append({"n": 1, "text": "caf\u00e9"})
    log.append({"n": 2})
    assert log.read().records == [{"n": 1, "text": "caf\u00e9"}, {"n": 2}]


def test_a_write_of_nothing_raises_says_so_and_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append({"n": 1})
    before = log.path.read_bytes()
    record = {"n": 2, "text": "x" * 30}
    size = len(json.dumps(record)) + 1
    real_write = os.write  # 5 bytes, then no more room
    monkeypatch.setattr(jsonl_log.os, "write", lambda fd, data: real_write(fd, data[:5]) if len(data) == size else 0)
    with pytest.raises(OSError, match=rf"^could not save the record to {log.path}: no space to write \(5 of "
                                      rf"{size} bytes written\); nothing was written \(is the disk full\?\)$"):
        log.append(record)
    assert log.path.read_bytes() == before


def test_check_writable_creates_an_empty_log_or_raises_naming_the_file(tmp_path):
    log = JsonlLog(tmp_path / "new" / "deeper" / "log.jsonl")
    umask = os.umask(0)
    os.umask(umask)
    log.check_writable()
    assert log.path.read_bytes() == b"" and log.path.stat().st_mode & 0o777 == 0o644 & ~umask
    log.append({"n": 1})
    log.check_writable()
    assert log.read().records == [{"n": 1}]  # an existing log is left as it is
    folder = JsonlLog(tmp_path / "new")  # a folder where the log should be
    with pytest.raises(OSError, match=rf"^cannot write to {folder.path}: Is a directory$") as raised:
        folder.check_writable()
    assert raised.value.errno == errno.EISDIR


@pytest.mark.parametrize("record, field, says", [
    ({"text": "fixed \ud800 reply"}, "text", "holds \\ud800, half of a UTF-16 pair"),
    ({"decoding": {"temperature": float("nan")}}, "decoding.temperature", "nan is not a JSON number"),
    ({"context": [{"text": "ok"}, {"text": "\udfff"}]}, "context[1].text", "holds \\udfff"),
])
def test_a_record_json_cannot_hold_is_refused_naming_file_and_field_and_the_log_stays_as_it_was(tmp_path, record,
                                                                                                field, says):
    log = JsonlLog(tmp_path / "new.jsonl")
    with pytest.raises(ValueError) as caught:
        log.append(record)
    assert str(caught.value).startswith(f"cannot save the record to {log.path}: field '{field}' ")
    assert says in str(caught.value) and not log.path.exists()  # no empty file either
    kept = JsonlLog(tmp_path / "kept.jsonl")
    kept.append({"n": 1})
    before = kept.path.read_bytes()
    with pytest.raises(ValueError):
        kept.append(record)
    assert kept.path.read_bytes() == before


def test_review_and_feedback_records_with_a_lone_surrogate_are_refused_and_leave_no_file(tmp_path):
    from heygen_lib.chat.feedback import FeedbackStore
    from heygen_lib.data.dialogue import Turn
    from heygen_lib.dialogue_gan.review import ReviewStore

    review, feedback = ReviewStore(tmp_path / "review.jsonl"), FeedbackStore(tmp_path / "feedback.jsonl")
    with pytest.raises(ValueError, match=r"review.jsonl: field 'text' holds \\ud800"):
        review.record("k" * 16, "edit", text="a corrected reply \ud800")
    with pytest.raises(ValueError, match=r"feedback.jsonl: field 'model' holds \\udc80"):
        feedback.record_rating("c", 1, [Turn("customer", "hi")], "hello there", "good", model="m\udc80")
    assert list(tmp_path.iterdir()) == []
