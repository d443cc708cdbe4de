"""LoRA: fine-tune a model too large to train whole, by training a small low-rank update beside each weight.

Full fine-tuning keeps, for every weight, its gradient and Adam's two moments: about four copies of the model in
memory. LoRA (Hu et al. 2021) freezes each linear layer's weight W (d_out x d_in) and trains a product B A beside it,
with A (r x d_in) and B (d_out x r), r small (8):

    h = W x + (alpha / r) B A x

B starts at zero, so training starts from the pretrained model exactly. Gradients and optimizer state then exist for
r (d_in + d_out) numbers per layer instead of d_in d_out. When training ends, B A is added into W ("merged"): the
result is a plain model of the original shape, which `load_model` and the chatbot load like any other.

The dialogue format's special tokens may be new to the pretrained model (GPT-2 has no pad, turn or response token);
their embedding rows are trained too (peft's ``trainable_token_indices``), every other embedding row stays frozen.
The `peft` library does the work; this module chooses its settings.
"""

from __future__ import annotations

import warnings

import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from transformers.pytorch_utils import Conv1D

from heygen_lib.data.dialogue_format import DialogueFormat


def lora_config(model: torch.nn.Module, tokenizer, rank: int = 8, alpha: float = 16.0, dropout: float = 0.05,
                fmt: DialogueFormat = DialogueFormat()) -> LoraConfig:
    """LoRA on every linear layer but the output head ("all-linear", as QLoRA), plus the embedding rows of the
    format's special tokens."""
    seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
    tokens = (fmt.turn_token, fmt.response_token, fmt.eos_token, fmt.pad_token)
    special = sorted({tokenizer.convert_tokens_to_ids(t) for t in tokens})
    return LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear", bias="none",
        task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM,
        # GPT-2 stores its linear layers transposed (Conv1D); peft wants to be told rather than warn and guess
        fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
        trainable_token_indices=special,
    )


def with_lora(model: torch.nn.Module, tokenizer, rank: int = 8, alpha: float = 16.0, dropout: float = 0.05,
              seed: int = 0) -> PeftModel:
    """`model` with LoRA updates added (in place) and every original weight frozen; train what this returns.
    The random start of each A is drawn from `seed` (B starts at zero), leaving the global generator as it was."""
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        torch.manual_seed(seed)
        # peft asks transformers 5 for an attribute that was renamed; nothing for the user to act on
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, lora_config(model, tokenizer, rank, alpha, dropout))


def merge_lora(peft_model: PeftModel) -> torch.nn.Module:
    """Add each trained update into its weight and remove the LoRA layers; returns the plain model (the one that was
    passed to `with_lora`, now holding the merged weights)."""
    return peft_model.merge_and_unload()


def trainable_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; tied weights counted once."""
    seen = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in seen if p.requires_grad), sum(p.numel() for p in seen)
