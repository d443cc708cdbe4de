import ast
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from heygen_lib.data import Pair, Turn
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.rows import (IGNORE, PadCollator, collator_for, encode_pair, encode_pairs, explain_row,
                                 prompt_ids)
from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm

FMT = DialogueFormat()
TEXTS = [f"customer: my {thing} is {state}, order {n}" for thing in ("parcel", "kettle", "refund", "app")
         for state in ("late", "broken", "missing") for n in range(3)] + ["agent: sorry about that, it ships today."]


def pair(*turns: str, response: str = "sorry, it ships today.") -> Pair:
    context = tuple(Turn("customer" if i % 2 == 0 else "agent", t) for i, t in enumerate(turns))
    return Pair(context, Turn("agent", response), "d1", "test", len(context))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    config = TinyCausalLMConfig(vocab_size=300, d_model=16, layers=2, heads=2, max_positions=64)
    folder = build_tiny_causal_lm(TEXTS, tmp_path_factory.mktemp("tiny") / "lm", config)
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_labels_ignore_the_context_and_train_the_response_and_its_end_token(tiny):
    _, tok = tiny
    p = pair("my parcel is late", "which order?", "order 12")
    row = encode_pair(tok, p, max_length=64)
    prompt, target = ids(tok, FMT.prompt(p.context)), ids(tok, FMT.target(p.response.text))
    assert row["input_ids"] == prompt + target
    assert row["labels"] == [IGNORE] * len(prompt) + target
    assert row["labels"][-1] == tok.eos_token_id
    assert row["input_ids"][len(prompt) - 1] == tok.convert_tokens_to_ids(FMT.response_token)


def test_collator_pads_with_the_pad_id_masks_padding_and_keeps_the_end_token_trained(tiny):
    _, tok = tiny
    rows = [encode_pair(tok, pair("hi"), 64), encode_pair(tok, pair("my kettle is broken, order 2"), 64)]
    batch = collator_for(tok)(rows)
    short = len(rows[0]["input_ids"])
    assert tok.pad_token_id != tok.eos_token_id
    assert batch["input_ids"][0, short:].tolist() == [tok.pad_token_id] * (batch["input_ids"].shape[1] - short)
    assert batch["attention_mask"][0].tolist() == [1] * short + [0] * (batch["input_ids"].shape[1] - short)
    assert (batch["labels"][0, short:] == IGNORE).all()
    assert batch["labels"][0, short - 1].item() == tok.eos_token_id  # the end token is trained, padding is not
    assert batch["attention_mask"][1].all()


def test_collator_refuses_a_pad_token_that_is_the_end_token():
    with pytest.raises(ValueError, match="end token"):
        PadCollator(pad_id=0, eos_id=0)


def test_a_long_context_loses_its_oldest_turns_first_and_keeps_the_marker(tiny):
    _, tok = tiny
    p = pair("my parcel is late, order 1", "which order?", "order 12, my kettle is broken")
    newest = ids(tok, FMT.prompt(p.context[-1:]))
    target = ids(tok, FMT.target(p.response.text))
    rows, report = encode_pairs(tok, [p], max_length=len(newest) + len(target))
    assert rows[0]["input_ids"] == newest + target  # both older turns dropped whole, the newest kept whole
    assert report.context_cut == 1 and report.response_cut == 0


def test_a_newest_turn_too_long_keeps_its_newest_tokens_and_the_marker(tiny):
    _, tok = tiny
    context = (Turn("customer", "my parcel is late and my kettle is broken and my refund is missing"),)
    kept = prompt_ids(tok, context, max_length=5)
    full = ids(tok, FMT.prompt(context))
    assert kept == full[-5:]
    assert kept[-1] == tok.convert_tokens_to_ids(FMT.response_token)


def test_a_response_too_long_is_cut_without_its_end_token_and_counted(tiny):
    _, tok = tiny
    p = pair("hi", response="my parcel is late " * 10)
    rows, report = encode_pairs(tok, [p, pair("hi", response="ok")], max_length=12)
    row = rows[0]
    assert len(row["input_ids"]) == 12
    assert row["labels"][0] == IGNORE and row["input_ids"][0] == tok.convert_tokens_to_ids(FMT.response_token)
    assert tok.eos_token_id not in row["labels"]
    assert (report.rows, report.response_cut, report.context_cut) == (2, 1, 1)


def test_the_models_loss_is_the_mean_nll_of_the_response_tokens_only(tiny):
    model, tok = tiny
    rows = [encode_pair(tok, p, 64) for p in (pair("hi"), pair("my kettle is broken", "which one?", "order 2"))]
    batch = collator_for(tok)(rows)
    with torch.no_grad():
        loss = model(**batch).loss.item()
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    log_probs = torch.log_softmax(logits.float(), -1)
    nll, count = 0.0, 0
    for b, row in enumerate(rows):
        for t, label in enumerate(row["labels"]):
            if label != IGNORE:  # token t is predicted at position t - 1
                nll -= log_probs[b, t - 1, label].item()
                count += 1
    assert count == sum(len(ids(tok, FMT.target(p))) for p in ("sorry, it ships today.",) * 2)
    assert loss == pytest.approx(nll / count, rel=1e-5)
    assert not math.isclose(loss, 0.0)


def test_a_fixed_width_collator_pads_every_batch_to_that_width_and_refuses_longer_rows(tiny):
    _, tok = tiny
    row = encode_pair(tok, pair("hi"), 64)
    batch = collator_for(tok, pad_to=40)([row])
    assert batch["input_ids"].shape == (1, 40) and batch["attention_mask"].sum() == len(row["input_ids"])
    with pytest.raises(ValueError, match="does not fit pad_to=3"):
        collator_for(tok, pad_to=3)([row])


def test_explain_row_marks_exactly_the_response_and_its_end_token_as_trained(tiny):
    _, tok = tiny
    p = pair("my parcel is late")
    lines = explain_row(tok, encode_pair(tok, p, 64))
    trained = [line["token"] for line in lines if line["in the loss"]]
    assert "".join(ast.literal_eval(t) for t in trained) == FMT.target(p.response.text)  # shown quoted
    assert lines[len(lines) - len(trained) - 1]["token"] == repr(FMT.response_token)


@pytest.mark.parametrize("seq2seq", [False, True])
def test_a_cut_context_is_rendered_in_the_rows_own_format(tiny, seq2seq):
    _, tok = tiny
    fmt = DialogueFormat(turn_token="[turn]", response_token="[reply]")
    p = pair("my parcel is late, order 1", "which order?", "order 12, my kettle is broken")
    newest = ids(tok, fmt.prompt(p.context[-1:]))
    target = ids(tok, fmt.target(p.response.text))
    room = len(newest) if seq2seq else len(newest) + len(target)
    (row,), report = encode_pairs(tok, [p], max_length=room, fmt=fmt, seq2seq=seq2seq)
    assert row["input_ids"] == (newest if seq2seq else newest + target)
    assert report.context_cut == 1


def test_a_seq2seq_row_that_fits_reports_nothing_cut_and_one_that_does_not_reports_each_side(tiny):
    _, tok = tiny
    p = pair("my parcel is late", "which order?")
    prompt, target = ids(tok, FMT.prompt(p.context)), ids(tok, FMT.target(p.response.text))
    exact = max(len(prompt), len(target))
    (row,), report = encode_pairs(tok, [p], max_length=exact, seq2seq=True)
    assert row == {"input_ids": prompt, "labels": target}
    assert (report.context_cut, report.response_cut, report.longest) == (0, 0, len(prompt) + len(target))
    assert encode_pairs(tok, [p], max_length=len(target), seq2seq=True)[1].response_cut == 0  # exactly fits
    _, report = encode_pairs(tok, [p], max_length=min(len(prompt), len(target)) - 1, seq2seq=True)
    assert (report.context_cut, report.response_cut) == (1, 1)


def test_the_smallest_row_is_the_marker_and_one_response_token(tiny):
    _, tok = tiny
    row = encode_pair(tok, pair("hi"), max_length=2)
    assert row["input_ids"] == [tok.convert_tokens_to_ids(FMT.response_token), ids(tok, "sorry")[0]]
    with pytest.raises(ValueError, match="must hold the marker and one response token, got 1"):
        encode_pair(tok, pair("hi"), max_length=1)


def test_the_report_states_the_budget_and_an_empty_list_gives_an_empty_report(tiny):
    _, tok = tiny
    assert encode_pairs(tok, [pair("hi")], max_length=48)[1].max_length == 48
    rows, report = encode_pairs(tok, [], max_length=48)
    assert rows == [] and (report.rows, report.context_cut, report.response_cut, report.longest) == (0, 0, 0, 0)


def test_a_prompt_of_exactly_the_budget_keeps_every_turn(tiny):
    from heygen_lib.nlg.rows import fit_prompt

    _, tok = tiny
    context = pair("my parcel is late", "which order?", "order 12").context
    full = ids(tok, FMT.prompt(context))
    fitted = fit_prompt(tok, context, max_length=len(full))
    assert (fitted.ids, fitted.dropped_turns, fitted.cut_tokens) == (full, 0, 0)
    with pytest.raises(ValueError, match="no room for a prompt"):
        fit_prompt(tok, context, max_length=0)


def test_collated_tensors_are_integer_ids_and_a_row_of_exactly_the_fixed_width_fits(tiny):
    _, tok = tiny
    row = encode_pair(tok, pair("hi"), 64)
    batch = collator_for(tok, pad_to=len(row["input_ids"]))([row])
    assert {name: t.dtype for name, t in batch.items()} == dict.fromkeys(batch, torch.long)
    assert batch["attention_mask"].tolist() == [[1] * len(row["input_ids"])]


def test_the_collator_for_a_tokenizer_without_its_own_pad_token_refuses_it(tiny):
    _, tok = tiny
    same = AutoTokenizer.from_pretrained(tok.name_or_path)
    same.pad_token = same.eos_token
    with pytest.raises(ValueError, match=r"is the end token's id: padding would hide every end token from the loss; "
                                         r"give the tokenizer its own pad token \(add_format_tokens\)"):
        collator_for(same)
    with pytest.raises(ValueError, match=r"^the tokenizer has no pad token; call add_format_tokens"):
        PadCollator(pad_id=None)


@pytest.mark.parametrize("seq2seq", [False, True])
def test_explain_row_lists_every_position_with_its_token_id_and_label(tiny, seq2seq):
    _, tok = tiny
    row = {"input_ids": ids(tok, "hi there"), "labels": ids(tok, "ok")}
    if not seq2seq:
        row["labels"] = [IGNORE] * (len(row["input_ids"]) - 1) + row["labels"][:1]
    lines = explain_row(tok, row, seq2seq=seq2seq)
    shown = lambda t: repr(tok.decode([t]))  # noqa: E731
    if seq2seq:
        expected = ([{"position": f"encoder {i}", "token": shown(t), "input id": t, "label": "-", "in the loss": False}
                     for i, t in enumerate(row["input_ids"])]
                    + [{"position": f"decoder {i}", "token": shown(t), "input id": "-", "label": t, "in the loss": True}
                       for i, t in enumerate(row["labels"])])
    else:
        expected = [{"position": i, "token": shown(t), "input id": t, "label": label, "in the loss": label != IGNORE}
                    for i, (t, label) in enumerate(zip(row["input_ids"], row["labels"]))]
    assert lines == expected
