"""The one place that says how a dialogue becomes model text: special tokens, prompt, target, escaping.

A (context, response) pair becomes one training row for a causal LM::

    <|turn|>customer: my parcel is late<|turn|>agent: sorry! what is the order number?<|turn|>customer: 1234<|response|>
    Thanks, it ships today.<|endoftext|>

The first line is the **prompt** (the context; no loss on it), the second the **target** (the response and its
closing ``<|endoftext|>``, which is trained so the model learns to stop). ``<|pad|>`` is a separate token from
``<|endoftext|>``: padding is masked out of the loss by the attention mask, the end of a response never is.

Text from people (chat messages, dataset turns) passes through `escape`, which breaks any ``<|`` so that a message
cannot imitate the format's tokens: ``"<|response|>"`` typed by a user becomes ``"< |response|>"``, ordinary text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from heygen_lib.data.dialogue import Turn


@dataclass(frozen=True)
class DialogueFormat:
    """Special tokens and the rendering of a pair. GPT-2's own end token is reused; the other three are added."""

    turn_token: str = "<|turn|>"  # starts every context turn
    response_token: str = "<|response|>"  # ends the prompt: the model writes the response after it
    eos_token: str = "<|endoftext|>"  # ends the response (GPT-2's end-of-text token)
    pad_token: str = "<|pad|>"  # padding only; never the same id as eos

    @property
    def special_tokens(self) -> dict[str, object]:
        """Keyword arguments for ``tokenizer.add_special_tokens``."""
        return {"eos_token": self.eos_token, "bos_token": self.eos_token, "pad_token": self.pad_token,
                "additional_special_tokens": [self.turn_token, self.response_token]}

    def prompt(self, context: Sequence[Turn]) -> str:
        """The context turns as model text, ending where the response starts."""
        turns = "".join(f"{self.turn_token}{escape(t.speaker)}: {escape(t.text)}" for t in context)
        return turns + self.response_token

    def target(self, response: str) -> str:
        """The response as the model must write it, with its closing end token."""
        return escape(response) + self.eos_token

    def conversation(self, turns: Sequence[Turn]) -> str:
        """A whole conversation as one text for pretraining: its last turn is the response to all the turns before,
        so the model meets the same tokens, in the same places, as in fine-tuning."""
        if len(turns) < 2:
            raise ValueError(f"a conversation needs at least two turns, got {len(turns)}")
        return self.prompt(turns[:-1]) + self.target(turns[-1].text)


def escape(text: str) -> str:
    """Neutralise anything shaped like a special token (``<|...``), so user text stays text."""
    return text.replace("<|", "< |")


def add_format_tokens(tokenizer, model=None, fmt: DialogueFormat = DialogueFormat()) -> int:
    """Add the format's special tokens to a tokenizer (and grow the model's embeddings to match).

    Returns how many tokens were new: 0 for a tokenizer made by the kit, 3 for GPT-2's (pad, turn, response).
    """
    added = tokenizer.add_special_tokens(fmt.special_tokens)
    if model is not None and added:
        model.resize_token_embeddings(len(tokenizer))
    if model is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
        model.config.eos_token_id = tokenizer.eos_token_id
        model.config.bos_token_id = tokenizer.bos_token_id
        if model.generation_config is not None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id
            model.generation_config.eos_token_id = tokenizer.eos_token_id
            model.generation_config.bos_token_id = tokenizer.bos_token_id
    return added
