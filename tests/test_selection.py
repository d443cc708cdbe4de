"""The selection rule picks from the measured table, and the written pool is exactly what it picked."""

import json
from dataclasses import asdict, replace

import pytest

from heygen_lib.augment import augment_pairs, augmented_pairs_path, ensure_augmented_pairs
from heygen_lib.augment.perturb import RandomSwap, RandomSwapConfig, Typos, TypoConfig
from heygen_lib.augment.reversal import SentenceReversal
from heygen_lib.augment.selection import (SelectionRule, build_pool, count_broken_spans, manifest_path,
                                          pool_selection, rule_pool, target_texts, write_pool, written_manifest)
from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.data.pair_files import load_pairs


def row(name, rate, similarity, perplexity, distinct, coverage=1.0):
    return {"augmenter": name, "rate": rate, "similarity to source": similarity, "perplexity vs source": perplexity,
            "distinct-2": distinct, "coverage": coverage}


TABLE = [
    row("typos", 0.1, 0.90, 1.5, 0.60), row("typos", 0.2, 0.86, 1.9, 0.70), row("typos", 0.3, 0.80, 2.5, 0.80),
    row("random-swap", 0.1, 0.95, 3.8, 0.65),  # meaning kept by the embedding, word order broken: never admitted
    row("sentence-reversal", None, 0.97, 1.2, 0.50, coverage=0.3),  # too few sources rewritten
    row("synonym-replacement", 0.1, 0.88, 1.4, 0.62),
]


def test_the_rule_takes_each_augmenters_most_varied_admitted_rate():
    assert SelectionRule().select(TABLE) == [("typos", 0.2), ("synonym-replacement", 0.1)]


def test_changing_a_threshold_changes_the_selection():
    assert SelectionRule(max_perplexity_ratio=4.0).select(TABLE) == [
        ("typos", 0.2), ("random-swap", 0.1), ("synonym-replacement", 0.1)]
    assert SelectionRule(min_similarity=0.87).select(TABLE) == [("synonym-replacement", 0.1), ("typos", 0.1)]
    assert SelectionRule(min_coverage=0.2).select(TABLE)[-1] == ("sentence-reversal", None)
    assert SelectionRule(min_similarity=0.99).select(TABLE) == []


def support_pairs():
    texts = ["Hi, my kettle arrived broken. Order BC-4821937.", "Sorry to hear that! Is the lid cracked or the base?",
             "The base. It cost $54.90 and I paid on March 3rd, 2024.", "Thanks. I have sent a replacement today.",
             "Great, thank you so much for the quick help.", "You are welcome. It should arrive in 3 days."]
    dialogues = [Dialogue(f"d{i}", tuple(Turn("customer" if j % 2 == 0 else "agent", f"{t} ({i})")
                                         for j, t in enumerate(texts)), "support", {}) for i in range(6)]
    return [p for d in dialogues for p in build_pairs([d], context_turns=3, response_speaker="agent")]


@pytest.mark.parametrize("target", ["context", "response"])
def test_the_written_pool_is_exactly_the_rules_selection(tmp_path, monkeypatch, target):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    sources = support_pairs()
    makers = {("typos", 0.2): Typos(TypoConfig(rate=0.2)), ("random-swap", 0.1): RandomSwap(RandomSwapConfig(rate=0.1)),
              ("sentence-reversal", None): SentenceReversal()}
    made = {key: augment_pairs(sources, augmenter, target=target, seed=0)[0] for key, augmenter in makers.items()}
    selection = SelectionRule(min_coverage=0.0).select(TABLE)
    selection = [c for c in selection if c in made]  # the ones this test made pairs for
    pool, _ = build_pool(made, selection, sources, target_texts(sources, target), target)
    path = write_pool(pool, target, SelectionRule(), selection, TABLE, made_by="test")
    assert path == augmented_pairs_path(target)
    written = load_pairs(path)
    assert pool_selection(written) == selection == [("typos", 0.2), ("sentence-reversal", None)]
    assert all(p.meta["provenance"]["target"] == target for p in written)
    manifest = json.loads(manifest_path(target).read_text())
    assert manifest["selected"] == [{"augmenter": "typos", "rate": 0.2},
                                    {"augmenter": "sentence-reversal", "rate": None}]
    assert manifest["pairs"] == len(written)
    assert count_broken_spans(written, sources, target) == 0


def test_broken_spans_are_counted_against_the_original():
    sources = support_pairs()[:1]
    [new] = augment_pairs(sources, Typos(TypoConfig(rate=1.0)), target="context", seed=0)[0]
    assert count_broken_spans([new], sources) == 0
    context = (Turn(new.context[0].speaker, new.context[0].text.replace("BC-4821937", "BC-482")),)
    broken = replace(new, context=context + new.context[1:])
    assert count_broken_spans([broken], sources) == 1


def test_ensure_augmented_pairs_reuses_the_pool_notebook_02_wrote(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    path = augmented_pairs_path("response")
    path.parent.mkdir(parents=True)
    path.write_text("")
    assert ensure_augmented_pairs(target="response") == path and capsys.readouterr().out == ""


def test_the_selection_panel_keeps_the_rules_allowed_augmenters(tmp_path, monkeypatch, capsys):
    from heygen_lib.augment.panel import selection_panel

    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    rule = SelectionRule(min_coverage=0.0, allowed=("typos",))
    makers = {"typos": lambda rate: Typos(TypoConfig(rate=rate)), "synonym-replacement": None}
    selection_panel(TABLE, support_pairs(), makers, target="context", rule=rule)
    manifest = written_manifest("context")
    assert manifest["rule"] == asdict(rule)
    assert manifest["selected"] == [{"augmenter": "typos", "rate": 0.2}]  # not synonym-replacement, which the
    assert pool_selection(load_pairs(augmented_pairs_path("context"))) == [("typos", 0.2)]  # thresholds admit


def test_the_selection_panel_leaves_a_pool_the_same_rule_wrote_as_it_is(tmp_path, monkeypatch, capsys):
    from heygen_lib.augment.panel import selection_panel

    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    rule = SelectionRule(min_coverage=0.0, allowed=("typos",))
    makers = {"typos": lambda rate: Typos(TypoConfig(rate=rate))}
    pool = rule_pool(support_pairs(), makers, rule, TABLE, "context", seed=0)
    before = pool.path.stat().st_mtime_ns
    selection_panel(TABLE, support_pairs(), makers, target="context", rule=rule)
    assert "already holds this selection" in capsys.readouterr().out
    assert pool.path.stat().st_mtime_ns == before
    panel = selection_panel(TABLE, support_pairs(), makers, target="context", rule=replace(rule, min_similarity=0.88))
    assert written_manifest("context")["selected"] == [{"augmenter": "typos", "rate": 0.1}] and panel is not None


def test_a_pool_says_its_rule_with_every_parameter_and_what_it_selected(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    rule = SelectionRule(min_coverage=0.25, allowed=("typos", "sentence-reversal"))
    makers = {"typos": lambda rate: Typos(TypoConfig(rate=rate)), "sentence-reversal": lambda rate: SentenceReversal()}
    text = str(rule_pool(support_pairs(), makers, rule, TABLE, "context", seed=0))
    for part in ("only typos, sentence-reversal", "similarity to source >= 0.85", "perplexity ratio <= 2.0",
                 "coverage >= 0.25", "highest distinct-2", "selected: typos at 0.2, sentence-reversal"):
        assert part in text


def test_measuring_again_with_another_seed_skips_the_augmenters_that_ignore_the_seed(tmp_path, monkeypatch):
    from heygen_lib.augment.selection import reseeded
    from heygen_lib.language_models import NGramLM

    class Encoder:  # every text the same direction: similarity 1
        def encode(self, texts):
            import torch
            return torch.ones(len(texts), 2) / 2**0.5

    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    sources = support_pairs()
    makers = {"typos": lambda rate: Typos(TypoConfig(rate=rate)), "sentence-reversal": lambda rate: SentenceReversal()}
    rule = SelectionRule(min_coverage=0.0, allowed=tuple(makers))
    pool = rule_pool(sources, makers, rule, TABLE, "context", seed=0)
    assert pool.selection == [("typos", 0.2), ("sentence-reversal", None)]
    lm = NGramLM(order=3).fit(target_texts(sources, "context"))
    again = reseeded(sources, makers, pool, Encoder(), lm, seed=1)
    assert [(r["augmenter"], r["rate"]) for r in again] == [("typos", 0.2)]
    assert again[0]["similarity (seed 0 / 1)"] == "0.860 / 1.000"