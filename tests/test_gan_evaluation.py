import pickle

import pytest
import torch

from heygen_lib.gan.evaluation import (claims, copy_rate, direction, evaluation_noise, largest_reversal, moved,
                                      oracle_metrics, place_against_curve, run_summary, temperature_sweep,
                                      text_metrics, unique_fraction)
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig, VAEGenerator, VAEGeneratorConfig
from heygen_lib.gan.oracle import OracleConfig, build_oracle, nll_test, sample_oracle_data
from heygen_lib.gan.text_data import Vocabulary, length_for, nll_per_token

TEXTS = ["Your parcel is on its way.", "Your refund is on its way!", "I can help with that."]


def test_vocabulary_puts_specials_first_then_words_by_frequency():
    vocab = Vocabulary.build(TEXTS, max_size=8)
    assert vocab.tokens[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert vocab.tokens[4:] == (".", "is", "its", "on")  # count 2 each (also "way", "your"), alphabetical
    assert len(vocab) == 8 and vocab.bos == 1
    assert dict(vocab.index) == {tok: i for i, tok in enumerate(vocab.tokens)}
    assert vocab.index is vocab.index  # built once, not per encode or tokenize call
    assert pickle.loads(pickle.dumps(vocab)).index == vocab.index  # still picklable once built


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
    values = text_metrics(vocab, TEXTS, n_samples=20, train_texts=TEXTS)(g)
    assert set(values) == {*(f"{k}-{n}" for k in ("BLEU", "self-BLEU") for n in (2, 3, 4, 5)), "distinct-2", "empty",
                           "unique", "copy_rate"}
    assert all(0.0 <= v <= 1.0 for v in values.values())


class Replay(torch.nn.Module):
    """A 'generator' that samples fixed rows, for metric tests."""

    def __init__(self, rows):
        super().__init__()
        self.rows = torch.tensor(rows)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def sample(self, n, temperature=1.0, generator=None):
        return self.rows[:n]


def test_unknown_words_are_one_unk_token_in_references_and_samples():
    vocab = Vocabulary.build(["the cat sat"])
    unk, the, cat = vocab.tokens.index("<unk>"), vocab.tokens.index("the"), vocab.tokens.index("cat")
    assert vocab.tokenize("the dog sat") == ["the", "<unk>", "sat"]
    # a sample "the <unk> cat" against the reference "the zebra cat": every n-gram matches, BLEU is 1
    sample = Replay([[the, unk, cat, 2], [the, unk, cat, 2]])
    values = text_metrics(vocab, ["the zebra cat"], n_samples=2)(sample)
    assert values["BLEU-2"] == pytest.approx(1.0) and values["BLEU-3"] == pytest.approx(1.0)


def test_empty_samples_are_counted_and_copies_of_training_texts_detected():
    vocab = Vocabulary.build(["the cat sat", "a dog ran"])
    ids = {w: vocab.tokens.index(w) for w in ("the", "cat", "sat", "dog")}
    rows = [[2, 0, 0, 0], [ids["the"], ids["cat"], ids["sat"], 2], [ids["the"], ids["dog"], 2, 0], [2, 0, 0, 0]]
    values = text_metrics(vocab, ["the cat sat"], n_samples=4, train_texts=["the cat sat", "a dog ran"])(Replay(rows))
    assert values["empty"] == 0.5 and values["copy_rate"] == 0.25 and values["unique"] == 0.75


def test_copy_rate_and_unique_fraction_of_token_sequences():
    train = torch.tensor([[1, 2, 3], [4, 5, 6]])
    samples = torch.tensor([[1, 2, 3], [1, 2, 3], [4, 5, 7], [6, 5, 4]])
    assert copy_rate(samples, train) == 0.5
    assert unique_fraction(samples) == 0.75


def test_evaluation_noise_and_moves_beyond_three_std():
    calls = iter([1.0, 3.0, 2.0])
    noise = evaluation_noise(lambda g: {"x": next(calls)}, torch.nn.Linear(1, 1), repeats=3)
    assert noise["x"] == pytest.approx((2.0, 1.0))
    assert moved(2.0, 5.1, std=1.0) and not moved(2.0, 4.9, std=1.0)


def test_direction_reads_a_move_beyond_three_std_as_better_or_worse_and_a_smaller_one_as_no_difference():
    assert direction(2.0, 5.1, std=1.0) == "worse"  # an NLL went up
    assert direction(2.0, -1.1, std=1.0) == "better"
    assert direction(2.0, 4.9, std=1.0) == direction(2.0, -0.9, std=1.0) == "no difference"
    assert direction(0.2, 0.5, std=0.01, lower_is_better=False) == "better"  # e.g. a BLEU score


def test_a_point_is_placed_below_on_or_above_the_temperature_curve():
    curve = [{"temperature": t, "nll_test": x, "nll_oracle": y} for t, x, y in ((0.5, 9.0, 5.0), (1.0, 7.0, 7.0))]
    place = lambda y: place_against_curve({"nll_test": 8.0, "nll_oracle": y}, curve, "nll_test", "nll_oracle", 0.1)
    assert place(6.0)[0] == "on" and place(5.5) == ("below", pytest.approx(-0.5)) and place(6.5)[0] == "above"
    assert place_against_curve({"nll_test": 10.0, "nll_oracle": 6.0}, curve, "nll_test", "nll_oracle", 0.1)[0] == \
        "outside the sweep"


def test_a_curve_that_turns_back_is_read_along_its_temperatures_at_its_best_branch():
    # NLL_test falls with temperature, then rises again past T = 1 (as notebook 03's sweeps do); sorting by x alone
    # joined T = 1.5 to T = 0.85 and read a point on the curve as far below it
    sweep = ((0.85, 5.31, 6.19), (1.0, 5.22, 6.79), (1.2, 5.21, 7.25), (1.5, 5.27, 7.76))
    curve = [{"temperature": t, "nll_test": x, "nll_oracle": y} for t, x, y in sweep]
    where, gap = place_against_curve({"nll_test": 5.28, "nll_oracle": 6.48}, curve, "nll_test", "nll_oracle", 0.033)
    assert where == "on" and gap == pytest.approx(0.09, abs=0.005)


def test_sequence_length_covers_the_data_and_reports_what_it_cuts():
    texts = ["a"] * 998 + ["a b c d e"] * 2  # 1,000 texts: 998 of 2 tokens with <eos>, 2 of 6
    assert length_for(texts, coverage=0.998) == (2, 2)
    assert length_for(texts, coverage=0.999) == (6, 0)


def test_nll_per_token_never_counts_padding():
    vocab = Vocabulary.build(TEXTS)
    g = LSTMGenerator(LSTMGeneratorConfig(vocab_size=len(vocab), max_len=8, start_token=vocab.bos, embed_dim=8, hidden_dim=8))
    data = vocab.encode(TEXTS, 8)
    with torch.no_grad():
        per_token = g.token_nll(data)
    real = data != 0
    assert nll_per_token(g, data) == pytest.approx((per_token[real].sum() / real.sum()).item(), rel=1e-5)
    assert real.sum() < data.numel()  # the data has padding, and it was left out


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


def evals(*values):
    return [{"phase": "eval", "nll_oracle": v} for v in values]


def test_a_reversal_is_a_rise_after_the_lowest_value_so_far():
    assert largest_reversal(evals(9.0, 8.0, 8.5, 7.0, 7.2)) == pytest.approx(0.5)
    assert largest_reversal(evals(9.0, 8.0, 7.0)) == 0.0  # falling all the way: nothing given back


def test_claims_read_stability_from_reversals_and_improvement_from_the_curve_placement():
    settled = {"MLE": evals(9.0, 8.0), "GAN": evals(8.0, 7.9)}
    reversed_ = {"MLE": evals(9.0, 8.0), "GAN": evals(8.0, 7.0, 8.0)}
    below = {"GAN": "- GAN: **below** MLE's curve"}
    on = {"GAN": "- GAN: **on** MLE's curve"}
    copied = {"GAN": "- GAN: **below** MLE's curve; 40% copy: **memorisation**, not learning"}
    verdicts = lambda histories, placement: [c["verdict"] for c in claims(histories, placement, 0.1, 100)]
    assert verdicts(settled, below)[0].startswith("**cannot tell at this size**")
    assert verdicts(reversed_, below)[0].startswith("**not supported**") and "GAN's NLL_oracle rose by 1.000" in \
        verdicts(reversed_, below)[0]
    assert verdicts({"GAN": [{"phase": "eval", "nll_oracle": 8.0, "loss": float("nan")}]}, on)[0] == \
        "**not supported**: a loss became non-finite"
    assert verdicts(settled, below)[1].startswith("**supported** for GAN")
    assert verdicts(settled, on)[1].startswith("**not supported**: every GAN lies on or above")
    assert verdicts(settled, copied)[1].startswith("**not supported**: GAN lie below MLE's curve only by copying")


def small_trainer():
    from heygen_lib.gan.discriminators import CNNDiscriminator, cnn_config
    from heygen_lib.gan.training import GANTrainer, TrainConfig

    config = OracleConfig(vocab_size=30, max_len=6, n_train=64, n_test=100)
    oracle = build_oracle(config)
    real, test = sample_oracle_data(oracle, 64, seed=1), sample_oracle_data(oracle, 100, seed=2)
    generator = LSTMGenerator(LSTMGeneratorConfig(vocab_size=30, max_len=6, embed_dim=8, hidden_dim=8))
    trainer = GANTrainer(generator, CNNDiscriminator(cnn_config("small", 30, 6)), real, TrainConfig(batch_size=16))
    return trainer, oracle_metrics(oracle, test, n_samples=50, train_data=real), test


def test_the_results_row_is_the_training_curves_last_point_not_a_second_draw():
    from heygen_lib.gan.training import train_mle

    trainer, metrics, test = small_trainer()
    train_mle(trainer, 2, metrics, eval_every=1)
    curve_last = [r for r in trainer.history if r["phase"] == "eval"][-1]
    evals = len([r for r in trainer.history if r["phase"] == "eval"])
    row = run_summary(trainer, metrics, test[:20], reference=curve_last["nll_oracle"], noise=0.1)
    assert row["NLL_oracle"] == curve_last["nll_oracle"] and row["move"] == 0.0  # the same call, so the same number
    assert len([r for r in trainer.history if r["phase"] == "eval"]) == evals  # and no extra point on the curve
    fresh = trainer.evaluate(metrics)  # a second draw of the same weights differs by the sampling noise
    assert fresh["nll_oracle"] != curve_last["nll_oracle"] and fresh["nll_test"] == curve_last["nll_test"]
    other = oracle_metrics(trainer.generator, test, n_samples=50)  # other metrics, or a step since: evaluated anew
    assert trainer.evaluate(other, reuse=True) is not trainer.history[-2]
    trainer.mle_epoch()
    assert trainer.evaluate(metrics, reuse=True)["mle_epochs"] == 3


def test_noise_repeats_count_the_reused_curve_point_and_run_the_same_metrics_for_the_rest():
    calls = []
    metrics = lambda g: calls.append(1) or {"x": float(len(calls))}
    noise = evaluation_noise(metrics, torch.nn.Linear(1, 1), repeats=4, reuse=[{"phase": "eval", "step": 7, "x": 0.0}])
    assert len(calls) == 3 and set(noise) == {"x"}  # the record's phase and step counter are not metrics
    assert noise["x"] == pytest.approx((1.5, torch.tensor([0.0, 1, 2, 3]).std().item()))


def test_the_noise_std_interval_is_the_chi_square_one():
    from heygen_lib.gan.evaluation import std_interval

    # sqrt(dof / chi2 quantiles): 5 repeats (dof 4): 0.484, 11.143; 30 repeats (dof 29): 16.047, 45.722
    assert std_interval(1.0, 5) == pytest.approx((0.599, 2.874), abs=1e-3)
    assert std_interval(0.03, 30) == pytest.approx((0.03 * 0.796, 0.03 * 1.344), abs=1e-4)


def test_a_point_at_mles_coverage_that_the_table_calls_no_difference_is_on_the_curve():
    # near T = 1 the sweep is almost vertical: 0.002 nats of NLL_test is 0.09 nats of NLL_oracle along it, so
    # reading x as exact put a point 0.05 from MLE (no difference in the table) 0.14 below the curve
    sweep = ((0.85, 5.31, 6.15), (1.0, 5.225, 6.85), (1.2, 5.215, 7.30))
    curve = [{"temperature": t, "nll_test": x, "nll_oracle": y} for t, x, y in sweep]
    point = {"nll_test": 5.223, "nll_oracle": 6.80}
    assert direction(6.85, point["nll_oracle"], std=0.03) == "no difference"
    where, gap = place_against_curve(point, curve, "nll_test", "nll_oracle", 0.03)
    assert where == "below" and gap == pytest.approx(-0.14, abs=0.005)  # x taken as exact: a contradiction
    where, gap = place_against_curve(point, curve, "nll_test", "nll_oracle", 0.03, noise_x=0.004)
    assert where == "on" and abs(gap) <= 0.09
    # beyond the noise on both axes it is still read as below or above
    assert place_against_curve({"nll_test": 5.223, "nll_oracle": 6.6}, curve, "nll_test", "nll_oracle", 0.03,
                               noise_x=0.004)[0] == "below"
    assert place_against_curve({"nll_test": 5.30, "nll_oracle": 6.6}, curve, "nll_test", "nll_oracle", 0.03,
                               noise_x=0.004)[0] == "above"


def test_a_sweep_reuses_the_tables_number_at_a_measured_temperature():
    seen = []

    def make_metrics(t):
        seen.append(t)
        return lambda g: {"nll_oracle": t}

    rows = temperature_sweep(torch.nn.Linear(1, 1), make_metrics, [0.5, 1.0], measured={1.0: {"nll_oracle": 7.0}})
    assert seen == [0.5] and rows[1] == {"temperature": 1.0, "nll_oracle": 7.0}
