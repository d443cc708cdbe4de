"""The plumbing between the kit and `transformers`' Trainer, shared by pretraining and fine-tuning.

Everything that differs between transformers versions (argument names that were renamed, values whose meaning
changed), the precision flags, the stop on a non-finite loss and the loss read only where it is scored live here,
once (with `heygen_lib.quiet` for the per-file progress bars); `pretrain` and `finetune` import them and hold only
their own recipe.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
import transformers.modeling_utils
from transformers import Trainer, TrainerCallback, TrainingArguments

from heygen_lib.adversarial_state import TrainingDiverged
from heygen_lib.nlg.rows import IGNORE
from heygen_lib.profile import native_bf16

PRECISIONS = ("auto", "no", "fp16", "bf16")


def training_arguments(**kwargs) -> TrainingArguments:
    """`TrainingArguments` from this kit's names, translated to what the installed transformers accepts:

    - ``eval_strategy`` was ``evaluation_strategy`` before 4.41;
    - ``warmup_ratio`` became ``warmup_steps`` given as a float below 1 in 5.x;
    - ``group_by_length=True`` became ``train_sampling_strategy="group_by_length"`` in 5.x;
    - ``gradient_checkpointing`` became ``activation_checkpointing`` in 5.x (the old name is a deprecated alias);
    - ``eval_on_start`` does not exist before 4.41: it is left out there (the callers then evaluate by hand).
    """
    accepted = inspect.signature(TrainingArguments.__init__).parameters
    renames = {"eval_strategy": "evaluation_strategy", "gradient_checkpointing": "activation_checkpointing"}
    for new, old in renames.items():
        if new in kwargs and new not in accepted:
            kwargs[old] = kwargs.pop(new)
    if "gradient_checkpointing" in kwargs and "activation_checkpointing" in accepted:
        kwargs["activation_checkpointing"] = kwargs.pop("gradient_checkpointing")
    if "warmup_ratio" in kwargs and "warmup_ratio" not in accepted:
        kwargs["warmup_steps"] = float(kwargs.pop("warmup_ratio"))
    if "eval_on_start" not in accepted:
        kwargs.pop("eval_on_start", None)
    if "group_by_length" in kwargs and "group_by_length" not in accepted:
        kwargs["train_sampling_strategy"] = "group_by_length" if kwargs.pop("group_by_length") else "random"
    return TrainingArguments(**kwargs)


def make_trainer(model, tokenizer, **kwargs) -> Trainer:
    """A Trainer; the tokenizer is ``processing_class`` since 4.46 (``tokenizer`` before)."""
    accepted = inspect.signature(Trainer.__init__).parameters
    key = "processing_class" if "processing_class" in accepted else "tokenizer"
    return Trainer(model=model, **{key: tokenizer}, **kwargs)


class ScoredPositions:
    """A collator's batches plus ``logits_to_keep``: True at each position whose next token is in the loss.

    A causal LM then projects only those positions onto its vocabulary. In a (context, response) row only the
    response is scored, so the context's logits, most of a row and for a small model most of a step's work (the
    vocabulary projection outweighs its blocks), are never computed: 1.8x a fine-tuning step of the shipped stand-in
    on 2 CPU cores (38% of its padded positions are scored). `scored_loss` reads the logits this gives."""

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, rows):
        batch = self.collator(rows)
        keep = torch.zeros_like(batch["labels"], dtype=torch.bool)
        keep[:, :-1] = batch["labels"][:, 1:] != IGNORE  # position t predicts token t + 1
        return {**batch, "logits_to_keep": keep}


def scored_loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """The causal LM loss from the logits of the scored positions only ([N, V], in row order; `ScoredPositions`):
    the same number as the model's own loss over every position. Summed over `num_items_in_batch` tokens when the
    Trainer counts them across accumulated batches, else the mean."""
    targets = labels[:, 1:][labels[:, 1:] != IGNORE]
    logits = outputs.logits.float()
    if num_items_in_batch is None:
        return F.cross_entropy(logits, targets)
    return F.cross_entropy(logits, targets, reduction="sum") / num_items_in_batch


def loss_on_scored_positions(model, collator) -> dict:
    """`make_trainer`'s ``data_collator`` and ``compute_loss_func`` for `model`: the scored positions only where
    the model can project a boolean mask of positions (transformers' `slice_logits_to_keep`), else the collator
    as it is and the model's own loss."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a LoRA-wrapped model
    takes_mask = (hasattr(transformers.modeling_utils, "slice_logits_to_keep")
                  and "logits_to_keep" in inspect.signature(inner.forward).parameters
                  and not getattr(inner.config, "is_encoder_decoder", False))
    if not takes_mask:
        return {"data_collator": collator}
    return {"data_collator": ScoredPositions(collator), "compute_loss_func": scored_loss}


def batch_loss(model, batch: dict, compute_loss_func=None) -> torch.Tensor:
    """The mean loss of `model` on a collated `batch`, as Trainer takes it: through `compute_loss_func` (the one
    `loss_on_scored_positions` gives) with the labels held back from the model, else the model's own loss. For a
    training step written by hand, as the benchmarks write theirs."""
    if compute_loss_func is None:
        return model(**batch).loss
    inputs = dict(batch)
    labels = inputs.pop("labels")
    return compute_loss_func(model(**inputs), labels)


def precision_flags(choice: str) -> dict[str, bool]:
    """``fp16``/``bf16`` arguments for a mixed-precision choice; on a CPU always full precision (fp32). "auto" is bf16
    where the GPU has it natively (`profile.native_bf16`), else fp16 (a Colab T4)."""
    if choice not in PRECISIONS:
        raise ValueError(f"mixed_precision must be one of {PRECISIONS}, got {choice!r}")
    if not torch.cuda.is_available() or choice == "no":
        return {}
    bf16 = choice == "bf16" or (choice == "auto" and native_bf16())  # a T4 emulates bf16: fp16 there
    return {"bf16": True} if bf16 else {"fp16": True}


class StopOnNonFiniteLoss(TrainerCallback):
    """Stops training at the first NaN or infinite loss (training or dev) with `TrainingDiverged`, naming the step:
    a diverged run would otherwise go on for its whole budget and its "best checkpoint" would mean nothing. Needs
    ``logging_nan_inf_filter=False``, or the Trainer replaces a non-finite training loss by the mean of the others."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "eval_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(value):
                raise TrainingDiverged(f"the {'dev' if key == 'eval_loss' else 'training'} loss is {value} at step "
                                       f"{state.global_step}: training stopped (lower the learning rate, or check "
                                       "the data for empty rows)")
