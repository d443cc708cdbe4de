"""Training rows: one (context, response) pair per row, loss on the response only.

For a causal LM (GPT-2) a row is the prompt's token ids followed by the target's (see `dialogue_format`),
tokenised separately and joined::

    input_ids  <|turn|> customer : my parcel is late <|response|>  Thanks , it ships today . <|endoftext|>
    labels      -100    -100   -100 -100 ...        -100           Thanks , it ships today . <|endoftext|>

``-100`` is the label PyTorch's cross-entropy ignores: no loss on the context or the marker; the response and its
closing end token are trained, so the model learns what to say and when to stop. The model shifts the labels by
one itself (position t predicts token t+1), so the marker's position is the one that predicts the response's first
token.

Rows longer than `max_length` lose the **oldest** context first: whole turns, then, if the newest turn alone is
still too long, its oldest tokens. The ``<|response|>`` marker always stays. Only a response that cannot fit on its
own (with the marker) is cut; it then has no end token. `RowReport` counts both, so nothing is cut silently.

Unlike ``run_clm.py``, rows are never concatenated into fixed-size blocks: a block would join the end of one
conversation to the start of another and lose the turn boundaries the format marks.

For an encoder-decoder model (T5, BART, Marian: ``seq2seq=True``) the prompt goes to the encoder and the target is
the labels: ``input_ids`` = prompt, ``labels`` = target, each at most `max_length` tokens (the model feeds the
decoder the labels shifted right by one itself). Every label is trained, the end token included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.data.dialogue_format import DialogueFormat

IGNORE = -100  # the label cross-entropy skips (torch.nn.CrossEntropyLoss's default ignore_index)


@dataclass(frozen=True)
class RowReport:
    """What fitting the pairs into `max_length` tokens changed."""

    rows: int
    max_length: int
    context_cut: int  # rows that lost some of their oldest context
    response_cut: int  # rows whose response itself was cut (those rows have no end token to learn from)
    longest: int  # tokens in the longest row before cutting

    def __str__(self) -> str:
        return (f"{self.rows} rows of at most {self.max_length} tokens (longest pair {self.longest}): "
                f"{self.context_cut} lost their oldest context, {self.response_cut} had their response cut")


@dataclass(frozen=True)
class FittedPrompt:
    """Prompt token ids that fit a budget, and what had to go."""

    ids: list[int]
    dropped_turns: int  # oldest whole turns left out
    cut_tokens: int  # oldest tokens of the newest kept turn left out (it did not fit on its own)


def fit_prompt(
    tokenizer, context: Sequence[Turn], max_length: int, fmt: DialogueFormat = DialogueFormat()
) -> FittedPrompt:
    """The prompt's token ids, at most `max_length` of them: oldest turns dropped first, then the oldest tokens of
    the newest turn; the closing ``<|response|>`` marker is always kept. Training rows and the chatbot both fit
    their prompts here, so the model sees at chat time exactly what it saw in training."""
    if max_length < 1:
        raise ValueError(f"no room for a prompt: max_length must leave room for the response marker, got {max_length}")
    start, ids = 0, _ids(tokenizer, fmt.prompt(context))
    while len(ids) > max_length and start < len(context) - 1:
        start += 1
        ids = _ids(tokenizer, fmt.prompt(context[start:]))
    cut = max(0, len(ids) - max_length)
    return FittedPrompt(ids[cut:], start, cut)  # the marker is the last token


def prompt_ids(
    tokenizer, context: Sequence[Turn], max_length: int, fmt: DialogueFormat = DialogueFormat()
) -> list[int]:
    """`fit_prompt`'s token ids alone."""
    return fit_prompt(tokenizer, context, max_length, fmt).ids


def encode_pair(
    tokenizer, pair: Pair, max_length: int, fmt: DialogueFormat = DialogueFormat(), seq2seq: bool = False
) -> dict[str, list[int]]:
    """One row: ``input_ids`` and ``labels`` (causal: IGNORE on the prompt, at most `max_length` tokens in all;
    `seq2seq`: the prompt and the target, at most `max_length` tokens each)."""
    return _encode(tokenizer, pair, max_length, fmt, seq2seq)[0]


def encode_pairs(
    tokenizer, pairs: Sequence[Pair], max_length: int, fmt: DialogueFormat = DialogueFormat(), seq2seq: bool = False
) -> tuple[list[dict[str, list[int]]], RowReport]:
    """One row per pair (in order) and a report of what was cut to fit `max_length`."""
    rows, context_cut, response_cut, longest = [], 0, 0, 0
    for pair in pairs:
        row, lost_context, lost_response, length = _encode(tokenizer, pair, max_length, fmt, seq2seq)
        rows.append(row)
        context_cut += lost_context
        response_cut += lost_response
        longest = max(longest, length)
    return rows, RowReport(len(rows), max_length, context_cut, response_cut, longest)


def _encode(
    tokenizer, pair: Pair, max_length: int, fmt: DialogueFormat, seq2seq: bool
) -> tuple[dict[str, list[int]], bool, bool, int]:
    """The row, whether context was cut, whether the response was cut, and the uncut length."""
    if max_length < 2:
        raise ValueError(f"max_length must hold the marker and one response token, got {max_length}")
    target = _ids(tokenizer, fmt.target(pair.response.text))
    prompt = _ids(tokenizer, fmt.prompt(pair.context))
    full_length = len(prompt) + len(target)
    if seq2seq:  # encoder and decoder each get max_length tokens
        kept_prompt = prompt_ids(tokenizer, pair.context, max_length, fmt) if len(prompt) > max_length else prompt
        row = {"input_ids": kept_prompt, "labels": target[:max_length]}
        return row, len(kept_prompt) < len(prompt), len(target) > max_length, full_length
    kept_target = target[: max_length - 1]  # room for the marker at least
    context_cut = len(prompt) + len(kept_target) > max_length
    if context_cut:
        prompt = prompt_ids(tokenizer, pair.context, max_length - len(kept_target), fmt)
    row = {"input_ids": prompt + kept_target, "labels": [IGNORE] * len(prompt) + kept_target}
    return row, context_cut, len(kept_target) < len(target), full_length


def explain_row(tokenizer, row: dict[str, list[int]], seq2seq: bool = False) -> list[dict[str, object]]:
    """One line per position of a row, for a table: the token (as text, quoted to show its spaces), its id, its
    label, and whether it is in the loss. On the response the label is the token itself: the model shifts the
    labels by one internally, so the position before each trained token is the one that predicts it. A `seq2seq`
    row lists the encoder's tokens (no labels), then the decoder's labels."""
    if seq2seq:
        encoder = [{"position": f"encoder {i}", "token": repr(tokenizer.decode([t])), "input id": t, "label": "-",
                    "in the loss": False} for i, t in enumerate(row["input_ids"])]
        decoder = [{"position": f"decoder {i}", "token": repr(tokenizer.decode([t])), "input id": "-", "label": t,
                    "in the loss": True} for i, t in enumerate(row["labels"])]
        return encoder + decoder
    return [{"position": i, "token": repr(tokenizer.decode([token_id])), "input id": token_id, "label": label,
             "in the loss": label != IGNORE}
            for i, (token_id, label) in enumerate(zip(row["input_ids"], row["labels"]))]


class PadCollator:
    """Pads a list of rows to the longest one: ``input_ids`` with the pad id (never the end token), attention mask
    0 and labels IGNORE on the padding. Right padding, for training and scoring (generation pads on the left).
    Labels are padded to the longest labels: the same width for causal rows, their own for seq2seq rows."""

    def __init__(self, pad_id: int, eos_id: int | None = None, pad_to: int | None = None):
        if pad_id is None:
            raise ValueError("the tokenizer has no pad token; call add_format_tokens(tokenizer, model) first")
        if pad_id == eos_id:
            raise ValueError(f"pad id {pad_id} is the end token's id: padding would hide every end token from the "
                             "loss; give the tokenizer its own pad token (add_format_tokens)")
        self.pad_id = pad_id
        self.pad_to = pad_to  # None: pad to the batch's longest row; a number: always that width (fixed shapes)

    def __call__(self, rows: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(row["input_ids"]) for row in rows)
        if self.pad_to is not None:
            if width > self.pad_to:
                raise ValueError(f"a row of {width} tokens does not fit pad_to={self.pad_to}")
            width = self.pad_to
        label_width = max(len(row["labels"]) for row in rows)
        if all(len(row["labels"]) == len(row["input_ids"]) for row in rows):
            label_width = width  # causal rows: labels line up with the inputs
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), label_width), IGNORE, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            input_ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, : len(row["labels"])] = torch.tensor(row["labels"])
            attention_mask[i, :n] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def collator_for(tokenizer, pad_to: int | None = None) -> PadCollator:
    """The collator for a tokenizer that went through `add_format_tokens`."""
    return PadCollator(tokenizer.pad_token_id, tokenizer.eos_token_id, pad_to)


def _ids(tokenizer, text: str) -> list[int]:
    # verbose=False: no "longer than the maximum sequence length" warning; the callers cut the ids to fit.
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
