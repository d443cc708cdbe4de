import pytest

from heygen_lib.chat.chatbot import Reply
from heygen_lib.chat.figures import latency_figure


def test_the_latency_figure_draws_one_bar_per_reply_labelled_with_its_tokens():
    replies = [Reply("a", 4, 0.5, 8.0), Reply("b", 10, 0.25, 40.0)]
    latency, speed = latency_figure(replies, ["first", "second"]).axes
    assert [p.get_height() for p in latency.patches] == [0.5, 0.25]
    assert [p.get_height() for p in speed.patches] == [8.0, 40.0]
    assert [t.get_text() for t in latency.texts] == ["4 tok", "10 tok"]
    with pytest.raises(ValueError, match="1 labels for 2 replies"):
        latency_figure(replies, ["x"])
