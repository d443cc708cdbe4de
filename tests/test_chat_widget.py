import pytest
from ipywidgets import VBox

from heygen_lib.chat import Chatbot, DecodingConfig, FeedbackStore, feedback_pairs
from heygen_lib.chat.widget import ChatWidget


@pytest.fixture
def chat(model_and_tokenizer, tmp_path):
    bot = Chatbot(*model_and_tokenizer, DecodingConfig("greedy", max_new_tokens=5))
    return ChatWidget(bot, FeedbackStore(tmp_path / "feedback.jsonl"), model_name="tiny")


def send(chat, text):
    chat.message.value = text
    chat.send_message()


def test_send_shows_the_escaped_message_and_the_reply_with_its_speed(chat):
    send(chat, "is <b>this</b> <|response|> late?")
    assert len(chat.chatbot.history) == 2 and chat.message.value == ""
    assert "is &lt;b&gt;this&lt;/b&gt; &lt;|response|&gt; late?" in chat.transcript.value
    assert "<b>this</b>" not in chat.transcript.value
    assert "tokens/s" in chat.transcript.value and "tokens/s" in chat.status.value
    assert "escaped" in chat.status.value


def test_the_controls_set_the_decoding_of_the_next_reply(chat):
    chat.strategy.value, chat.temperature.value, chat.top_k.value = "sample", 1.3, 7
    chat.top_p.value, chat.repetition_penalty.value, chat.max_new_tokens.value = 0.6, 1.5, 4
    send(chat, "hello")
    assert chat.chatbot.last_reply.decoding == DecodingConfig("sample", 1.3, 7, 0.6, 1.5, 4, 4)
    assert chat.chatbot.last_reply.new_tokens <= 4


def test_an_empty_message_shows_an_error_and_changes_nothing(chat):
    send(chat, "  \x00 ")
    assert chat.chatbot.history == () and "empty message" in chat.status.value
    assert "Say hello" in chat.transcript.value and not chat.send_button.disabled


def test_a_failing_generation_is_reported_and_the_history_is_kept(chat, monkeypatch):
    send(chat, "hello")

    def broken(**kwargs):
        raise RuntimeError("device lost")

    monkeypatch.setattr(chat.chatbot.model, "generate", broken)
    send(chat, "second")
    assert len(chat.chatbot.history) == 2 and "generation failed" in chat.status.value
    assert "second" not in chat.transcript.value and chat.message.value == "second"  # the text is kept to retry


def test_ratings_and_corrections_go_to_the_store_for_the_chosen_reply(chat):
    send(chat, "where is my parcel")
    send(chat, "my order is late")
    assert [value for _, value in chat.turn.options] == [3, 1] and chat.turn.value == 3
    chat.bad_button.click()
    chat.turn.value = 1
    chat.good_button.click()
    chat.turn.value = 3
    chat.correction.value = "Sorry about that! What is the order number?"
    chat.correction_button.click()
    events = chat.store.load().events
    assert [(e.turn, e.rating, e.correction, e.model) for e in events] == [
        (3, "bad", None, "tiny"), (1, "good", None, "tiny"),
        (3, None, "Sorry about that! What is the order number?", "tiny")]
    assert events[0].context == chat.chatbot.history[:3]
    pairs, report = feedback_pairs(events)
    assert (report.corrected, report.kept_good) == (1, 1) and len(pairs) == 2
    assert "👎" in chat.transcript.value and "✎ corrected" in chat.transcript.value


def test_feedback_before_any_reply_and_empty_corrections_are_refused(chat):
    chat.good_button.click()
    assert "no reply" in chat.status.value
    send(chat, "hello")
    chat.correction_button.click()
    assert "empty correction" in chat.status.value and chat.store.load().events == []


def test_reset_starts_a_new_conversation(chat):
    send(chat, "hello")
    chat.reset_button.click()
    assert chat.chatbot.history == () and chat.turn.options == () and "Say hello" in chat.transcript.value


def test_the_feedback_file_is_named_without_this_machines_path(model_and_tokenizer, monkeypatch, tmp_path):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    bot = Chatbot(*model_and_tokenizer, DecodingConfig("greedy", max_new_tokens=5))
    widget = ChatWidget(bot, FeedbackStore(tmp_path / "chat" / "feedback.jsonl"))
    rows = [row for row in widget.children if isinstance(row, VBox)]
    shown = [c.value for row in rows for c in row.children if "saved to" in str(getattr(c, "value", ""))]
    assert shown == ["<b>Feedback</b> (saved to <code>$HEYGEN_ARTIFACTS_DIR/chat/feedback.jsonl</code>)"]
    assert str(tmp_path) not in shown[0]


def test_the_max_new_tokens_slider_leaves_half_the_window_for_the_prompt(model_and_tokenizer):
    bot = Chatbot(*model_and_tokenizer, DecodingConfig(max_new_tokens=8), max_context_tokens=40)
    assert ChatWidget(bot).max_new_tokens.max == 20


def test_enter_in_the_message_box_sends(chat):
    chat.message.value = "hello"
    chat.message._handle_string_msg(None, {"event": "submit"}, None)  # what the front end sends on Enter (7 and 8)
    assert [t.text for t in chat.chatbot.history[:1]] == ["hello"]


def test_feedback_that_cannot_be_saved_is_said_in_the_status_line_and_the_chat_goes_on(chat):
    import resource

    send(chat, "hello")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16, hard))  # a full disk
    try:
        chat.rate("good")
        assert "not saved: could not save the record to" in chat.status.value
        chat.correction.value = "Sorry! What is the order number?"
        chat.save_correction()
        assert "not saved" in chat.status.value and chat.correction.value == "Sorry! What is the order number?"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    send(chat, "where is my parcel")
    assert len(chat.chatbot.history) == 4 and FeedbackStore(chat.store.path).load().events == []


def test_every_control_label_is_shown_whole(chat):
    controls = [chat.strategy, chat.temperature, chat.top_k, chat.top_p, chat.repetition_penalty, chat.num_beams,
                chat.max_new_tokens, chat.turn]
    assert all(c.style.description_width == "initial" for c in controls)


def test_feedback_the_store_refuses_is_said_in_the_status_line(model_and_tokenizer, tmp_path):
    bot = Chatbot(*model_and_tokenizer, DecodingConfig("greedy", max_new_tokens=5))
    chat = ChatWidget(bot, FeedbackStore(tmp_path / "feedback.jsonl"), model_name="tiny\ud800")  # not encodable
    send(chat, "hello")
    chat.good_button.click()
    assert "not saved" in chat.status.value and FeedbackStore(chat.store.path).load().events == []
