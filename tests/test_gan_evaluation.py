import pytest
import torch

from heygen_lib.gan.evaluation import oracle_metrics, temperature_sweep, text_metrics
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig, VAEGenerator, VAEGeneratorConfig
from heygen_lib.gan.oracle import OracleConfig, build_oracle, nll_test, sample_oracle_data
from heygen_lib.gan.text_data import Vocabulary

TEXTS = ["Your parcel is on its way.", "Your refund is on its way!", "I can help with that."]


def test_vocabulary_puts_specials_first_then_words_by_frequency():
    vocab = Vocabulary.build(TEXTS, max_size=8)
    assert vocab.tokens[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert vocab.tokens[4:] == (".", "is", "its", "on")  # count 2 each (also "way", "your"), alphabetical
    assert len(vocab) == 8 and vocab.bos == 1


def test_encode_appends_eos_pads_and_cuts_and_decode_inverts_it():
    vocab = Vocabulary.build(TEXTS)
    ids = vocab.encode(["your parcel is on its way", "zebra"], max_len=5)
    assert ids[0, -1].item() == 2 and ids[0, :4].tolist() == [vocab.tokens.index(w) for w in ("your", "parcel", "is", "on")]
    assert ids[1].tolist() == [3, 2, 0, 0, 0]
    assert vocab.decode(ids) == ["your parcel is on", "<unk>"]


def test_nll_test_at_a_temperature_scores_the_sharpened_distribution():
    torch.manual_seed(0)
    g = LSTMGenerator(LSTMGeneratorConfig(vocab_size=30, max_len=6, embed_dim=8, hidden_dim=8))
    data = torch.randint(30, (50, 6))
    assert nll_test(g, data, temperature=1.0) == pytest.approx(g.nll(data).mean().item(), rel=1e-5)
    assert nll_test(g, data, temperature=0.01) > nll_test(g, data)  # a sharpened model is surer and often wrong


def test_a_vae_is_scored_by_its_elbo_never_by_reconstructing_the_test_sequence():
    vae = VAEGenerator(VAEGeneratorConfig(vocab_size=30, max_len=6, embed_dim=8, hidden_dim=8, latent_dim=4))
    oracle = LSTMGenerator(LSTMGeneratorConfig(vocab_size=30, max_len=6, embed_dim=8, hidden_dim=8))
    data = torch.randint(30, (50, 6))
    metrics = oracle_metrics(oracle, data, n_samples=10)
    torch.manual_seed(1)
    scored = metrics(vae)["nll_test"]
    torch.manual_seed(1)
    vae.sample(10)  # the same random draws as the metrics' sampling, then the ELBO
    with torch.no_grad():
        elbo = vae.eval().nll(data).mean().item()
    assert scored == pytest.approx(elbo, rel=1e-5)


def test_lower_temperature_improves_quality_and_hurts_coverage_on_the_oracle():
    config = OracleConfig(vocab_size=50, max_len=8, n_train=10, n_test=300)
    oracle = build_oracle(config)
    test = sample_oracle_data(oracle, 300, seed=3)
    torch.manual_seed(0)
    rows = temperature_sweep(oracle, lambda t: oracle_metrics(oracle, test, n_samples=500, temperature=t), [0.5, 1.0])
    cold, warm = rows
    assert cold["temperature"] == 0.5 and cold["nll_oracle"] < warm["nll_oracle"] and cold["nll_test"] > warm["nll_test"]


def test_text_metrics_score_decoded_samples_against_references():
    vocab = Vocabulary.build(TEXTS)
    g = LSTMGenerator(LSTMGeneratorConfig(vocab_size=len(vocab), max_len=8, start_token=vocab.bos, embed_dim=8, hidden_dim=8))
    values = text_metrics(vocab, TEXTS, n_samples=20)(g)
    assert set(values) == {"BLEU-2", "BLEU-3", "BLEU-4", "BLEU-5", "self-BLEU-4", "distinct-2"}
    assert all(0.0 <= v <= 1.0 for v in values.values())


def test_distinct_token_ngrams_counts_within_sequences():
    from heygen_lib.gan.evaluation import distinct_token_ngrams

    samples = torch.tensor([[1, 2, 3, 1, 2], [1, 2, 3, 4, 5]])
    assert distinct_token_ngrams(samples, 2) == 5 / 8  # (1,2) x3, (2,3) x2, (3,1), (3,4), (4,5)
    assert distinct_token_ngrams(samples, 5) == 1.0


def test_user_text_files_load_one_sentence_per_line_with_clear_errors(tmp_path):
    from heygen_lib.data import DataFormatError
    from heygen_lib.gan.text_data import load_text_lines

    good = tmp_path / "mine.txt"
    good.write_text("first line\n\n  second line  \n")
    assert load_text_lines(good) == ["first line", "second line"]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(DataFormatError, match="line 2: not UTF-8"):
        load_text_lines(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(DataFormatError, match="no text"):
        load_text_lines(empty)
