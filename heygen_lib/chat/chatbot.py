"""A chatbot around a fine-tuned causal LM: history, context window, decoding, streaming, safe input.

Each message goes through four steps:

1. **clean**: an empty or whitespace-only message is refused (``ValueError``); control characters other than newline
   and tab are removed; a paste longer than `max_message_chars` keeps its last characters. The reply notes each.
2. **prompt**: the history plus the new message, rendered by `DialogueFormat.prompt` exactly as in training. The
   format escapes text shaped like its special tokens, so a message containing ``<|response|>`` stays text.
3. **fit**: the prompt and `max_new_tokens` must fit the model's context window. The oldest whole turns go first;
   if the new message alone is still too long, its oldest *tokens* go (cut between token ids, the same rule the
   training rows use), and the ``<|response|>`` marker always stays.
4. **generate** and **commit**: the user turn enters the history only together with the bot's reply, so a failed
   or interrupted generation leaves the history as it was.

A causal LM (GPT-2) continues the prompt, so its reply is what follows the prompt in the output; an encoder-decoder
(T5, BART) reads the prompt in its encoder and writes the reply from scratch, so the whole output is the reply.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import AutoTokenizer, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from heygen_lib.nlg.decoding import DecodingConfig
from heygen_lib.chat.feedback import strip_controls
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.dialogue_format import DialogueFormat, escape
from heygen_lib.nlg.finetune import context_window, is_seq2seq, load_model
from heygen_lib.nlg.rows import FittedPrompt, fit_prompt


@dataclass(frozen=True)
class Reply:
    """What the bot said, what it cost, and what was changed to make it possible."""

    text: str
    new_tokens: int  # tokens generated (the closing end token included)
    seconds: float  # wall time of generation
    tokens_per_s: float
    truncated_turns: int = 0  # oldest history turns left out of the prompt to fit the context window
    message_cut_tokens: int = 0  # oldest tokens of the new message left out (it did not fit on its own)
    prompt_tokens: int = 0
    notes: tuple[str, ...] = ()  # plain-language notes on what cleaning and fitting changed
    decoding: DecodingConfig | None = None  # the settings that produced it

    @property
    def stats(self) -> str:
        """Latency and speed in one line."""
        return f"{self.seconds:.2f} s, {self.new_tokens} tokens, {self.tokens_per_s:.0f} tokens/s"


def clean_message(text: str, max_chars: int) -> tuple[str, list[str]]:
    """The message without control characters (newline and tab stay), at most `max_chars` characters (its end is
    kept), and notes on what changed. Raises ValueError for a message with nothing in it."""
    if not isinstance(text, str):
        raise TypeError(f"a message must be a string, got {type(text).__name__}")
    notes = []
    kept = strip_controls(text)
    if len(kept) < len(text):
        notes.append(f"removed {len(text) - len(kept)} control character(s)")
    kept = kept.strip()
    if not kept:
        raise ValueError("empty message: type some text to send (whitespace and control characters alone don't count)")
    if len(kept) > max_chars:
        notes.append(f"long message: kept its last {max_chars:,} of {len(kept):,} characters")
        kept = kept[-max_chars:].lstrip()
    if escape(kept) != kept:
        notes.append("text shaped like the dialogue format's special tokens ('<|') was escaped, so it stays text")
    return kept, notes


class Chatbot:
    """Talk to a causal LM fine-tuned in the kit's dialogue format (notebook 05)."""

    def __init__(self, model, tokenizer, decoding: DecodingConfig = DecodingConfig(),
                 fmt: DialogueFormat = DialogueFormat(), user: str = "customer", bot: str = "agent",
                 max_context_tokens: int | None = None, max_message_chars: int = 2000):
        missing = missing_format_tokens(tokenizer, fmt)
        if missing:
            raise ValueError(f"the tokenizer has no {', '.join(missing)} token: this model was not fine-tuned in the "
                             "kit's dialogue format (run notebook 05, or call add_format_tokens and fine-tune)")
        if model.get_input_embeddings().num_embeddings < len(tokenizer):
            raise ValueError(f"the model has {model.get_input_embeddings().num_embeddings} token embeddings but the "
                             f"tokenizer {len(tokenizer)} tokens: they were not saved together after fine-tuning")
        self.model, self.tokenizer, self.fmt = model, tokenizer, fmt
        self.user, self.bot = user, bot
        self.seq2seq = is_seq2seq(model)
        self.max_context_tokens = max_context_tokens or context_window(model) or tokenizer.model_max_length
        if not self.max_context_tokens:
            raise ValueError("the model's config names no context window; pass max_context_tokens")
        self.max_message_chars = max_message_chars
        self.decoding = decoding
        # The turn token also ends a reply: a model that starts a new turn has finished its own.
        self._stop_ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(fmt.turn_token)]
        self._history: list[Turn] = []
        self._replies: list[Reply] = []  # one per bot turn: history[2k + 1] is replies[k]
        self.conversation_id = uuid.uuid4().hex[:12]

    @property
    def decoding(self) -> DecodingConfig:
        return self._decoding

    @decoding.setter
    def decoding(self, value: DecodingConfig) -> None:
        if not self.seq2seq and value.max_new_tokens >= self.max_context_tokens:
            raise ValueError(f"max_new_tokens ({value.max_new_tokens}) leaves no room for a prompt in the model's "
                             f"context window of {self.max_context_tokens} tokens")
        self._decoding = value

    @property
    def history(self) -> tuple[Turn, ...]:
        """The conversation so far: user and bot turns, alternating, as cleaned and sent."""
        return tuple(self._history)

    @property
    def last_reply(self) -> Reply | None:
        """The latest `Reply` (None before the first)."""
        return self._replies[-1] if self._replies else None

    def reply_for(self, turn: int) -> Reply:
        """The `Reply` behind the bot turn ``history[turn]``."""
        if not (0 <= turn < len(self._history) and turn % 2 == 1):
            raise IndexError(f"history[{turn}] is not a bot turn (bot turns: {list(range(1, len(self._history), 2))})")
        return self._replies[turn // 2]

    def reset(self) -> None:
        """Forget the conversation and start a new one (with a new conversation id)."""
        self._history.clear()
        self._replies.clear()
        self.conversation_id = uuid.uuid4().hex[:12]

    def with_decoding(self, **changes) -> DecodingConfig:
        """Set new decoding settings from the current ones (e.g. ``bot.with_decoding(temperature=1.0)``)."""
        self.decoding = replace(self.decoding, **changes)
        return self.decoding

    def reply(self, message: str) -> Reply:
        """Answer `message` and add both turns to the history."""
        decoding = self.decoding
        text, notes, prompt = self._prepare(message, decoding)
        start = time.perf_counter()
        output = self._generate(prompt.ids, decoding)
        return self._commit(text, notes, prompt, output, time.perf_counter() - start, decoding)

    def stream(self, message: str) -> Iterator[str]:
        """Answer `message` piece by piece as tokens arrive; the turns enter the history when the stream ends
        (`last_reply` then holds the whole `Reply`); a stream abandoned half-way adds nothing. Beam search can't
        stream: it yields its reply in one piece."""
        decoding = self.decoding
        text, notes, prompt = self._prepare(message, decoding)
        start = time.perf_counter()
        if decoding.strategy == "beam":
            output = self._generate(prompt.ids, decoding)
            reply = self._commit(text, notes, prompt, output, time.perf_counter() - start, decoding)
            yield reply.text
            return
        # skip_prompt skips generate's first hand-over: the prompt (causal) or the decoder's start token (seq2seq).
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = threading.Event()
        result: dict[str, object] = {}

        def run() -> None:
            try:
                result["output"] = self._generate(prompt.ids, decoding, streamer, stop)
            except BaseException as err:  # handed to the caller's thread below
                result["error"] = err
                streamer.end()

        thread = threading.Thread(target=run, name="heygen-chat-generate", daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield strip_controls(piece)
        finally:  # Ctrl-C, or a caller that stops reading: end the generation too, before anything else runs
            stop.set()
            thread.join()
        if "error" in result:
            raise result["error"]
        self._commit(text, notes, prompt, result["output"], time.perf_counter() - start, decoding)

    def prompt_for(self, turns: Sequence[Turn], decoding: DecodingConfig | None = None) -> FittedPrompt:
        """The prompt the bot writes its next reply after, for the conversation `turns` (the last one the user's):
        the turns fitted to the context window, the oldest dropped first, with room kept for the reply."""
        decoding = decoding or self.decoding
        # A causal LM's window holds the prompt and the reply; an encoder-decoder's encoder holds the prompt alone.
        budget = self.max_context_tokens - (0 if self.seq2seq else decoding.max_new_tokens)
        return fit_prompt(self.tokenizer, list(turns), budget, self.fmt)

    @torch.no_grad()
    def reply_log_perplexities(self, conversations: Sequence[tuple[Sequence[Turn], str]]) -> list[float]:
        """For each (turns, real reply): the reply's log-perplexity (mean NLL per token, its end token included)
        after the bot's own prompt for the turns (`prompt_for`): how well the bot, as it reads the conversation,
        expects what a person answered. Causal LMs only."""
        if self.seq2seq:
            raise ValueError("reply_log_perplexities reads a causal LM's next-token probabilities")
        self.model.eval()
        scores = []
        for turns, reply in conversations:
            prompt = self.prompt_for(turns).ids
            target = self.tokenizer(self.fmt.target(reply), add_special_tokens=False, verbose=False)["input_ids"]
            target = target[: self.decoding.max_new_tokens]  # a reply is measured on the budget it is written in
            ids = torch.tensor([prompt + target], device=self.model.device)
            logp = self.model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float().log_softmax(-1)
            scores.append(-logp.gather(1, ids[0, len(prompt):, None]).mean().item())
        return scores

    def _prepare(self, message: str, decoding: DecodingConfig) -> tuple[str, list[str], FittedPrompt]:
        text, notes = clean_message(message, self.max_message_chars)
        prompt = self.prompt_for([*self._history, Turn(self.user, text)], decoding)
        if prompt.dropped_turns:
            notes.append(f"left out the {prompt.dropped_turns} oldest turn(s) to fit the "
                         f"{self.max_context_tokens}-token context window")
        if prompt.cut_tokens:
            notes.append(f"the message alone did not fit: left out its first {prompt.cut_tokens} tokens, kept the rest")
        return text, notes, prompt

    def _generate(self, prompt_ids: list[int], decoding: DecodingConfig, streamer=None,
                  stop: threading.Event | None = None) -> list[int]:
        """The new token ids (end token included, padding removed). Setting `stop` ends generation at the next
        token."""
        self.model.eval()
        ids = torch.tensor([prompt_ids], device=self.model.device)
        stopping = StoppingCriteriaList([_WhenSet(stop)] if stop is not None else [])
        output = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=streamer,
                                     stopping_criteria=stopping, pad_token_id=self.tokenizer.pad_token_id,
                                     eos_token_id=self._stop_ids, **decoding.generate_kwargs())
        # A causal LM's output starts with the prompt; an encoder-decoder's with the decoder's start token.
        new = output[0, 1:] if self.seq2seq else output[0, len(prompt_ids):]
        return [t for t in new.tolist() if t != self.tokenizer.pad_token_id]

    def _commit(self, text: str, notes: list[str], prompt: FittedPrompt, output: list[int], seconds: float,
                decoding: DecodingConfig) -> Reply:
        answer = strip_controls(self.tokenizer.decode(output, skip_special_tokens=True)).strip()
        if not answer:
            notes.append("the model wrote no text (only special tokens)")
        reply = Reply(answer, len(output), seconds, len(output) / max(seconds, 1e-9), prompt.dropped_turns,
                      prompt.cut_tokens, len(prompt.ids), tuple(notes), decoding)
        self._history += [Turn(self.user, text), Turn(self.bot, answer)]
        self._replies.append(reply)
        return reply


class _WhenSet(StoppingCriteria):
    """Stops generation once `event` is set (the reader of a stream went away)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def missing_format_tokens(tokenizer, fmt: DialogueFormat = DialogueFormat()) -> list[str]:
    """The dialogue format's special tokens the tokenizer lacks: none for a model fine-tuned in the kit."""
    vocab = tokenizer.get_vocab()
    return [t for t in (fmt.turn_token, fmt.response_token, fmt.pad_token, fmt.eos_token) if t not in vocab]


_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "spiece.model", "source.spm")


def check_model_folder(folder: str | Path, fmt: DialogueFormat = DialogueFormat()) -> Path:
    """`folder`, if it holds a model fine-tuned in the kit's dialogue format (config, weights, a tokenizer with the
    format's tokens); else an error naming what is missing. `load_model` adds the format's tokens to any
    tokenizer (fine-tuning needs that), so this check must look at the folder before it does."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no saved model (no config.json): run notebook 05 (fine-tuning), "
                                "which fine-tunes the model and saves it there")
    for kind, names in (("model weights", _WEIGHT_FILES), ("tokenizer", _TOKENIZER_FILES)):
        if not any((folder / name).is_file() for name in names):
            raise FileNotFoundError(f"{folder} has a config.json but no {kind} ({' or '.join(names)}): "
                                    "save the model and its tokenizer together (save_model)")
    missing = missing_format_tokens(AutoTokenizer.from_pretrained(folder), fmt)
    if missing:
        raise ValueError(f"{folder} is not a model fine-tuned in the kit's dialogue format: its tokenizer has no "
                         f"{', '.join(missing)} token (fine-tune it first, e.g. with notebook 05)")
    return folder


def load_chatbot(folder: str | Path, decoding: DecodingConfig = DecodingConfig(), device: torch.device | None = None,
                 **kwargs) -> Chatbot:
    """A `Chatbot` for the model and tokenizer saved in `folder` (e.g. by notebook 05), on `device` (default: the
    GPU when there is one). A folder that is not a model fine-tuned in the kit's format is refused
    (`check_model_folder`)."""
    folder = check_model_folder(folder)
    try:
        model, tokenizer = load_model(folder, device=device)
    except Exception as err:  # a damaged file raises whatever its reader raises (safetensors, torch, json)
        raise ValueError(f"{folder}: the saved model could not be read ({type(err).__name__}: {err}); save it "
                         "again, e.g. by re-running notebook 05") from err
    return Chatbot(model, tokenizer, decoding, **kwargs)
