import json

import pytest

from heygen_lib.chat import DecodingConfig, FeedbackStore, feedback_pairs
from heygen_lib.chat.feedback import retraining_set
from heygen_lib.chat.chatbot import Reply
from heygen_lib.data import Pair, Turn
from heygen_lib.data.pair_files import load_pairs, save_pairs

CONTEXT = (Turn("customer", "where is my parcel?"),)


def rate(store, turn, rating, conversation="c1"):
    return store.record_rating(conversation, turn, CONTEXT, f"bot reply {turn}", rating, model="m")


def test_events_come_back_with_every_field(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    store.record_rating("c1", 1, CONTEXT, "hello hello", "bad", decoding=DecodingConfig().to_dict(),
                        model="artifacts/m")
    store.record_correction("c1", 1, CONTEXT, "hello hello", "  Could I have the order number?  ")
    (rating, correction), skipped = FeedbackStore(store.path).load().events, FeedbackStore(store.path).load().skipped
    assert skipped == []
    assert (rating.conversation, rating.turn, rating.context, rating.response) == ("c1", 1, CONTEXT, "hello hello")
    assert (rating.rating, rating.correction, rating.model, rating.bot) == ("bad", None, "artifacts/m", "agent")
    assert rating.decoding == DecodingConfig().to_dict() and rating.time.endswith("+00:00")
    assert (correction.rating, correction.correction) == (None, "Could I have the order number?")


def test_nothing_is_lost_across_a_crash_that_cut_the_last_line(tmp_path):
    path = tmp_path / "feedback.jsonl"
    store = FeedbackStore(path)
    rate(store, 1, "good")
    rate(store, 3, "bad")
    with path.open("a", encoding="utf-8") as f:  # the process died while writing the third event
        f.write('{"time": "2025-01-01T00:00:00+00:00", "conversation": "c1", "tu')
    reopened = FeedbackStore(path)  # after the restart
    contents = reopened.load()
    assert [e.turn for e in contents.events] == [1, 3]
    assert reopened.describe_skipped(contents) == f"{path}, line 3: skipped, cut short (the writer stopped mid-line)"
    rate(reopened, 5, "good")  # starts on a fresh line: never merged with the cut one
    contents = reopened.load()
    assert [e.turn for e in contents.events] == [1, 3, 5]
    assert [s.line for s in contents.skipped] == [3]


def test_a_line_that_is_json_but_no_feedback_event_is_reported_with_its_line(tmp_path):
    path = tmp_path / "feedback.jsonl"
    store = FeedbackStore(path)
    rate(store, 1, "good")
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + json.dumps({"time": "t", "conversation": "c1"}) + "\n")
        f.write(json.dumps({"time": "t", "conversation": "c1", "turn": 3, "bot": "agent", "context": [],
                            "response": "r", "rating": "meh"}) + "\n")
    rate(store, 5, "bad")
    contents = store.load()
    assert [e.turn for e in contents.events] == [1, 5]
    assert [s.line for s in contents.skipped] == [3, 4]
    assert "missing field(s): turn, bot, context, response" in contents.skipped[0].reason
    assert "'rating' is 'meh'" in contents.skipped[1].reason


def test_bad_ratings_and_empty_corrections_are_refused(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    with pytest.raises(ValueError, match="rating must be one of good, bad"):
        rate(store, 1, "great")
    with pytest.raises(ValueError, match="empty correction"):
        store.record_correction("c1", 1, CONTEXT, "r", "   ")
    assert not store.path.exists()


def test_feedback_pairs_use_corrections_keep_good_replies_and_count_dropped_bad_ones(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    rate(store, 1, "good")  # kept as is
    rate(store, 3, "bad")  # dropped: no correction
    rate(store, 5, "bad")
    store.record_correction("c1", 5, CONTEXT, "bot reply 5", "Sorry! What is the order number?")  # corrected
    rate(store, 7, "good")
    rate(store, 7, "bad")  # the latest word counts: dropped
    rate(store, 1, "good", conversation="c2")  # same turn index, other conversation: its own pair
    pairs, report = feedback_pairs(store.load().events)
    assert [(p.dialogue_id, p.turn_index, p.response.text) for p in pairs] == [
        ("chat-c1", 1, "bot reply 1"), ("chat-c1", 5, "Sorry! What is the order number?"),
        ("chat-c2", 1, "bot reply 1")]
    assert all(p.context == CONTEXT and p.response.speaker == "agent" and p.source == "feedback" for p in pairs)
    assert pairs[1].meta["feedback"]["bot_response"] == "bot reply 5" and pairs[1].meta["feedback"]["corrected"]
    assert (report.bot_turns, report.corrected, report.kept_good, report.dropped_bad) == (5, 1, 2, 2)
    assert str(report) == ("5 rated bot turns -> 3 pairs (1 corrected, 2 rated good); "
                           "2 rated bad without a correction, dropped")
    save_pairs(pairs, tmp_path / "pairs.jsonl")
    assert [p.response.text for p in load_pairs(tmp_path / "pairs.jsonl")] == [p.response.text for p in pairs]


class FakeBot:
    """What the store reads from a chatbot: history, replies, conversation id, bot name."""

    def __init__(self):
        self.bot, self.conversation_id = "agent", "conv"
        self.history = (Turn("customer", "hi"), Turn("agent", "hello"), Turn("customer", "late"), Turn("agent", "ok"))
        self.decodings = {1: DecodingConfig("greedy"), 3: DecodingConfig("beam")}

    def reply_for(self, turn):
        if turn not in self.decodings:
            raise IndexError(f"history[{turn}] is not a bot turn")
        return Reply(self.history[turn].text, 1, 0.1, 10.0, decoding=self.decodings[turn])


def test_rate_and_correct_read_the_turn_context_and_decoding_from_the_chatbot(tmp_path):
    store, bot = FeedbackStore(tmp_path / "feedback.jsonl"), FakeBot()
    latest = store.rate(bot, "bad", model="folder")
    first = store.correct(bot, "Hello! How can I help?", turn=1)
    assert (latest.turn, latest.context, latest.response) == (3, bot.history[:3], "ok")
    assert (first.turn, first.context, first.correction) == (1, bot.history[:1], "Hello! How can I help?")
    assert (latest.decoding["strategy"], first.decoding["strategy"]) == ("beam", "greedy")
    with pytest.raises(IndexError):
        store.rate(bot, "good", turn=2)


def test_the_retraining_set_repeats_feedback_and_replays_some_original_pairs():
    feedback = [Pair(CONTEXT, Turn("agent", f"fix {i}"), f"chat-{i}", "feedback", 1) for i in range(3)]
    original = [Pair(CONTEXT, Turn("agent", f"old {i}"), f"d{i}", "support", 1) for i in range(100)]
    mixed = retraining_set(feedback, original, repeat=4, replay=10, seed=1)
    texts = [p.response.text for p in mixed]
    assert len(mixed) == 22 and all(texts.count(f"fix {i}") == 4 for i in range(3))
    assert len({t for t in texts if t.startswith("old")}) == 10
    assert mixed == retraining_set(feedback, original, repeat=4, replay=10, seed=1)
    assert len(retraining_set(feedback, original[:5], replay=10)) == 12 + 5
    with pytest.raises(ValueError, match="no feedback pairs"):
        retraining_set([], original)



def test_hand_edited_events_of_the_wrong_shape_are_skipped_with_line_and_field(tmp_path):
    path = tmp_path / "feedback.jsonl"
    store = FeedbackStore(path)
    rate(store, 1, "good")
    good = {"time": "t", "conversation": "c1", "turn": 3, "bot": "agent",
            "context": [{"speaker": "customer", "text": "hi"}], "response": "hello", "rating": "good"}
    bad = [({**good, "response": None}, "field 'response': expected a string, got null"),
           ({**good, "rating": None, "correction": 5}, "field 'correction': expected a string or null, got int"),
           ({**good, "rating": None, "correction": "  "}, "field 'correction': blank"),
           ({**good, "turn": "3"}, "field 'turn': expected a non-negative integer, got str"),
           ({**good, "context": [{"speaker": "customer"}]}, "field 'context': expected a list of objects"),
           ({**good, "decoding": [1]}, "field 'decoding': expected an object, got list")]
    with path.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record, _ in bad)
    contents = store.load()
    assert [e.turn for e in contents.events] == [1]
    assert [s.line for s in contents.skipped] == list(range(2, 2 + len(bad)))
    for skipped, (_, reason) in zip(contents.skipped, bad):
        assert reason in skipped.reason
    pairs, _ = feedback_pairs(contents.events)
    assert all(isinstance(p.response.text, str) and p.response.text != "None" for p in pairs)
    with pytest.raises(ValueError, match="field 'response'"):
        store.record_rating("c", 1, [Turn("customer", "hi")], None, "good")
    assert len(store.load().events) == 1


def test_the_store_keeps_no_invisible_characters_whoever_records(tmp_path):
    """The widget and scripts record through the store directly: it strips what the chat strips."""
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    hidden = "\u202e\u200b\x1b"
    store.record_rating("c1", 1, (Turn("customer", f"where{hidden} is it?"),), f"on its{hidden} way", "good")
    store.record_correction("c1", 1, CONTEXT, "r", f"It ships{hidden} today\n(tracking by e-mail)")
    rating, correction = store.load().events
    assert rating.context[0].text == "where is it?" and rating.response == "on its way"
    assert correction.correction == "It ships today\n(tracking by e-mail)"
    with pytest.raises(ValueError, match="empty correction"):
        store.record_correction("c1", 1, CONTEXT, "r", hidden)  # nothing visible left
