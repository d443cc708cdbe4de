from heygen_lib.data.cleaning import CleaningReport
from heygen_lib.data.readings import cleaning_reading, is_function_phrase, ngram_reading


def test_function_phrases_are_those_without_a_content_word():
    assert is_function_phrase("in the") and is_function_phrase("can you") and is_function_phrase("i don't")
    assert not any(map(is_function_phrase, ("write a", "in python", "thank you")))


def test_ngram_reading_counts_function_phrases_and_names_content_ones_by_rank():
    top = {"bot": [("can you", 105), ("you write", 85), ("write a", 79), ("i am", 66), ("in python", 53)],
           "chat": [("in the", 9), ("of the", 8)]}
    assert ngram_reading(top, n=2).splitlines() == [
        '- **bot**: 2 of its top 5 2-grams are function words only; the ones with content, by rank: "you write" (2), '
        '"write a" (3), "in python" (5)',
        "- **chat**: 2 of its top 2 2-grams are function words only; none carries content",
    ]


def report(d_in, d_out, t_in, steps):
    return CleaningReport(dialogues_in=d_in, dialogues_out=d_out, turns_in=t_in, turns_out=t_in, steps=steps)


def test_cleaning_reading_says_all_most_or_some_as_the_numbers_say():
    reports = {
        "bot": report(400, 314, 1067, {"turns with whitespace collapsed": 237, "short dialogues removed": 0,
                                       "duplicate dialogues removed": 86}),
        "chat": report(10, 4, 100, {"short dialogues removed": 4, "duplicate dialogues removed": 2}),
        "mix": report(10, 4, 100, {"short dialogues removed": 3, "duplicate dialogues removed": 3}),
        "clean": report(5, 5, 20, {"short dialogues removed": 0}),
    }
    assert cleaning_reading(reports).splitlines() == [
        "- **bot**: 86 of 400 (22%) dialogues removed, all of them as duplicates (86); the step that touched most "
        "turns: turns with whitespace collapsed, 237 of 1,067 (22%) turns.",
        "- **chat**: 6 of 10 (60%) dialogues removed, most of them as too short (4).",
        "- **mix**: 6 of 10 (60%) dialogues removed, some of them as too short (3).",
        "- **clean**: 0 of 5 (0%) dialogues removed.",
    ]


def test_one_sided_conversations_and_written_out_addresses_are_counted():
    import math

    from heygen_lib.data import Dialogue, Turn
    from heygen_lib.data.readings import addresses, gone_share, one_sided

    dialogues = [Dialogue("a", (Turn("x", "hi jo@example.com and al@b.co"), Turn("x", "<email>")), "t"),
                 Dialogue("b", (Turn("x", "hi"), Turn("y", "hello")), "t")]
    assert one_sided(dialogues) == 1 and addresses(dialogues) == 2
    assert gone_share(4, 1) == 0.75 and math.isnan(gone_share(0, 0))  # nothing to remove: no verdict


def test_the_word_order_reading_charges_a_swap_against_a_deletion_under_each_measure():
    from heygen_lib.augment.readings import order_costs, order_reading

    rows = [{"augmenter": "random-swap", "rate": 0.2, "similarity to source": 0.92, "perplexity vs source": 2.2},
            {"augmenter": "random-deletion", "rate": 0.2, "similarity to source": 0.92, "perplexity vs source": 1.3},
            {"augmenter": "word-reversal", "rate": None, "similarity to source": 0.83, "perplexity vs source": 4.6}]
    costs = order_costs(rows, 0.2)
    assert costs["similarity"] == 1.0 and round(costs["perplexity"], 6) == 4.0 and round(costs["sensitivity"], 6) == 4.0
    reading = order_reading(rows, 0.2)
    assert "**1.00x**" in reading and "**4.0x**" in reading and "0.830 (the lowest row)" in reading


def test_a_measure_that_moves_for_neither_edit_gives_no_verdict():
    import math

    from heygen_lib.augment.readings import order_costs

    rows = [{"augmenter": name, "rate": 0.2, "similarity to source": 0.9, "perplexity vs source": 1.0}
            for name in ("random-swap", "random-deletion")]
    assert math.isnan(order_costs(rows, 0.2)["sensitivity"])
