import pytest

from heygen_lib.nlg.compare import knob_readings, loops, reply_stats


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


def test_a_reply_that_says_one_phrase_three_times_loops_and_one_that_says_it_twice_does_not():
    assert loops("I'm sorry, I'm sorry, I'm sorry, I'm sorry, for the order")
    assert not loops("I'm sorry for the order. I'm sorry for the wait.")
    assert reply_stats(["a b c a b c a b c", "order number please", "x y z", "p q"])["looping share"] == 0.25


def knob_row(ppl: float, degenerate: bool = False, trained: int = 100) -> dict:
    return {"test ppl": ppl, "degenerate": degenerate, "trainable parameters": trained}


def test_knob_readings_compare_beyond_the_noise_and_never_with_a_degenerate_run():
    rows = {"all": knob_row(200.0), "top": knob_row(190.0, trained=60), "head": knob_row(198.0, trained=20),
            "sgd": knob_row(150.0, degenerate=True)}
    top, head, sgd = knob_readings(rows, "all", noise=4.0)
    assert "better" in top and "60 of 100" in top
    assert "no difference" in head
    assert "not compared" in sgd and "150" not in sgd
    rows["all"] = knob_row(120.0, degenerate=True)
    assert knob_readings(rows, "all", noise=4.0) == ["**all** writes degenerate replies, so no run is compared with it."]
