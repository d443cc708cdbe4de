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


def test_the_retraining_figure_marks_the_kept_step_on_the_selection_curve():
    from heygen_lib.chat.figures import retraining_figure

    history = [{"phase": "dev", "step": 0, "loss": 2.0}, {"phase": "train", "step": 5, "loss": 1.8},
               {"phase": "dev", "step": 5, "loss": 2.1}]
    ax = retraining_figure(history, kept_step=0).axes[0]
    kept = [line for line in ax.lines if line.get_label() == "kept: step 0"][0]
    assert list(kept.get_xdata()) == [0] and list(kept.get_ydata()) == [2.0]
    assert ax.get_xlabel() == "optimizer step" and "nats" in ax.get_ylabel()
