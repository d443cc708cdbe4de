"""How a model picks its words when it writes (the chatbot, and notebook 05 measuring replies as the chatbot writes
them): one dataclass that becomes the keyword arguments of ``model.generate``.

- **greedy**: always the most likely next token. Deterministic; small models fall into loops ("I can help. I can
  help. ...") without a repetition penalty.
- **beam**: keep the `num_beams` most likely partial replies and return the best whole one. Deterministic, safe,
  often bland.
- **sample**: draw each token from the model's distribution, reshaped by `temperature` (below 1 sharper, above 1
  flatter), then cut to the `top_k` most likely tokens and to the smallest set holding `top_p` of the probability
  (nucleus sampling). Varied; the right settings keep it on topic.

Only the arguments a strategy uses are passed, so ``transformers`` never warns that e.g. a temperature is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where tensors are made, so the chat command's --help never waits for torch
    import torch

STRATEGIES = ("greedy", "beam", "sample")
# Divides the score of every token already in the prompt or the reply (Keskar et al., 2019); notebook 05 measures
# replies with it too (`nlg.evaluate`). Plain greedy decoding of a small fine-tuned model loops ("The order is the
# order is ..."); notebook 05 (section 6) measures the looping share with and without it.
REPETITION_PENALTY = 1.2


@dataclass(frozen=True)
class DecodingConfig:
    """Decoding settings. The defaults are a sensible start for a small fine-tuned GPT-2."""

    strategy: str = "sample"  # "greedy", "beam" or "sample" (see the module docstring)
    temperature: float = 0.7  # sample: < 1 sharpens the distribution (safer), > 1 flattens it (wilder)
    top_k: int = 50  # sample: keep only the k most likely tokens; 0 keeps all
    top_p: float = 0.9  # sample: keep the smallest set of tokens holding this much probability; 1.0 keeps all
    # all: divide the score of tokens already in the text by this; 1.0 is off (notebook 05 measures replies with it)
    repetition_penalty: float = REPETITION_PENALTY
    num_beams: int = 4  # beam: partial replies kept at each step
    max_new_tokens: int = 48  # all: the longest reply, in tokens

    def __post_init__(self) -> None:
        problems = []
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if not self.temperature > 0:
            problems.append(f"temperature must be > 0 (strategy 'greedy' is temperature 0), got {self.temperature}")
        if self.top_k < 0:
            problems.append(f"top_k must be >= 0 (0 keeps every token), got {self.top_k}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p}")
        if not self.repetition_penalty > 0:
            problems.append(f"repetition_penalty must be > 0 (1.0 is off), got {self.repetition_penalty}")
        if self.num_beams < 2 and self.strategy == "beam":
            problems.append(f"num_beams must be >= 2 for beam search, got {self.num_beams}")
        if self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if problems:
            raise ValueError("bad decoding settings: " + "; ".join(problems))

    def generate_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for ``model.generate``: only those this strategy uses."""
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty,
                                  "do_sample": self.strategy == "sample", "num_beams": 1}
        if self.strategy == "beam":
            kwargs.update(num_beams=self.num_beams, early_stopping=True)
        if self.strategy == "sample":
            kwargs.update(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        return kwargs

    def describe(self) -> str:
        """One short line naming the settings that matter for this strategy."""
        used = {k: v for k, v in self.generate_kwargs().items() if k not in ("do_sample", "early_stopping")}
        if self.strategy != "beam":
            used.pop("num_beams")
        return self.strategy + " " + ", ".join(f"{k}={v}" for k, v in used.items())

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (what the feedback store records)."""
        return asdict(self)


def next_token_probs(logits: torch.Tensor, previous: Sequence[int], config: DecodingConfig) -> torch.Tensor:
    """The distribution sampling draws the next token from, built from one step's `logits` (shape: vocabulary) in
    the order ``generate`` applies its processors: repetition penalty on the tokens already in `previous`, then
    temperature, then top-k, then top-p, then softmax. (Greedy and beam search skip temperature, top-k and top-p and
    take the best penalised scores.)"""
    import torch

    scores = logits.detach().float().clone()
    if config.repetition_penalty != 1.0 and len(previous):
        seen = torch.tensor(sorted(set(previous)))
        s = scores[seen]  # a penalty must make a seen token less likely whatever the sign of its score
        scores[seen] = torch.where(s > 0, s / config.repetition_penalty, s * config.repetition_penalty)
    scores = scores / config.temperature
    if config.top_k:
        kth_best = torch.topk(scores, min(config.top_k, scores.numel())).values[-1]
        scores[scores < kth_best] = -math.inf
    if config.top_p < 1:
        ordered, order = scores.sort(descending=True)
        probs = ordered.softmax(-1)
        mass_before = probs.cumsum(-1) - probs  # the probability of the tokens ranked above each one
        scores[order[mass_before >= config.top_p]] = -math.inf  # the most likely token always stays
    return scores.softmax(-1)
