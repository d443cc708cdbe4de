import pytest

from heygen_lib.nlg.compare import reply_stats


def test_reply_stats_measure_length_repetition_and_flag_degenerate_replies():
    varied = ["sorry, what is your order number?", "your parcel ships today from the depot",
              "I can refund the kettle now", "please restart the app and try again"]
    stats = reply_stats(varied)
    assert stats["median words"] == 6.5 and stats["identical share"] == 0 and not stats["degenerate"]
    one_word = reply_stats(["Thanks.", "Thanks.", "Hi.", "Thanks."])
    assert one_word["median words"] == 1 and one_word["identical share"] == 0.5 and one_word["degenerate"]
    repeated = reply_stats(["sorry about that order number"] * 60 + ["a b c d e f"])
    assert repeated["median words"] == 5 and repeated["distinct-2"] < 0.05 and repeated["degenerate"]
    with pytest.raises(ValueError):
        reply_stats([])
