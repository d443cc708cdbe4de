"""Back-translation: translate a turn into a pivot language and back, to get a paraphrase.

Two `transformers` translation models do the work, by default the MarianMT pair opus-mt-en-de / opus-mt-de-en
(about 300 MB each, downloaded from the Hugging Face hub on first use). Offline, `heygen_lib.augment.apertium` does
back-translation with a rule-based engine instead; `heygen_lib.tiny_models` makes an untrained stand-in pair that only
exercises this code in the tests (it translates into noise).

Decoding matters more than the models. Marian's checkpoints default to beam search with 4 beams, which returns the
single most likely translation: back again, that is often the input itself. Sampling (as UDA did, at temperature
0.8) returns a different plausible paraphrase each time, which is what augmentation needs.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from heygen_lib.augment.base import TextAugmenter
from heygen_lib.augment.protect import broken_spans
from heygen_lib.profile import device as default_device


@dataclass
class BackTranslationConfig:
    """Which models translate and how they decode."""

    forward: str = "Helsinki-NLP/opus-mt-en-de"  # hub name or local folder: English -> pivot language
    backward: str = "Helsinki-NLP/opus-mt-de-en"  # pivot language -> English
    # "sample": a varied paraphrase per call (the point of augmentation). "beam": the most likely translation,
    # the same every call and often a near-copy of the input; with num_beams=1 it is greedy decoding.
    decoding: Literal["sample", "beam"] = "sample"
    temperature: float = 0.8  # sampling: UDA's setting; lower stays closer to the input, higher drifts further
    top_k: int = 0  # sampling: keep only the k likeliest tokens at each step; 0 is off
    top_p: float = 1.0  # sampling: keep the likeliest tokens holding this much probability; 1.0 is off
    num_beams: int = 4  # beam decoding only
    batch_size: int = 32  # texts per generate call; lower it if the GPU runs out of memory
    # Tokens per input and per output. Longer inputs are truncated, so their rewrite covers only the first
    # max_length tokens (about 100 English words at 128).
    max_length: int = 128
    device: str | None = None  # "cpu", "cuda", ...; None is the GPU when there is one
    mixed_precision: bool = True  # on GPU, run in bf16 (fp16 where bf16 is missing); ignored on CPU

    def __post_init__(self) -> None:
        if self.decoding not in ("sample", "beam"):
            raise ValueError(f"decoding must be 'sample' or 'beam', got {self.decoding!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"top_k must be >= 0 and top_p in (0, 1], got {self.top_k} and {self.top_p}")
        for name in ("num_beams", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    def generation_kwargs(self) -> dict[str, Any]:
        """Arguments for ``model.generate``. Every decoding choice is explicit, so the model's own generation
        defaults (Marian's: 4 beams, 512 tokens) never apply."""
        if self.decoding == "sample":
            choice = {"do_sample": True, "num_beams": 1, "temperature": self.temperature,
                      "top_k": self.top_k, "top_p": self.top_p}
        else:
            choice = {"do_sample": False, "num_beams": self.num_beams}
        # For an encoder-decoder model max_length bounds the output; +1 for the token decoding starts from.
        return {**choice, "num_return_sequences": 1, "max_length": self.max_length + 1}


class BackTranslator(TextAugmenter):
    """Paraphrases by translating to a pivot language and back (`BackTranslationConfig` says how).

    A rewrite is None for an empty or whitespace-only text, where a translation comes back empty, and where it lost a
    protected span (`heygen_lib.augment.protect`: a neural model may round "$54.90" or drop an order id). Outputs are
    deterministic for a given `rng` state, input list and batch size (sorting by length decides the batches).
    """

    name = "back-translation"

    def __init__(self, config: BackTranslationConfig | None = None):
        self.config = config or BackTranslationConfig()
        self.device = torch.device(self.config.device) if self.config.device else default_device()
        self.forward = _load(self.config.forward, self.device, self.config.max_length)
        self.backward = _load(self.config.backward, self.device, self.config.max_length)

    def augment(self, texts: Sequence[str], rng: random.Random) -> list[str | None]:
        back = self.round_trip(texts, rng)[1]
        return [new if new is None or not broken_spans(text, new) else None for text, new in zip(texts, back)]

    def round_trip(self, texts: Sequence[str], rng: random.Random) -> tuple[list[str | None], list[str | None]]:
        """The pivot translations and the back-translations, both in input order."""
        seed = rng.getrandbits(63)  # drawn even when there is nothing to translate, so later draws do not shift
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # seed torch for this call, then leave its RNG as it was
            torch.manual_seed(seed)
            pivots = self._translate(*self.forward, texts)
            back = self._translate(*self.backward, pivots)
        return pivots, back

    def _translate(
        self, tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel, texts: Sequence[str | None]
    ) -> list[str | None]:
        out: list[str | None] = [None] * len(texts)
        todo = [i for i, text in enumerate(texts) if text and text.strip()]
        # Longest first: texts of similar length share a batch (less padding), and a batch too big for the
        # GPU fails at once rather than at the end.
        todo.sort(key=lambda i: len(texts[i]), reverse=True)
        size = self.config.batch_size
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            inputs = tokenizer(
                [texts[i].strip() for i in batch],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.config.max_length,
            ).to(self.device)
            with torch.inference_mode(), self._autocast():
                ids = model.generate(
                    input_ids=inputs["input_ids"],
                    attention_mask=inputs["attention_mask"],
                    **self.config.generation_kwargs(),
                )
            for i, text in zip(batch, tokenizer.batch_decode(ids, skip_special_tokens=True)):
                out[i] = text.strip() or None
        return out

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type != "cuda" or not self.config.mixed_precision:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


def _load(name_or_path: str, device: torch.device, max_length: int) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Tokenizer and model from a hub name or a local folder, the model on `device` in eval mode."""
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path).to(device).eval()
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and max_length > positions:
        raise ValueError(f"max_length {max_length} is more than {name_or_path} can take ({positions} positions)")
    return tokenizer, model
