"""The plumbing between the kit and `transformers`' Trainer, shared by pretraining and fine-tuning.

Everything that differs between transformers versions (argument names that were renamed, values whose meaning
changed), the precision flags and the stop on a non-finite loss live here, once (with `heygen_lib.quiet` for the
per-file progress bars); `pretrain` and `finetune` import them and hold only their own recipe.
"""

from __future__ import annotations

import inspect
import math

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from heygen_lib.adversarial_state import TrainingDiverged
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
