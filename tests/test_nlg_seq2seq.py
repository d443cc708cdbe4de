"""The seq2seq option: an encoder-decoder (here the kit's tiny MarianMT stand-in) through the same calls."""
import math

import pytest
import torch

from heygen_lib.data import Pair, Turn
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.evaluate import generate_responses, perplexity
from heygen_lib.nlg.finetune import FineTuneConfig, fine_tune, is_seq2seq, load_model, tokenizer_texts
from heygen_lib.nlg.rows import IGNORE, collator_for, encode_pair, encode_pairs, explain_row
from heygen_lib.tiny_models import TinyTranslatorConfig, build_tiny_translator

FMT = DialogueFormat()
THINGS, STATES = ("parcel", "kettle", "refund", "app"), ("late", "broken", "missing")
PAIRS = [Pair((Turn("customer", f"my {thing} is {state}"),) * (1 + i % 2), Turn("agent", f"sorry{' again' * i}."),
              f"d{i}", "test", 1) for i, (thing, state) in enumerate((t, s) for t in THINGS for s in STATES)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    config = TinyTranslatorConfig(vocab_size=300, d_model=16, layers=2, heads=2, ffn_dim=32, max_positions=64)
    return build_tiny_translator(tokenizer_texts(PAIRS), tmp_path_factory.mktemp("tiny") / "t5-like", config)


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_the_context_goes_to_the_encoder_and_every_label_is_the_response(folder):
    model, tok = load_model(folder)
    assert is_seq2seq(model) and tok.pad_token_id != tok.eos_token_id
    p = PAIRS[4]
    row = encode_pair(tok, p, 64, seq2seq=True)
    assert row == {"input_ids": ids(tok, FMT.prompt(p.context)), "labels": ids(tok, FMT.target(p.response.text))}
    assert row["labels"][-1] == tok.eos_token_id
    rows, report = encode_pairs(tok, [p], max_length=4, seq2seq=True)
    assert len(rows[0]["input_ids"]) == 4 and rows[0]["input_ids"][-1] == tok.convert_tokens_to_ids(FMT.response_token)
    assert (report.context_cut, report.response_cut) == (1, int(len(row["labels"]) > 4))


def test_labels_are_padded_to_their_own_width(folder):
    model, tok = load_model(folder)
    rows = [encode_pair(tok, PAIRS[i], 64, seq2seq=True) for i in (0, 7)]
    batch = collator_for(tok)(rows)
    assert batch["labels"].shape[1] == max(len(r["labels"]) for r in rows) != batch["input_ids"].shape[1]
    assert (batch["labels"][0, len(rows[0]["labels"]):] == IGNORE).all()


def test_perplexity_is_exp_of_the_mean_label_nll(folder):
    model, tok = load_model(folder)
    model.eval()
    batch = collator_for(tok)([encode_pair(tok, PAIRS[5], 64, seq2seq=True)])
    with torch.no_grad():
        loss = model(**batch).loss.item()
    assert perplexity(model, tok, [PAIRS[5]], 64) == pytest.approx(math.exp(loss), rel=1e-5)


def test_fine_tuning_trains_only_the_top_decoder_block_and_the_head_when_asked(folder, tmp_path):
    model, tok = load_model(folder)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = FineTuneConfig(learning_rate=1e-2, batch_size=4, max_steps=2, max_length=48, evals_per_epoch=1,
                            early_stopping_patience=0, freeze="top-k", top_k=1)
    result = fine_tune(model, tok, PAIRS[:8], PAIRS[8:], config, tmp_path, progress=False)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert result.steps == 2 and changed
    assert all(n.startswith(("model.decoder.layers.1.", "model.shared", "lm_head", "model.encoder.embed_tokens",
                             "model.decoder.embed_tokens")) for n in changed)
    assert not any(n.startswith(("model.encoder.layers", "model.decoder.layers.0.")) for n in changed)


def test_generation_matches_one_at_a_time_and_is_greedy_despite_the_models_beam_default(folder):
    model, tok = load_model(folder)
    assert model.generation_config.num_beams == 4
    contexts = [p.context for p in PAIRS[:6]]
    batched = generate_responses(model, tok, contexts, max_new_tokens=5, batch_size=6)
    assert batched == [generate_responses(model, tok, [c], max_new_tokens=5)[0] for c in contexts]
    assert len(set(batched)) > 1  # the responses differ, so a shuffled order could not pass


def test_explain_row_lists_the_encoder_tokens_then_the_trained_labels(folder):
    _, tok = load_model(folder)
    row = encode_pair(tok, PAIRS[1], 64, seq2seq=True)
    lines = explain_row(tok, row, seq2seq=True)
    assert [line["in the loss"] for line in lines] == [False] * len(row["input_ids"]) + [True] * len(row["labels"])
    assert lines[-1]["label"] == tok.eos_token_id and lines[0]["position"] == "encoder 0"
