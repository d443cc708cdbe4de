"""Evaluating a dialogue model: perplexity of the real responses, generated responses, and metrics of those.

**Perplexity** is ``exp(total NLL / total scored tokens)`` over the whole set: every response token and each
response's closing end token, summed over all pairs, then divided once. (The mean of per-batch losses, which is
what ``Trainer.evaluate`` reports, weighs a batch of short responses like one of long ones.) It is **subword-level**:
per token of the model's own tokenizer, so two models compare only when they share a tokenizer, e.g. one model
before and after fine-tuning, or the learning curve's runs, never the tiny stand-in against distilgpt2.

**Generation** pads prompts on the left, so that every prompt ends at the same position and the new tokens follow
directly (a decoder-only model continues the last position; right padding would make it continue after pads). An
encoder-decoder reads the prompt with its encoder and writes into a decoder of its own, so there the usual right
padding is right. Replies are measured as the chatbot writes them greedily: with its repetition penalty
(`REPETITION_PENALTY`), because plain greedy decoding of a small model loops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from heygen_lib.nlg.decoding import REPETITION_PENALTY  # the chatbot's too: replies are measured as it writes them
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.metrics import corpus_bleu, distinct_n, self_bleu
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.finetune import context_window, is_seq2seq
from heygen_lib.nlg.hf_training import loss_on_scored_positions, scored_loss
from heygen_lib.nlg.rows import IGNORE, collator_for, encode_pairs, prompt_ids
from heygen_lib.text import word_tokens



def response_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed negative log-likelihood of the labelled tokens of a causal LM batch, and how many there are.

    Position t predicts token t + 1, so the logits lose their last position and the labels their first; labels of
    -100 (the prompt, the padding) are skipped. ``nll / count`` is the model's own loss on the batch."""
    logits, targets = logits[:, :-1], labels[:, 1:]
    nll = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE, reduction="sum")
    return nll, int((targets != IGNORE).sum())


@torch.inference_mode()
def perplexity(
    model, tokenizer, pairs: Sequence[Pair], max_length: int = 256, batch_size: int = 16,
    fmt: DialogueFormat = DialogueFormat(),
) -> float:
    """Subword perplexity of the pairs' responses (with their end tokens) given their contexts; see the module
    docstring. Rows are fitted to `max_length` tokens as in training (`rows.encode_pairs`)."""
    if not pairs:
        raise ValueError("perplexity needs at least one pair")
    seq2seq = is_seq2seq(model)
    rows, _ = encode_pairs(tokenizer, pairs, max_length, fmt, seq2seq)
    # as in training, a causal LM projects only the scored positions onto its vocabulary where it can
    collate = loss_on_scored_positions(model, collator_for(tokenizer))["data_collator"]
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))  # similar lengths: little padding
    for start in range(0, len(order), batch_size):
        batch = collate([rows[i] for i in order[start : start + batch_size]])
        batch = {k: v.to(device) for k, v in batch.items()}
        if seq2seq:  # the decoder reads the labels shifted right: its position t predicts label t
            logits, targets = model(**batch).logits, batch["labels"]
            nll = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                    targets.reshape(-1), ignore_index=IGNORE, reduction="sum")
            count = int((targets != IGNORE).sum())
        elif "logits_to_keep" in batch:  # the logits of the scored tokens only, in row order
            output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           logits_to_keep=batch["logits_to_keep"])
            nll = scored_loss(output, batch["labels"], num_items_in_batch=1)  # the summed NLL (divided by 1)
            count = int(batch["logits_to_keep"].sum())
        else:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            nll, count = response_nll(logits, batch["labels"])
        total_nll += nll.item()
        total_tokens += count
    model.train(was_training)
    return math.exp(total_nll / total_tokens)


@torch.inference_mode()
def generate_responses(
    model, tokenizer, contexts: Sequence[Sequence[Turn]], max_new_tokens: int = 48, seed: int = 0,
    batch_size: int = 64, max_length: int | None = None, fmt: DialogueFormat = DialogueFormat(),
    repetition_penalty: float = REPETITION_PENALTY, **generate_kwargs,
) -> list[str]:
    """One response per context (in order), ending at the model's end token or after `max_new_tokens`.

    Greedy decoding with `repetition_penalty` (1.0: plain greedy) unless `generate_kwargs` say otherwise (e.g.
    ``do_sample=True, top_p=0.9``); sampling is seeded with `seed`, without touching the caller's random state.
    Prompts longer than `max_length` minus `max_new_tokens` (default: the model's position limit; an
    encoder-decoder's prompt gets all `max_length`) lose their oldest context first, as in training. Batches of 64
    gave the same greedy replies as batches of 16 with a third less CPU time (the stand-in, 88 test contexts).
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    seq2seq = is_seq2seq(model)
    limit = max_length or context_window(model) or tokenizer.model_max_length
    room = limit if seq2seq else limit - max_new_tokens
    if room < 1:
        raise ValueError(f"max_new_tokens ({max_new_tokens}) leaves no room for a prompt in {limit} positions")
    prompts = [prompt_ids(tokenizer, context, room, fmt) for context in contexts]
    settings = {"do_sample": False, "num_beams": 1, "max_new_tokens": max_new_tokens,
                "repetition_penalty": repetition_penalty,
                "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id, **generate_kwargs}
    if not settings["do_sample"]:  # no sampling knobs from the model's generation config: greedy means greedy
        settings.update(temperature=None, top_p=None, top_k=None)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    responses = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start : start + batch_size]
            width = max(len(p) for p in batch)
            pads = [[tokenizer.pad_token_id] * (width - len(p)) for p in batch]
            masks = [([0] * (width - len(p)), [1] * len(p)) for p in batch]
            if seq2seq:  # right padding; the output starts with the decoder's start token
                input_ids = torch.tensor([p + pad for p, pad in zip(batch, pads)], device=device)
                attention_mask = torch.tensor([ones + zeros for zeros, ones in masks], device=device)
            else:  # left padding; the output starts with the prompt
                input_ids = torch.tensor([pad + p for p, pad in zip(batch, pads)], device=device)
                attention_mask = torch.tensor([zeros + ones for zeros, ones in masks], device=device)
            out = model.generate(input_ids=input_ids, attention_mask=attention_mask, **settings)
            for row in out[:, 1 if seq2seq else width :].tolist():
                if tokenizer.eos_token_id in row:
                    row = row[: row.index(tokenizer.eos_token_id)]
                responses.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    model.train(was_training)
    return responses


def response_metrics(generated: Sequence[str], references: Sequence[str], max_n: int = 4) -> dict[str, float | str]:
    """Metrics of generated responses against the real ones (aligned, one reference each), from `heygen_lib.metrics`:
    corpus BLEU-`max_n`, distinct-1/2, Self-BLEU-`max_n` (leave-one-out; high = repetitive) and the average length
    in words. ``"BLEU signature"`` says how BLEU was computed: print it beside the numbers."""
    if len(generated) != len(references):
        raise ValueError(f"{len(generated)} generated responses but {len(references)} references")
    bleu = corpus_bleu(generated, references, max_n=max_n)
    return {
        f"BLEU-{max_n}": bleu.score,
        "distinct-1": distinct_n(generated, 1),
        "distinct-2": distinct_n(generated, 2),
        f"Self-BLEU-{max_n}": self_bleu(generated, max_n=max_n).score if len(generated) > 1 else float("nan"),
        "avg words": sum(len(word_tokens(t)) for t in generated) / max(1, len(generated)),
        "BLEU signature": bleu.signature,
    }


def evaluate_model(
    model, tokenizer, dev: Sequence[Pair], test: Sequence[Pair], eval_contexts: int | None = None,
    max_new_tokens: int = 48, max_length: int = 256, seed: int = 0, **generate_kwargs,
) -> tuple[dict[str, float], list[str]]:
    """Dev and test perplexity, and `response_metrics` of the responses generated for the first `eval_contexts`
    test contexts (all when None) against the real ones; returns the numbers and the generated responses."""
    shown = list(test)[:eval_contexts]
    generated = generate_responses(model, tokenizer, [p.context for p in shown], max_new_tokens, seed=seed,
                                   max_length=max_length, **generate_kwargs)
    metrics = response_metrics(generated, [p.response.text for p in shown])
    row = {"dev ppl": perplexity(model, tokenizer, dev, max_length),
           "test ppl": perplexity(model, tokenizer, test, max_length),
           **{k: v for k, v in metrics.items() if k != "BLEU signature"}}
    return row, generated
