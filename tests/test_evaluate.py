import random

import numpy as np
import pytest

from heygen_lib.augment import TextAugmenter, augment_pairs
from heygen_lib.augment.evaluate import pair_scores, real_scores, text_scores
from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.plots import diversity_fidelity
from heygen_lib.tables import markdown_table


class FakeEncoder:
    """Embeds a text as its bag of letters, so identical texts have similarity 1 and others less."""

    def encode(self, texts):
        import torch

        vectors = torch.tensor([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=torch.float)
        return torch.nn.functional.normalize(vectors + 1e-6, dim=1)


class LengthLM:
    """Perplexity = number of words: longer texts are 'less likely'."""

    def perplexity(self, texts):
        return np.array([len(t.split()) for t in texts], dtype=float)


class Double(TextAugmenter):
    name, config = "double", None

    def augment(self, texts, rng: random.Random):
        return [f"{t} {t}" for t in texts]


def test_real_texts_score_as_their_own_sources():
    scores = real_scores(["the cat sat on it", "a dog ran off today"], FakeEncoder(), LengthLM())
    assert scores["similarity to source"] == pytest.approx(1.0)
    assert scores["BLEU-4 vs source"] == pytest.approx(1.0)
    assert scores["perplexity vs source"] == 1.0
    assert scores["texts"] == 2


def test_scores_measure_drift_from_the_source():
    sources = ["the cat sat on the mat", "a dog ran off to the park"]
    scores = text_scores(["the cat sat on the mat the cat sat on the mat", "zzz"], sources, FakeEncoder(), LengthLM())
    assert scores["perplexity vs source"] == pytest.approx(np.median([12 / 6, 1 / 7]))
    assert scores["similarity to source"] < 1.0
    with pytest.raises(ValueError, match="made nothing"):
        text_scores([], [], FakeEncoder(), LengthLM())


def test_pair_scores_compare_each_rewrite_with_its_own_original():
    turns = (Turn("c", "hello there"), Turn("a", "hi how can I help"), Turn("c", "my parcel"), Turn("a", "let me check"))
    originals = build_pairs([Dialogue("d", turns, "t")], response_speaker="a")
    new, _ = augment_pairs(originals, Double(), target="response")
    scores = pair_scores(list(reversed(new)), originals, FakeEncoder(), LengthLM())
    assert scores["perplexity vs source"] == 2.0  # every doubled response has twice its source's words
    assert scores["similarity to source"] == pytest.approx(1.0, abs=1e-4)  # same letters, twice as many
    with pytest.raises(ValueError, match="name no pair"):
        pair_scores(new, originals[:1], FakeEncoder(), LengthLM())


def test_markdown_table_formats_floats_and_keeps_column_order():
    table = markdown_table([{"name": "a", "score": 0.12345}, {"name": "b", "score": 1}], digits=2)
    assert table.splitlines() == ["| name | score |", "|---|---|", "| a | 0.12 |", "| b | 1 |"]
    assert markdown_table([]) == "(no rows)"


def test_diversity_fidelity_draws_one_line_per_augmenter_and_the_reference():
    rows = [{"augmenter": "x", "rate": r, "similarity to source": 1 - r, "distinct-2": 0.5 + r} for r in (0.1, 0.2)]
    rows.append({"augmenter": "y", "rate": None, "similarity to source": 0.5, "distinct-2": 0.9})
    fig = diversity_fidelity(rows, reference={"similarity to source": 1.0, "distinct-2": 0.5})
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["x", "y", "real data"]
    assert list(lines[0].get_xdata()) == [0.9, 0.8]
