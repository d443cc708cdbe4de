import math

import pytest
import torch

from heygen_lib.dialogue_gan.lstm.evaluation import (
    Comparison,
    compare_generators,
    discriminator_accuracy,
    generate,
    plot_discriminator_accuracy,
    reading,
    side_by_side,
    text_metrics,
)

from toy_dialogues import ITEMS, encoded, tiny_models, toy_pairs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup():
    vocab, data = encoded(toy_pairs(ITEMS[:6]), context_len=10)
    return vocab, data, *tiny_models(vocab)


def test_real_responses_score_bleu_one_against_themselves():
    texts = ["your kettle ships today .", "you are welcome !", "thanks a lot"]
    metrics = text_metrics(texts, texts)
    assert metrics["BLEU-2"] == pytest.approx(1.0) and metrics["BLEU-4"] > 0.9
    assert metrics["length"] == pytest.approx((5 + 4 + 3) / 3)
    assert metrics["distinct-1"] == pytest.approx(12 / 12)


def test_generation_is_reproducible_for_a_seed(setup):
    _, data, generator, _ = setup
    assert torch.equal(generate(generator, data, seed=4), generate(generator, data, seed=4))
    assert not torch.equal(generate(generator, data, seed=4), generate(generator, data, seed=5))


def test_compare_generators_gives_means_and_seed_spreads(setup):
    vocab, data, generator, discriminator = setup
    comparison = compare_generators({"MLE": generator}, discriminator, data, vocab, seeds=(0, 1))
    assert list(comparison.means) == ["real responses", "MLE"] and comparison.seeds == (0, 1)
    assert comparison.means["real responses"]["BLEU-2"] == pytest.approx(1.0)
    assert math.isnan(comparison.means["real responses"]["NLL"])
    assert comparison.spreads["MLE"]["NLL"] == 0 and comparison.spreads["MLE"]["distinct-2"] > 0
    row = comparison.rows()[1]
    assert row["generator"] == "MLE" and " ± " in row["distinct-2"] and " ± " not in row["NLL"]


def test_reading_names_wins_losses_and_differences_within_noise():
    metrics = ["BLEU-2", "BLEU-4", "distinct-1", "distinct-2", "self-BLEU-4", "NLL", "adversarial success", "length"]
    real = dict.fromkeys(metrics, 0.5) | {"length": 10.0}
    mle = {"BLEU-2": 0.10, "BLEU-4": 0.03, "distinct-1": 0.30, "distinct-2": 0.70, "self-BLEU-4": 0.25, "NLL": 3.50,
           "adversarial success": 0.30, "length": 6.0}
    gan = {"BLEU-2": 0.14, "BLEU-4": 0.03, "distinct-1": 0.25, "distinct-2": 0.70, "self-BLEU-4": 0.31, "NLL": 3.501,
           "adversarial success": 0.33, "length": 9.0}
    spread = dict.fromkeys(metrics, 0.01) | {"NLL": 0.0, "adversarial success": 0.02}
    comparison = Comparison({"real responses": real, "MLE": mle, "GAN": gan},
                            {"real responses": dict.fromkeys(metrics, 0.0), "MLE": spread, "GAN": spread}, (0, 1))
    assert reading(comparison, "GAN", "MLE") == (
        "The GAN generator beats MLE on BLEU-2, length; it does worse on distinct-1, self-BLEU-4; the difference is "
        "within the seed-to-seed noise on BLEU-4, distinct-2, NLL, adversarial success.")


def test_discriminator_accuracy_covers_every_kind_and_samples_sit_side_by_side(setup):
    vocab, data, generator, discriminator = setup
    accuracy = discriminator_accuracy(discriminator, generator, data, vocab)
    assert list(accuracy) == ["real", "generated", "mismatched", "reversed"]
    assert all(0 <= v <= 1 for v in accuracy.values())
    rows = side_by_side({"MLE": generator, "other": generator}, data, vocab, n=3)
    assert len(rows) == 3 and list(rows[0]) == ["context (last turn)", "real", "MLE", "other"]
    assert rows[0]["real"] == "Your kettle ships today." and rows[0]["MLE"] == rows[0]["other"]  # same seed


def test_the_accuracy_plot_draws_one_line_per_kind():
    history = [{"phase": "discriminator", "step": i, "acc_real": 0.5, "acc_generated": 0.6, "acc_mismatched": 0.4,
                "acc_reversed": 0.9} for i in range(1, 6)] + [{"phase": "adversarial", "step": 1}]
    figure = plot_discriminator_accuracy(history)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels[:4] == ["real", "generated", "mismatched", "reversed"]
