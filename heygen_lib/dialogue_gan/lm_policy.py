"""A pretrained causal LM as the dialogue GAN's generator: the policy that writes a response to a context.

The context reaches the model through the kit's dialogue format (`heygen_lib.data.dialogue_format`): the prompt is
the context turns ending in ``<|response|>``, fitted to a token budget by `heygen_lib.nlg.rows.prompt_ids` (oldest
turns dropped first, exactly as in fine-tuning and in the chatbot). The response is what the model writes after it,
up to and including ``<|endoftext|>``.

    prompts -> (ids [B, P], mask [B, P])               left-padded, so every response starts at column P
    sample(...) -> Responses(ids [B, T], mask [B, T])  right-padded; mask True on the response's own tokens
    forward(...).logits -> [B, T + 1, V]               from the prompt's last position on (context logits skipped)
    token_log_probs(...) -> [B, T]                     log p(y_t | context, y_<t), 0 where mask is False

Only response tokens ever get a log-probability: the context is given, never scored, so no policy gradient, KL
term or teacher-forcing loss touches a context token.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from heygen_lib.data.dialogue import Turn
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.rows import prompt_ids
from heygen_lib.torch_utils import eval_mode


@dataclass(frozen=True)
class Prompts:
    """Left-padded prompt ids and their attention mask."""

    ids: torch.Tensor  # [B, P] long
    mask: torch.Tensor  # [B, P] long, 1 on tokens

    def repeat(self, k: int) -> Prompts:
        """Each row `k` times in a row (row i becomes rows i*k .. i*k+k-1): several samples per context."""
        return Prompts(self.ids.repeat_interleave(k, dim=0), self.mask.repeat_interleave(k, dim=0))

    def to(self, device: torch.device | str) -> Prompts:
        return Prompts(self.ids.to(device), self.mask.to(device))


@dataclass(frozen=True)
class Responses:
    """Right-padded response ids and the mask of the response's tokens (its end token included when written)."""

    ids: torch.Tensor  # [B, T] long
    mask: torch.Tensor  # [B, T] bool

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)


def encode_prompts(tokenizer, contexts: Sequence[Sequence[Turn]], max_tokens: int,
                   fmt: DialogueFormat = DialogueFormat()) -> Prompts:
    """The contexts as prompts of at most `max_tokens` tokens each, left-padded with the pad token."""
    rows = [prompt_ids(tokenizer, context, max_tokens, fmt) for context in contexts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row)
        mask[i, width - len(row):] = 1
    return Prompts(ids, mask)


def encode_responses(tokenizer, texts: Sequence[str], max_tokens: int,
                     fmt: DialogueFormat = DialogueFormat()) -> Responses:
    """Real responses as the model would write them (text + end token), cut to `max_tokens` like a sample that hit
    the length limit, so real and generated responses are measured on the same budget."""
    rows = [tokenizer(fmt.target(t), add_special_tokens=False, verbose=False)["input_ids"][:max_tokens] for t in texts]
    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = True
    return Responses(ids, mask)


def response_mask(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """True up to and including each row's first end token (the whole row where there is none): [B, T] bool."""
    is_eos = (ids == eos_id).long()
    after_eos = (is_eos.cumsum(dim=1) - is_eos) > 0  # strictly after the first end token
    return ~after_eos


@torch.no_grad()
def sample(model, tokenizer, prompts: Prompts, max_new_tokens: int, temperature: float = 1.0,
           seed: int = 0, top_k: int = 0) -> Responses:
    """One response per prompt row, drawn token by token from softmax(logits / temperature); ``temperature=0`` is
    greedy. ``top_k=0`` (the default) cuts nothing, so the samples follow the policy whose log-probabilities
    REINFORCE uses; ``top_k=k`` draws from the k most likely tokens only (for text meant to be read, not trained
    on). Seeded: the same seed gives the same responses, and the caller's random state is left as it was."""
    device = next(model.parameters()).device
    prompts = prompts.to(device)
    sampling = {"do_sample": True, "temperature": temperature, "top_k": top_k, "top_p": 1.0} if temperature > 0 \
        else {"do_sample": False}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), eval_mode(model):
        torch.manual_seed(seed)
        out = model.generate(input_ids=prompts.ids, attention_mask=prompts.mask, max_new_tokens=max_new_tokens,
                             min_new_tokens=1, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id, **sampling)
    ids = out[:, prompts.ids.size(1):]
    mask = response_mask(ids, tokenizer.eos_token_id)
    return Responses(ids.masked_fill(~mask, tokenizer.pad_token_id).cpu(), mask.cpu())


def forward(model, prompts: Prompts, responses: Responses, hidden: bool = False):
    """The model's output on prompt + response (positions counted from each row's first real token). Its logits cover
    only the last T + 1 positions, from the prompt's last token on: the ones that predict response tokens. The
    vocabulary projection of the context positions, which are never scored, is skipped where the model allows it
    (``logits_to_keep``), and cut off here where it does not; `token_log_probs` reads logits of this shape."""
    device = next(model.parameters()).device
    ids = torch.cat([prompts.ids, responses.ids], dim=1).to(device)
    mask = torch.cat([prompts.mask, responses.mask.long()], dim=1).to(device)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    keep = responses.ids.size(1) + 1
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, output_hidden_states=hidden,
                **keep_last_logits(model, keep))
    if out.logits.size(1) != keep:
        out.logits = out.logits[:, -keep:]
    return out


def keep_last_logits(model, count: int) -> dict[str, int]:
    """The keyword that makes `model` project only its last `count` positions onto the vocabulary: ``logits_to_keep``
    (transformers >= 4.50), ``num_logits_to_keep`` (4.45-4.49), or none (older: every position is projected)."""
    accepted = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in accepted:
            return {name: count}
    return {}


def token_log_probs(logits: torch.Tensor, responses: Responses) -> torch.Tensor:
    """log p(y_t | context, y_<t) for each response token, from the logits of `forward` ([B, T + 1, V], the first
    at the prompt's last position): [B, T], 0 off the mask. The position before y_t predicts y_t; context
    positions are never scored."""
    t = responses.ids.size(1)
    predicting = logits[:, :t].float().log_softmax(dim=-1)  # [B, T, V]
    mask = responses.mask.to(logits.device)
    picked = predicting.gather(2, responses.ids.to(logits.device)[:, :, None])[:, :, 0]
    return picked * mask


def decode(tokenizer, responses: Responses) -> list[str]:
    """Readable response texts (special tokens dropped, spaces trimmed)."""
    return [tokenizer.decode(row[m], skip_special_tokens=True).strip()
            for row, m in zip(responses.ids, responses.mask)]


@torch.no_grad()
def response_nll(model, tokenizer, contexts: Sequence[Sequence[Turn]], texts: Sequence[str], max_prompt: int,
                 max_tokens: int, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The NLL (nats, summed over the response's tokens) of each response given its context under `model`, and its
    token count: two [N] tensors on the CPU. `perplexity` turns them into one number."""
    totals, counts = [], []
    with eval_mode(model):
        for start in range(0, len(texts), batch_size):
            prompts = encode_prompts(tokenizer, contexts[start : start + batch_size], max_prompt)
            responses = encode_responses(tokenizer, texts[start : start + batch_size], max_tokens)
            logp = token_log_probs(forward(model, prompts, responses).logits, responses).cpu()
            totals.append(-logp.sum(dim=1))
            counts.append(responses.lengths)
    return torch.cat(totals), torch.cat(counts)


def perplexity(model, tokenizer, contexts: Sequence[Sequence[Turn]], texts: Sequence[str], max_prompt: int,
               max_tokens: int) -> float:
    """exp(total NLL / total tokens) of the responses given their contexts: the model's per-token perplexity."""
    totals, counts = response_nll(model, tokenizer, contexts, texts, max_prompt, max_tokens)
    return float(torch.exp(totals.sum() / counts.sum().clamp(min=1)))
