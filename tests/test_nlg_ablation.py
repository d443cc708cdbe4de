import math

import pytest

from heygen_lib.data import Pair, Turn, save_pairs
from heygen_lib.nlg.ablation import (METRICS, ablation_plot, data_mixes, load_extra_pairs, reading, run_ablation,
                                     summarize, table_rows, verdict)
from heygen_lib.nlg.finetune import FineTuneConfig, tokenizer_texts
from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm

THINGS, STATES = ("parcel", "kettle", "refund", "app"), ("late", "broken", "missing")


def pair(i: int, thing: str, state: str, source: str = "support", dialogue: str | None = None) -> Pair:
    return Pair((Turn("customer", f"my {thing} is {state}"),), Turn("agent", f"sorry your {thing} is {state}."),
                dialogue or f"d{i}", source, 1)


REAL = [pair(i, t, s) for i, (t, s) in enumerate((t, s) for t in THINGS for s in STATES)]
TRAIN, DEV, TEST = REAL[:8], REAL[8:10], REAL[10:]


def test_extra_pairs_from_held_out_dialogues_or_with_held_out_replies_are_dropped_and_counted():
    augmented = [pair(0, "parcel", "lost", "support", dialogue="d0"),  # a training dialogue: kept
                 pair(1, "app", "slow", "support", dialogue="d8")]  # a dev dialogue: dropped
    gan = [pair(2, "app", "late", "gan", dialogue="gan-1"),  # its reply is a test reply: dropped
           pair(3, "kettle", "loud", "gan", dialogue="gan-2")]
    mixes, dropped = data_mixes(TRAIN, augmented, gan, held_out=DEV + TEST)
    assert dropped == {"augmented": 1, "GAN": 1}
    assert {name: len(p) for name, p in mixes.items()} == {"real": 8, "real + augmented": 9, "real + GAN": 9, "all": 10}
    assert mixes["all"][-1].response.text == "sorry your kettle is loud."
    with_responses, dropped = data_mixes(TRAIN, augmented, gan, DEV + TEST, response_augmented=augmented[:1])
    assert list(with_responses) == ["real", "real + augmented", "real + augmented (response-perturbed)",
                                    "real + GAN", "all"]
    assert len(with_responses["real + augmented (response-perturbed)"]) == 9 and dropped["augmented (response)"] == 0


def test_a_missing_hand_off_file_names_the_notebook_that_writes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebook 02 .augmentation. first"):
        load_extra_pairs(tmp_path / "nope.jsonl", "02 (augmentation)")
    path = save_pairs(REAL[:2], tmp_path / "pairs.jsonl")
    assert load_extra_pairs(path, "02") == REAL[:2]


def test_every_mix_and_seed_gets_the_same_number_of_steps(tmp_path):
    config = TinyCausalLMConfig(vocab_size=300, d_model=16, layers=2, heads=2, max_positions=64)
    base = build_tiny_causal_lm(tokenizer_texts(REAL), tmp_path / "base", config)
    mixes = {"real": TRAIN, "real + augmented": TRAIN * 3}
    settings = FineTuneConfig(learning_rate=1e-2, batch_size=4, epochs=2, max_length=48, evals_per_epoch=1,
                              early_stopping_patience=0)
    rows = run_ablation(base, mixes, DEV, TEST, settings, seeds=(0, 1), output_dir=tmp_path / "runs",
                        eval_contexts=2, max_new_tokens=4, progress=False)
    assert [(r["data"], r["seed"], r["train pairs"]) for r in rows] == [
        ("real", 0, 8), ("real", 1, 8), ("real + augmented", 0, 24), ("real + augmented", 1, 24)]
    assert {r["steps"] for r in rows} == {4}  # 2 epochs of 8 real pairs in batches of 4, for every mix
    assert all(math.isfinite(r[m]) for r in rows for m in METRICS)
    real = [r["test ppl"] for r in rows if r["data"] == "real"]
    assert real[0] != real[1]  # the seed changes the run (data order, dropout)


def rows_for(name: str, values: list[float]) -> list[dict]:
    return [{"data": name, "seed": s, "train pairs": 10, **{m: v for m in METRICS}} for s, v in enumerate(values)]


def test_summary_gives_mean_and_sample_sd_and_the_reading_weighs_gaps_against_seed_noise():
    runs = [*rows_for("real", [10.0, 11.0, 12.0]), *rows_for("real + GAN", [7.0, 8.0, 9.0]),
            *rows_for("all", [10.5, 11.5, 12.5])]
    summary = summarize(runs)
    assert summary[0]["test ppl"] == 11.0 and summary[0]["test ppl sd"] == pytest.approx(1.0)
    assert table_rows(summary)[1]["test ppl"] == "8.000 ± 1.000"
    text = reading(summary, ("test ppl",))
    noise = 2 * math.sqrt(2 / 3)  # two standard errors of a difference of two means of three, sd 1 each
    assert f"real + GAN 8.000 (better by 3.000, 27.3%; beyond the seed noise of {noise:.3f})" in text
    assert f"all 11.500 (worse by 0.500, 4.5%; within the seed noise of {noise:.3f})" in text
    assert text.count("Best beyond the seed noise: real + GAN.") == 1
    tied = summarize([*rows_for("real", [10.0, 11.0, 12.0]), *rows_for("all", [10.5, 11.5, 12.5])])
    assert "No mix beats real data alone beyond the seed noise." in reading(tied, ("test ppl",))
    assert verdict(summary, "real + GAN", "test ppl") == "better"
    assert verdict(summary, "all", "test ppl") == "no difference (within the seed noise)"
    assert "**avg words**: real data alone 11.000; real + GAN 8.000 (lower by" in reading(summary, ("avg words",))
    axes = ablation_plot(summary).axes[0]
    assert axes.get_title() == "test ppl (lower is better)" and axes.get_ylabel() == "test ppl (mean over seeds)"


def test_degenerate_runs_are_flagged_and_never_compared_or_ranked():
    runs = [*rows_for("real", [10.0, 11.0, 12.0]), *rows_for("real + GAN", [1.0, 1.1, 1.2])]
    for row in runs:
        row["degenerate"] = row["data"] == "real + GAN" and row["seed"] == 0
    summary = summarize(runs)
    assert [line["degenerate runs"] for line in summary] == [0, 1]
    assert table_rows(summary)[1]["degenerate runs"] == "**1 of 3**"
    text = reading(summary, ("test ppl",))
    assert "Degenerate runs (median reply under 3 words or distinct-2 under 0.05) in: real + GAN" in text
    assert "Best" not in text and "real + GAN 1.100" not in text
    assert verdict(summary, "real + GAN", "test ppl") == "cannot tell: degenerate runs"


def test_with_one_seed_the_reading_says_there_is_no_noise_estimate():
    summary = summarize(rows_for("real", [10.0]) + rows_for("all", [9.0]))
    assert summary[1]["test ppl sd"] == 0.0 and table_rows(summary)[1]["test ppl"] == "9.000"
    assert "no estimate of run-to-run noise" in reading(summary)
    assert verdict(summary, "all", "test ppl") == "cannot tell: one seed gives no noise estimate"
    same = summarize(rows_for("real", [10.0]) + rows_for("all", [10.0001]))
    assert "all 10.000 (the same to three decimals)." in reading(same, ("test ppl",))
    with pytest.raises(ValueError, match="'real'"):
        reading(summarize(rows_for("all", [9.0])))
