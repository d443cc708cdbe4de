from heygen_lib.data import Pair, Turn
from heygen_lib.dialogue_gan.review import ReviewStore, key_of
from heygen_lib.dialogue_gan.review_widget import ReviewWidget


def candidates(n: int) -> list[Pair]:
    return [Pair((Turn("customer", f"question {i} <b>?</b>"),), Turn("agent", f"answer {i}"), f"d{i}", "gan", 1,
                 {"provenance": {"scores": {"discriminator": 0.5}}}) for i in range(n)]


def test_each_click_is_stored_and_the_widget_moves_to_the_next_pending_pair(tmp_path):
    pairs = candidates(4)
    store = ReviewStore(tmp_path / "decisions.jsonl")
    widget = ReviewWidget(store, pairs, reviewer="ann")
    assert widget.current == pairs[0] and widget.response.value == "answer 0"
    assert "0 of 4 reviewed" in widget.progress.value and "&lt;b&gt;?" in widget.context.value  # text is escaped
    widget.accept.click()
    assert store.decisions()[key_of(pairs[0])].decision == "accept" and widget.current == pairs[1]
    widget.skip.click()  # leaves pair 1 pending
    assert widget.current == pairs[2]
    widget.response.value = "answer two, corrected"
    widget.save_edit.click()
    assert store.decisions()[key_of(pairs[2])].text == "answer two, corrected"
    widget.reject.click()
    assert store.decisions()[key_of(pairs[3])].decision == "reject"
    assert widget.current == pairs[1]  # back to the skipped one
    assert "3 of 4 reviewed (1 accepted, 1 edited, 1 rejected)" in widget.progress.value


def test_a_new_widget_on_the_same_store_resumes_and_finishes(tmp_path):
    pairs = candidates(2)
    store = ReviewStore(tmp_path / "decisions.jsonl")
    ReviewWidget(store, pairs).reject.click()
    resumed = ReviewWidget(ReviewStore(store.path), pairs)  # after a kernel restart
    assert resumed.current == pairs[1]
    resumed.save_edit.click()  # unchanged text
    assert store.decisions()[key_of(pairs[1])].decision == "accept" and "recorded as accept" in resumed.status.value
    assert resumed.current is None and resumed.accept.disabled
    assert "2 of 2 reviewed" in resumed.progress.value


def test_an_empty_edit_is_refused_and_nothing_is_stored(tmp_path):
    store = ReviewStore(tmp_path / "decisions.jsonl")
    widget = ReviewWidget(store, candidates(1))
    widget.response.value = "   "
    widget.save_edit.click()
    assert store.history() == [] and "needs text" in widget.status.value and widget.current is not None


def test_a_decision_that_cannot_be_written_is_said_in_the_status_line_and_the_pair_stays(tmp_path):
    import html

    pairs = candidates(2)
    (tmp_path / "a-file").write_text("")
    store = ReviewStore(tmp_path / "a-file" / "decisions.jsonl")  # its folder cannot be made: nothing can be written
    widget = ReviewWidget(store, pairs)
    widget.accept.click()
    shown = html.unescape(widget.status.value)
    assert "not saved" in shown and str(store.path.parent) in shown
    assert widget.current == pairs[0] and "0 of 2 reviewed" in widget.progress.value


def test_a_store_that_cannot_be_read_any_more_is_said_in_the_status_line(tmp_path):
    store = ReviewStore(tmp_path / "decisions.jsonl")
    widget = ReviewWidget(store, candidates(2))
    store.path.mkdir()  # the file became something that cannot be read
    widget.skip.click()
    assert "IsADirectoryError" in widget.status.value and "decisions.jsonl" in widget.status.value
