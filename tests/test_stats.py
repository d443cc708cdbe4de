from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.data.stats import response_lengths, top_ngrams, turn_lengths, vocabulary_growth
from heygen_lib.text import word_tokens


def test_word_tokens_keep_contractions_and_split_punctuation():
    assert word_tokens("Hi, I'm here!") == ["hi", ",", "i'm", "here", "!"]
    assert word_tokens("Hi", lowercase=False) == ["Hi"]


def test_lengths_count_tokens_per_turn_and_per_response():
    d = Dialogue("d", (Turn("a", "hello there"), Turn("b", "hi!")), "t")
    assert turn_lengths([d]) == [2, 2]
    assert response_lengths(build_pairs([d])) == [2]


def test_vocabulary_growth_ends_at_the_vocabulary_size_and_never_shrinks():
    d = Dialogue("d", (Turn("a", "a b a c"), Turn("b", "c d e a")), "t")
    tokens_read, types_seen = vocabulary_growth([d], points=4)
    assert tokens_read == [2, 4, 6, 8]
    assert types_seen == [2, 3, 4, 5]


def test_top_ngrams_count_within_turns_and_skip_punctuation():
    d = Dialogue("d", (Turn("a", "thank you, thank you"), Turn("b", "you thank")), "t")
    assert top_ngrams([d], n=2, k=2) == [("thank you", 2), ("you thank", 2)]
    assert top_ngrams([d], n=1, k=1) == [("thank", 3)]


def test_heaps_exponent_recovers_the_power_of_a_power_law():
    import math

    from heygen_lib.data.stats import heaps_exponent

    tokens = [10, 100, 1000, 10000]
    assert math.isclose(heaps_exponent(tokens, [3 * n ** 0.6 for n in tokens]), 0.6, rel_tol=1e-9)
    assert math.isnan(heaps_exponent([10], [5]))


def test_vocabulary_table_gives_type_token_ratio_per_corpus():
    from heygen_lib.data import Dialogue, Turn
    from heygen_lib.data.stats import vocabulary_table

    (row,) = vocabulary_table({"toy": [Dialogue("a", (Turn("x", "a b a b"), Turn("y", "c a")), "toy")]})
    assert (row["corpus"], row["tokens N"], row["types V"], row["V / N"]) == ("toy", "6", "3", 0.5)
