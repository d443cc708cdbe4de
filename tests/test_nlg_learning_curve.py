"""The learning curve's sets, its leak rule and its exchange rate."""

import math

import pytest

from heygen_lib.augment.base import origin_key
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.nlg import learning_curve as lc


def pair(dialogue: str, index: int, text: str = "", meta=None) -> Pair:
    return Pair((Turn("customer", f"q {dialogue} {index}"),), Turn("agent", text or f"a {dialogue} {index}"), dialogue,
                "support", index, meta or {})


def made_from(source: Pair, text: str) -> Pair:
    return pair(source.dialogue_id, source.turn_index, text, {"provenance": {"from": origin_key(source)}})


TRAIN = [pair(f"d{d}", i) for d in range(10) for i in (1, 3, 5)]


def test_sets_are_nested_drawn_by_conversation_and_the_largest_is_the_training_split_itself():
    sets = lc.nested_subsets(TRAIN, (6, 15, 30), seed=1)
    assert sets[30] == TRAIN
    assert set(map(origin_key, sets[6])) <= set(map(origin_key, sets[15]))
    chosen = {p.dialogue_id for p in sets[6]}
    assert len(chosen) == 2 and sets[6] == [p for p in TRAIN if p.dialogue_id in chosen]  # two whole conversations
    assert lc.nested_subsets(TRAIN, (6,), seed=1)[6] == sets[6] != lc.nested_subsets(TRAIN, (6,), seed=2)[6]
    with pytest.raises(ValueError, match="exceeds the 30 training pairs"):
        lc.nested_subsets(TRAIN, (31,))


def test_made_up_data_at_a_size_derives_only_from_that_sizes_pairs():
    sets = lc.nested_subsets(TRAIN, (6, 30), seed=0)
    pool = [made_from(p, f"rewrite of {p.dialogue_id} {p.turn_index}") for p in TRAIN]
    small = lc.derived_from(pool, sets[6])
    assert len(small) == 6
    assert {p.meta["provenance"]["from"] for p in small} == set(map(origin_key, sets[6]))
    assert len(lc.derived_from(pool, sets[30])) == 30
    assert lc.derived_from([pair("d0", 1)], sets[30]) == []  # no provenance: never counted as derived


def test_the_mixing_ratio_caps_the_made_up_pairs_per_real_pair():
    real, extra = TRAIN[:4], [made_from(p, "x") for p in TRAIN]
    assert len(lc.mix(real, extra, 1.0)) == 8 and len(lc.mix(real, extra, 0.5)) == 6
    assert len(lc.mix(real, extra[:1], 2.0)) == 5  # fewer made-up pairs than the ratio asks: all of them
    assert lc.mix(real, extra, 1.0)[:4] == real


def test_leaking_pairs_are_dropped_and_counted():
    held_out = [pair("dev1", 1, "the held-out reply")]
    extra = [pair("dev1", 2), pair("d0", 1, "the held-out reply"), pair("d0", 3)]
    kept, dropped = lc.drop_leaks(extra, held_out)
    assert kept == [extra[2]] and dropped == 2


def test_worth_reads_the_real_curve_in_log_size_and_marks_readings_outside_it():
    sizes, real = [40, 160, 640], [200.0, 150.0, 100.0]
    assert lc.worth(sizes, real, 150.0, 40) == (pytest.approx(120.0), "exact")
    value, kind = lc.worth(sizes, real, 175.0, 40)  # half-way between 40 and 160 in log size: 80
    assert kind == "exact" and value == pytest.approx(math.sqrt(40 * 160) - 40)
    assert lc.worth(sizes, real, 90.0, 640) == (0.0, "above")  # beats the largest size: only a bound
    assert lc.worth(sizes, real, 250.0, 160) == (-120.0, "below")
    assert lc.worth(sizes, [200.0, 220.0, 100.0], 210.0, 40)[1] == "below"  # read through the running minimum


def rows(real_ppl: dict[int, list[float]], arm_ppl: dict[int, list[float]]) -> list[dict]:
    out = []
    for arm, table in ((lc.REAL, real_ppl), ("real + augmented", arm_ppl)):
        for n, values in table.items():
            out += [{"size": n, "arm": arm, "seed": s, "test ppl": v} for s, v in enumerate(values)]
    return out


def test_the_exchange_rate_says_no_difference_when_its_interval_covers_zero():
    real = {40: [200.0, 202.0, 198.0], 160: [150.0, 151.0, 149.0]}
    better = lc.exchange_rates(rows(real, {40: [170.0, 172.0, 168.0]}))[0]
    assert better["verdict"] == "worth more real pairs" and 40 < better["worth"] < 120
    same = lc.exchange_rates(rows(real, {40: [195.0, 205.0, 199.0]}))[0]
    assert same["verdict"] == "no difference"
    assert "no difference" in lc.reading([same]) and "± " in lc.reading([same])
    assert lc.claim([better, same], "real + augmented").startswith("**supported** at 40")


def test_an_arm_worse_than_every_real_run_at_every_seed_is_a_bound_not_no_difference():
    real = {40: [200.0, 202.0, 198.0], 160: [150.0, 151.0, 149.0]}
    (worse,) = lc.exchange_rates(rows(real, {40: [230.0, 260.0, 210.0]}))
    assert worse["verdict"] == lc.BEYOND["below"] and worse["worth"] == 0.0
    assert "did not help" in lc.reading([worse]) and "no difference" not in lc.reading([worse])


class WordCountEncoder:
    """A stand-in sentence encoder: unit vectors of letter counts (cosine 1 for the same letters)."""

    def encode(self, texts):
        import torch

        vectors = torch.tensor([[t.lower().count(c) + 1e-3 for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts])
        return vectors / vectors.norm(dim=1, keepdim=True)


def test_every_size_arm_and_seed_runs_once_and_runs_already_made_are_only_measured(chat_model_folder, tmp_path,
                                                                                   monkeypatch):
    from heygen_lib.nlg import finetune
    from heygen_lib.nlg.finetune import FineTuneConfig, fixed_budget, load_model

    trained = []
    real_fine_tune = finetune.fine_tune
    monkeypatch.setattr(lc, "fine_tune", lambda *a, **k: trained.append(a[4].max_steps) or real_fine_tune(*a, **k))
    sets = lc.nested_subsets(TRAIN, (6, 30), seed=0)
    extras = {"real + augmented": {n: [made_from(p, "rewrite") for p in s] for n, s in sets.items()},
              "real + GAN": {6: [made_from(p, "gan") for p in sets[6]]}}  # an arm runs only where it has data
    config = fixed_budget(FineTuneConfig(batch_size=4, max_length=32), epochs=1)
    model, tokenizer = load_model(chat_model_folder, device="cpu")
    curve = lc.CurveConfig(sizes=(6, 30), seeds=(0, 1), reply_contexts=2)
    rows = lc.run_curve(chat_model_folder, sets, extras, TRAIN[:4], TRAIN[:3], config, curve, tmp_path,
                        max_new_tokens=4, made={(30, lc.REAL, 1): (model, tokenizer, 99)}, encoder=WordCountEncoder(),
                        progress=False)
    assert [(r["size"], r["arm"], r["seed"]) for r in rows] == [
        (n, arm, s) for n in (6, 30) for arm in (lc.REAL, "real + augmented", "real + GAN")[: 3 if n == 6 else 2]
        for s in (0, 1)]
    assert len(trained) == 9 and sorted(set(trained)) == [2, 8]  # the budget: one pass over the real pairs only
    assert next(r for r in rows if (r["size"], r["arm"], r["seed"]) == (30, lc.REAL, 1))["steps"] == 99
    assert all(r["extra pairs"] == (r["size"] if r["arm"] != lc.REAL else 0) for r in rows)
    assert all(-1 <= r["similarity"] <= 1 and math.isfinite(r["test ppl"]) for r in rows)


def test_the_rates_table_shows_a_bound_as_one():
    real = {40: [200.0, 202.0, 198.0], 160: [150.0, 151.0, 149.0]}
    table = lc.rates_table(lc.exchange_rates(rows(real, {40: [230.0, 260.0, 210.0]})))
    assert "| <= +0 | - |" in table


def test_real_gain_is_the_real_curve_at_its_largest_size_over_its_smallest():
    real = {40: [200.0, 202.0, 198.0], 160: [150.0, 151.0, 149.0]}
    assert lc.real_gain(rows(real, {40: [1.0, 1.0, 1.0]})) == 150.0 / 200.0
