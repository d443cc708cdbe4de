import torch

from heygen_lib.data import Pair, Turn
from heygen_lib.dialogue_gan.data import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    build_vocabulary,
    context_words,
    detokenize,
    encode_pairs,
    fit_response,
    response_lengths,
    response_words,
)


def pair(context: list[tuple[str, str]], response: str, dialogue: str = "d1") -> Pair:
    return Pair(tuple(Turn(s, t) for s, t in context), Turn("agent", response), dialogue, "toy", len(context))


def test_context_is_marker_prefixed_turns_cut_to_the_most_recent_words():
    context = (Turn("customer", "Where is my kettle?"), Turn("agent", "Which order?"), Turn("customer", "BC-12"))
    assert context_words(context, 100) == ["<customer>", "where", "is", "my", "kettle", "?", "<agent>", "which",
                                           "order", "?", "<customer>", "bc", "-", "12"]
    assert context_words(context, 5) == ["order", "?", "<customer>", "bc", "-", "12"][-5:]


def test_a_long_response_is_cut_after_its_last_whole_sentence_and_mid_sentence_only_when_it_must():
    text = "Thanks. Your kettle ships today. Anything else I can help with?"
    assert fit_response(text, 20) == (text, "whole")
    assert fit_response(text, 7) == ("Thanks. Your kettle ships today.", "sentences")  # 7 tokens
    assert fit_response(text, 6) == ("Thanks.", "sentences")
    assert fit_response("Your kettle ships today from the warehouse.", 3) == ("Your kettle ships", "cut")


def test_vocabulary_keeps_the_special_ids_and_adds_one_marker_per_context_speaker():
    vocab = build_vocabulary([pair([("customer", "hi"), ("agent", "hello")], "hello there")], max_size=50)
    assert vocab.tokens[:6] == ("<pad>", "<bos>", "<eos>", "<unk>", "<agent>", "<customer>")
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert set(vocab.tokens[6:]) == {"hi", "hello", "there"}


def test_encoded_pairs_end_each_response_in_eos_and_report_how_responses_were_fitted():
    pairs = [pair([("customer", "is it late?")], "Sorry. It ships today.", "d1"),
             pair([("customer", "hello")], "Hello there, friend", "d2")]
    vocab = build_vocabulary(pairs, max_size=50)
    encoded = encode_pairs(pairs, vocab, context_len=3, response_len=4)
    assert encoded.fitting == {"whole": 0, "sentences": 1, "cut": 1}
    assert response_words(vocab, encoded.responses) == [["sorry", "."], ["hello", "there", ","]]
    assert encoded.responses[0].tolist()[2:] == [EOS_ID, PAD_ID] and encoded.responses[1, 3].item() == EOS_ID
    assert encoded.context_lengths.tolist() == [3, 2]  # "late ?" cut to 3 words: "it late ?" -> marker lost
    assert encoded.dialogue_ids == ["d1", "d2"]


def test_response_lengths_count_tokens_up_to_and_including_the_first_eos():
    ids = torch.tensor([[5, 6, EOS_ID, 7], [5, EOS_ID, EOS_ID, 0], [5, 6, 7, 8]])
    assert response_lengths(ids).tolist() == [3, 2, 4]


def test_detokenize_attaches_punctuation_rejoins_numbers_and_capitalises_sentences():
    words = ["hi", "!", "i'm", "here", ",", "your", "refund", "of", "47", ".", "80", "is", "on", "its", "way", ".",
             "the", "drip", "-", "tray", "(", "grey", ")", "fits", "?", "<unk>", "ok"]
    assert detokenize(words) == "Hi! I'm here, your refund of 47.80 is on its way. The drip-tray (grey) fits? <unk> ok"
    assert detokenize([]) == ""
