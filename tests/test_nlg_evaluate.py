import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from heygen_lib.data import Pair, Turn
from heygen_lib.nlg.evaluate import REPETITION_PENALTY, generate_responses, perplexity, response_metrics
from heygen_lib.nlg.finetune import tokenizer_texts
from heygen_lib.nlg.rows import IGNORE, collator_for, encode_pair
from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm

THINGS, STATES = ("parcel", "kettle", "refund", "app"), ("late", "broken", "missing")
PAIRS = [Pair((Turn("customer", f"my {thing} is {state}"),) * (1 + i % 3), Turn("agent", f"sorry{' again' * i}."),
              f"d{i}", "test", 1) for i, (thing, state) in enumerate((t, s) for t in THINGS for s in STATES)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    config = TinyCausalLMConfig(vocab_size=300, d_model=16, layers=2, heads=2, max_positions=64)
    folder = build_tiny_causal_lm(tokenizer_texts(PAIRS), tmp_path_factory.mktemp("tiny") / "lm", config)
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def pair_nll(model, tok, pair) -> tuple[float, int]:
    batch = collator_for(tok)([encode_pair(tok, pair, 64)])
    with torch.no_grad():
        loss = model(**batch).loss.item()
    count = int((batch["labels"] != IGNORE).sum())
    return loss * count, count


def test_perplexity_is_exp_of_total_nll_over_total_tokens_whatever_the_batching(tiny):
    model, tok = tiny
    per_pair = [pair_nll(model, tok, p) for p in PAIRS]
    expected = math.exp(sum(n for n, _ in per_pair) / sum(c for _, c in per_pair))
    for batch_size in (1, 5, 12):
        assert perplexity(model, tok, PAIRS, max_length=64, batch_size=batch_size) == pytest.approx(expected, rel=1e-5)
    mean_of_means = math.exp(sum(n / c for n, c in per_pair) / len(per_pair))  # what it must not be
    assert not math.isclose(expected, mean_of_means, rel_tol=1e-3)


def test_perplexity_projects_only_the_scored_positions_onto_the_vocabulary(tiny, monkeypatch):
    model, tok = tiny
    projected = []
    hook = model.lm_head.register_forward_hook(lambda module, args, out: projected.append(out.shape[:-1].numel()))
    scored = perplexity(model, tok, PAIRS, max_length=64, batch_size=4)
    hook.remove()
    rows = [encode_pair(tok, p, 64) for p in PAIRS]
    assert sum(projected) == sum(sum(label != IGNORE for label in row["labels"]) for row in rows)
    monkeypatch.setattr("heygen_lib.nlg.evaluate.loss_on_scored_positions",
                        lambda model, collator: {"data_collator": collator})  # every position projected
    assert scored == pytest.approx(perplexity(model, tok, PAIRS, max_length=64, batch_size=4), rel=1e-5)


def test_batched_generation_pads_on_the_left_and_matches_one_at_a_time(tiny):
    model, tok = tiny
    contexts = [p.context for p in PAIRS[:6]]  # contexts of 1, 2 and 3 turns: different prompt lengths
    batched = generate_responses(model, tok, contexts, max_new_tokens=6, batch_size=6)
    alone = [generate_responses(model, tok, [c], max_new_tokens=6)[0] for c in contexts]
    assert batched == alone
    assert len(set(batched)) > 1  # the responses differ, so a shuffled order could not pass


def test_generation_stops_at_the_end_token(tiny):
    model, tok = tiny
    def favour_the_end_token(module, inputs, logits):
        logits = logits.clone()
        logits[..., tok.eos_token_id] += 100.0
        return logits

    hook = model.lm_head.register_forward_hook(favour_the_end_token)
    try:
        out = generate_responses(model, tok, [PAIRS[0].context, PAIRS[5].context], max_new_tokens=10)
    finally:
        hook.remove()
    assert out == ["", ""]


def test_replies_are_greedy_with_the_chatbots_repetition_penalty_unless_it_is_turned_off(tiny):
    model, tok = tiny
    favourite, runner_up = 40, 41  # fixed scores: plain greedy writes the favourite token again and again

    def two_candidates(module, inputs, logits):
        fixed = torch.full_like(logits, -10.0)
        fixed[..., favourite], fixed[..., runner_up] = 10.0, 9.0
        return fixed

    hook = model.lm_head.register_forward_hook(two_candidates)
    try:
        plain = generate_responses(model, tok, [PAIRS[0].context], max_new_tokens=4, repetition_penalty=1.0)
        default = generate_responses(model, tok, [PAIRS[0].context], max_new_tokens=4)
    finally:
        hook.remove()
    assert plain == [tok.decode([favourite] * 4).strip()]
    assert default != plain and runner_up in tok(default[0])["input_ids"]
    assert REPETITION_PENALTY > 1


def test_sampling_is_seeded_and_leaves_the_callers_random_state_alone(tiny):
    model, tok = tiny
    contexts = [p.context for p in PAIRS[:4]]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = generate_responses(model, tok, contexts, 8, seed=1, do_sample=True, top_p=0.9)
    assert torch.equal(torch.get_rng_state(), state)
    assert a == generate_responses(model, tok, contexts, 8, seed=1, do_sample=True, top_p=0.9)
    assert a != generate_responses(model, tok, contexts, 8, seed=2, do_sample=True, top_p=0.9)


def test_response_metrics_use_the_kits_definitions():
    generated = ["sorry, it ships today.", "sorry, it ships today.", "which order is it?"]
    metrics = response_metrics(generated, generated)
    assert metrics["BLEU-4"] == pytest.approx(1.0)
    assert metrics["distinct-1"] == pytest.approx(10 / 17)  # "sorry , it ships today ." twice, "which order is it ?"
    assert metrics["avg words"] == pytest.approx(17 / 3)
    assert 0 < metrics["Self-BLEU-4"] < 1 and "corpus_bleu" in metrics["BLEU signature"]
    with pytest.raises(ValueError, match="2 references"):
        response_metrics(generated, generated[:2])


def test_response_nll_over_its_count_is_the_models_own_loss_on_a_padded_batch(tiny):
    from heygen_lib.nlg.evaluate import response_nll

    model, tok = tiny
    batch = collator_for(tok)([encode_pair(tok, p, 64) for p in PAIRS[:5]])
    with torch.no_grad():
        out = model(**batch)
    nll, count = response_nll(out.logits, batch["labels"])
    assert count == int((batch["labels"][:, 1:] != IGNORE).sum()) > 5
    assert (nll / count).item() == pytest.approx(out.loss.item(), rel=1e-5)
