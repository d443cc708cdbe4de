import pytest
import torch

from heygen_lib.data import Pair, Turn
from heygen_lib.dialogue_gan.data import build_vocabulary, encode_pairs
from heygen_lib.dialogue_gan.negatives import NegativeMix, mismatched_indices, reversed_responses


def test_mismatched_negatives_never_come_from_the_pairs_own_dialogue():
    dialogue_ids = ["a", "a", "a", "a", "b", "c", "c"]  # "a" holds most pairs: random picks often hit it
    rows = torch.arange(len(dialogue_ids)).repeat(200)
    picks = mismatched_indices(dialogue_ids, rows, torch.Generator().manual_seed(0))
    assert all(dialogue_ids[p] != dialogue_ids[r] for r, p in zip(rows.tolist(), picks.tolist()))
    assert {dialogue_ids[p] for p in picks.tolist()} == {"a", "b", "c"}


def test_mismatched_negatives_need_two_dialogues():
    with pytest.raises(ValueError, match="two dialogues"):
        mismatched_indices(["a", "a"], torch.arange(2), torch.Generator())


def test_reversal_negatives_differ_from_the_original_and_unreversible_responses_are_marked():
    texts = ["Your kettle ships today.", "Thanks.", "no no", "Hi! Which machine is it?"]
    pairs = [Pair((Turn("customer", "q"),), Turn("agent", t), f"d{i}", "toy", 1) for i, t in enumerate(texts)]
    vocab = build_vocabulary(pairs, max_size=60)
    originals = encode_pairs(pairs, vocab, context_len=4, response_len=12).responses
    words = reversed_responses(texts, vocab, 12, kind="word")
    assert words.texts == ["today ships kettle Your.", None, None, "Hi! it is machine Which?"]
    assert words.available.tolist() == [True, False, False, True]  # one word; "no no" reversed is itself
    assert words.counts == {"sentence": 0, "word": 2, "none": 2}
    assert all((words.responses[i] != originals[i]).any() for i in (0, 3))
    sentences = reversed_responses(texts, vocab, 12, kind="sentence")
    assert sentences.texts[3] == "Which machine is it? Hi!"
    assert sentences.counts == {"sentence": 1, "word": 1, "none": 2}


def test_reversal_works_on_the_response_as_the_model_sees_it():
    texts = ["Sorry about that. It ships today. Anything else?"]
    vocab = build_vocabulary([Pair((Turn("c", "q"),), Turn("a", texts[0]), "d", "toy", 1)], max_size=60)
    assert reversed_responses(texts, vocab, 6, kind="word").texts == ["that about Sorry."]  # cut to 5 words first


def test_negative_mix_splits_a_batch_by_its_shares():
    assert NegativeMix().counts(32) == {"generated": 16, "mismatched": 8, "reversed": 8}
    assert sum(NegativeMix(1, 1, 1).counts(10).values()) == 10
    assert NegativeMix(1, 0, 0).counts(5) == {"generated": 5, "mismatched": 0, "reversed": 0}
    with pytest.raises(ValueError):
        NegativeMix(0, 0, 0)
