import json
import multiprocessing

import pytest

from heygen_lib.data import Pair, Turn, load_pairs
from heygen_lib.dialogue_gan.review import (
    ReviewStore,
    candidate_key,
    key_of,
    reviewed_pairs_path,
    scripted_review,
    write_reviewed_pairs,
)


def candidates(n: int = 4) -> list[Pair]:
    out = []
    for i in range(n):
        provenance = {"generator": "toy", "checkpoint_sha256": "ab" * 32, "seed": 0,
                      "scores": {"discriminator": i / n, "perplexity": 20.0 + i}}
        pair = Pair((Turn("customer", f"where is order {i}?"),), Turn("agent", f"It ships on day {i}."), f"d{i}",
                    "gan", 1, {"provenance": provenance})
        out.append(Pair(pair.context, pair.response, pair.dialogue_id, pair.source, 1,
                        {**pair.meta, "candidate_key": candidate_key(pair)}))
    return out


def _review(path, worker, keys):
    store = ReviewStore(path)
    for key in keys:
        store.record(key, "accept", reviewer=f"worker {worker}")


def test_candidate_keys_are_stable_and_differ_by_context_and_response():
    a, b = candidates(2)
    assert candidate_key(a) == candidate_key(Pair(a.context, a.response, a.dialogue_id, a.source, 1))
    assert candidate_key(a) != candidate_key(b) and len(candidate_key(a)) == 16
    assert key_of(a) == a.meta["candidate_key"]


def test_concurrent_reviewers_and_a_reopened_store_lose_no_decision(tmp_path):
    path = tmp_path / "decisions.jsonl"
    keys = [f"k{i}" for i in range(60)]
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_review, args=(path, w, keys[w::3])) for w in range(3)]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
    reopened = ReviewStore(path)  # as after a kernel restart
    assert sorted(d.key for d in reopened.history()) == sorted(keys) and not reopened.skipped


def test_reopening_resumes_with_the_pending_candidates_and_the_latest_decision_wins(tmp_path):
    pairs = candidates(4)
    store = ReviewStore(tmp_path / "decisions.jsonl")
    store.record(key_of(pairs[0]), "reject", reviewer="ann")
    store.record(key_of(pairs[2]), "accept", reviewer="ann")
    resumed = ReviewStore(tmp_path / "decisions.jsonl")
    assert resumed.pending(pairs) == [pairs[1], pairs[3]]
    resumed.record(key_of(pairs[0]), "accept", reviewer="bob")  # a second look
    assert resumed.decisions()[key_of(pairs[0])].reviewer == "bob"
    assert [d.decision for d in resumed.history()] == ["reject", "accept", "accept"]  # every decision is kept
    assert resumed.summary(pairs) == "2 of 4 reviewed (2 accepted, 0 edited, 0 rejected)"


def test_a_cut_last_line_is_reported_with_file_and_line_and_never_merged(tmp_path):
    pairs = candidates(3)
    store = ReviewStore(tmp_path / "decisions.jsonl")
    store.record(key_of(pairs[0]), "accept")
    with store.path.open("a") as f:
        f.write('{"key": "%s", "decision": "rej' % key_of(pairs[1]))  # the kernel died mid-write
    with pytest.warns(UserWarning, match=r"decisions.jsonl, line 2: skipped, cut short"):
        assert store.pending(pairs) == pairs[1:]
    store.record(key_of(pairs[2]), "reject")
    with pytest.warns(UserWarning, match="line 2"):
        decisions = store.decisions()
    assert {k: d.decision for k, d in decisions.items()} == {key_of(pairs[0]): "accept", key_of(pairs[2]): "reject"}
    assert [s.line for s in store.skipped] == [2]


def test_a_record_that_is_not_a_decision_is_reported_with_its_line(tmp_path):
    path = tmp_path / "decisions.jsonl"
    store = ReviewStore(path)
    store.record("k1", "accept")
    with path.open("a") as f:
        f.write('\n{"key": "k2"}\n')  # a blank line, then an object missing fields
    with pytest.warns(UserWarning, match="line 3: skipped, not a review decision"):
        assert list(store.decisions()) == ["k1"]


def test_decisions_are_validated():
    store = ReviewStore("/nonexistent/never-written.jsonl")
    with pytest.raises(ValueError, match="decision must be one of"):
        store.record("k", "maybe")
    with pytest.raises(ValueError, match="needs the corrected"):
        store.record("k", "edit", "  ")
    with pytest.raises(ValueError, match="only an edit"):
        store.record("k", "accept", "text")


def test_scripted_review_accepts_above_the_threshold_and_leaves_earlier_decisions_alone(tmp_path):
    pairs = candidates(4)  # scores 0, 0.25, 0.5, 0.75
    store = ReviewStore(tmp_path / "decisions.jsonl")
    store.record(key_of(pairs[3]), "reject", reviewer="person")
    made = scripted_review(store, pairs, threshold=0.5)
    assert made == {"reject": 2, "accept": 1}
    decided = store.decisions()
    assert [decided[key_of(p)].decision for p in pairs] == ["reject", "reject", "accept", "reject"]
    assert decided[key_of(pairs[3])].reviewer == "person"
    assert scripted_review(store, pairs, threshold=0.0) == {}  # nothing pending: a re-run changes nothing


def test_reviewed_pairs_keep_accepted_and_edited_pairs_with_the_edit_replacing_the_response(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    pairs = candidates(3)
    store = ReviewStore(tmp_path / "decisions.jsonl")
    store.record(key_of(pairs[0]), "accept", reviewer="ann")
    store.record(key_of(pairs[1]), "reject", reviewer="ann")
    store.record(key_of(pairs[2]), "edit", "It ships on Monday.", reviewer="ann")
    path = write_reviewed_pairs(store, pairs)
    assert path == reviewed_pairs_path() == tmp_path / "artifacts" / "dialogue_gan" / "reviewed_pairs.jsonl"
    written = load_pairs(path)
    assert [p.response.text for p in written] == ["It ships on day 0.", "It ships on Monday."]
    assert all(p.source == "gan" for p in written)
    review = written[1].meta["provenance"]["review"]
    assert (review["decision"], review["original_text"], review["reviewer"]) == ("edit", "It ships on day 2.", "ann")
    assert written[1].meta["provenance"]["checkpoint_sha256"] == "ab" * 32
    assert written[0].meta["provenance"]["review"]["decision"] == "accept"


def test_a_review_that_accepted_nothing_writes_an_empty_set(tmp_path):
    pairs = candidates(2)
    store = ReviewStore(tmp_path / "decisions.jsonl")
    store.record(key_of(pairs[0]), "reject")
    assert load_pairs(write_reviewed_pairs(store, pairs, tmp_path / "out.jsonl"), allow_empty=True) == []


def test_hand_edited_decisions_of_the_wrong_shape_are_skipped_with_line_and_field(tmp_path):
    path = tmp_path / "decisions.jsonl"
    store = ReviewStore(path)
    store.record("k1", "edit", "Sorry, the order number?")
    base = {"decision": "accept", "text": None, "reviewer": "me", "time": "2025-01-01T00:00:00+00:00"}
    bad = [{**base, "key": ["k2"]}, {**base, "key": "k3", "decision": "edit"},
           {**base, "key": "k4", "decision": "edit", "text": 5}, {**base, "key": "k5", "text": "why"},
           {**base, "key": ""}]
    with path.open("a") as f:
        f.writelines(json.dumps(record) + "\n" for record in bad)
    with pytest.warns(UserWarning) as caught:
        decided = store.decisions()
    assert list(decided) == ["k1"]
    assert [s.line for s in store.skipped] == [2, 3, 4, 5, 6]
    message = str(caught[0].message)
    assert "line 2: skipped, field 'key': expected a string, got list" in message
    assert "line 3: skipped, field 'text': an edit needs the corrected response as a non-empty string" in message
    assert "line 4: skipped, field 'text'" in message and "line 5: skipped, field 'text': only an edit" in message
    assert "line 6: skipped, field 'key': empty" in message  # as `record` refuses to write it
    with pytest.raises(TypeError, match="key must be a non-empty string"):
        store.record(["k"], "accept")
