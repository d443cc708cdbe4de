"""Fine-tuning a language model on (context, response) pairs with `transformers`' Trainer.

Fine-tuning continues the training of a model that already knows the language, on a small set of examples of the
one task we want: here, given a conversation so far, write the support agent's next message. The loss is on the
response only (`rows`); the dev loss decides when to stop and which checkpoint to keep.

Causal LMs (GPT-2 family) are the default; encoder-decoder models (T5, BART) work through the same calls, the
context going to the encoder (`rows`). Everything that differs between transformers versions (argument names that
were renamed, values whose meaning changed) is handled in `hf_training`, nowhere else.
"""

from __future__ import annotations

import ast
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer,
                          EarlyStoppingCallback, PrinterCallback, TrainerCallback, TrainingArguments)
from transformers.trainer_utils import get_last_checkpoint

from heygen_lib import distributed
from heygen_lib.data.pairs import Pair
from heygen_lib.data.dialogue_format import DialogueFormat, add_format_tokens
from heygen_lib.nlg.hf_training import (PRECISIONS, StopOnNonFiniteLoss, loss_on_scored_positions, make_trainer,
                                        precision_flags, training_arguments)
from heygen_lib.nlg.rows import RowReport, collator_for, encode_pairs
from heygen_lib.nlg.standin import standin_dir
from heygen_lib.paths import artifacts_dir
from heygen_lib.profile import NlgSizes, Profile, active_profile
from heygen_lib.profile import device as default_device
from heygen_lib.quiet import quiet_file_progress
from heygen_lib.settings import model_name_or_folder
from heygen_lib.tiny_models import build_tiny_causal_lm

FREEZE_STRATEGIES = ("none", "top-k", "head", "lora")
OPTIMIZERS = {"adamw": "adamw_torch", "sgd": "sgd"}  # our name -> Trainer's `optim`


def model_dir() -> Path:
    """Where notebook 05 saves the fine-tuned model and tokenizer, and notebook 06 loads them from."""
    return artifacts_dir() / "nlg" / "model"


MODEL_ENV = "HEYGEN_MODEL"  # a hub name or folder to fine-tune instead of the profile's choice


def base_model(profile: Profile | None = None) -> str:
    """The model fine-tuning starts from, as a name or folder for `load_model`: ``HEYGEN_MODEL`` when set (e.g.
    ``distilgpt2`` on a CPU with a reachable hub), else the profile's hub model (full: distilgpt2), else the small
    GPT-2 the kit ships (`standin.standin_dir`, checked against the kit before it is used)."""
    chosen = os.environ.get(MODEL_ENV, "").strip()
    if chosen:
        return model_name_or_folder(chosen, MODEL_ENV)  # a missing folder or no network: one line, at once
    profile = profile or active_profile()
    return profile.nlg.model or str(standin_dir())


def tiny_base_dir() -> Path:
    """Where the tiny offline GPT-2 (the smoke profile's stand-in for distilgpt2) is built."""
    return artifacts_dir() / "nlg" / "tiny-base"


@dataclass
class FineTuneConfig:
    """Hyperparameters of one fine-tuning run. The defaults are the usual starting point for a GPT-2-sized model: the
    full profile's (`NlgSizes`, their one home); `profile_config` takes a profile's own."""

    optimizer: str = "adamw"  # "adamw" (Adam, decoupled weight decay) | "sgd" (plain, no momentum: wants a higher lr)
    learning_rate: float = NlgSizes.learning_rate  # peak rate, reached after warm-up (5e-5 for distilgpt2)
    warmup_ratio: float = 0.1  # share of the optimizer steps spent raising the rate linearly from 0 to its peak
    lr_scheduler: str = NlgSizes.lr_scheduler  # after warm-up: "linear" decay to 0, "cosine", or "constant"
    # rows per forward pass, summed over processes: under torchrun each of N processes takes batch_size / N
    batch_size: int = NlgSizes.batch_size
    gradient_accumulation: int = 1  # forward passes per optimizer step: the effective batch is batch_size x this
    epochs: float = NlgSizes.epochs  # passes over the training rows; an upper bound, early stopping may end sooner
    max_steps: int | None = None  # optimizer steps; when set it replaces `epochs` (the learning curve's budget)
    weight_decay: float = 0.01  # decoupled decay of the weight matrices (Trainer exempts biases and norms)
    dropout: float | None = None  # None keeps the model's own (GPT-2: 0.1); a number sets every dropout layer
    # dev evaluations without a better dev loss before stopping; 0: never stop early
    early_stopping_patience: int = NlgSizes.patience
    # How much lower (in nats) a dev loss must be to count as better: 0.05 nats is 5% perplexity. Above 0, a run
    # whose dev loss only creeps down stops too, where the next epochs would buy almost nothing.
    early_stopping_threshold: float = NlgSizes.min_improvement
    # dev-loss evaluations per epoch; each also saves a checkpoint to pick the best from. 0: none, for a run with a
    # fixed budget (the learning curve's): it takes all its steps and keeps its last weights.
    evals_per_epoch: int = 4
    # Which parameters train. "none": all of them. "top-k": the top `top_k` transformer blocks (of the decoder, in
    # an encoder-decoder), the final layer norm and the LM head. "head": the LM head only. GPT-2 ties its LM head to
    # the input token embedding (one matrix), so training the head also changes the embedding of every input token,
    # in "top-k" and "head" alike. "lora": every weight frozen, a trained low-rank update beside each linear layer
    # (`heygen_lib.nlg.lora`), merged back into the weights when training ends.
    freeze: str = "none"
    top_k: int = 2  # blocks trained when freeze == "top-k" (distilgpt2 has 6)
    lora_rank: int = 8  # rank r of each LoRA update (freeze == "lora"); its scale is lora_alpha / r
    lora_alpha: float = 16.0
    max_length: int = NlgSizes.max_length  # tokens per row; longer pairs lose their oldest context first (`rows`)
    seed: int = 0  # data order and dropout (Trainer seeds python, numpy and torch with it)
    mixed_precision: str = "auto"  # "auto": bf16 on GPUs that have it, else fp16; "no", "fp16", "bf16"; CPU: fp32
    gradient_checkpointing: bool = False  # recompute activations during backward: less memory, more time
    group_by_length: bool = True  # batch rows of similar length: less padding, slightly less random batches
    logging_steps: int = 5  # optimizer steps between training-loss records
    report_to: str = "none"  # "none" or "tensorboard" (event files under output_dir/runs); never a surprise wandb
    # checkpoints also keep optimizer, scheduler and random states, and a run continues from the newest checkpoint
    # in output_dir (an interrupted run, started again, ends where it would have ended)
    resume: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.freeze not in FREEZE_STRATEGIES:
            raise ValueError(f"freeze must be one of {FREEZE_STRATEGIES}, got {self.freeze!r}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {PRECISIONS}, got {self.mixed_precision!r}")
        if self.report_to not in ("none", "tensorboard"):
            raise ValueError(f"report_to must be 'none' or 'tensorboard', got {self.report_to!r}")
        for name in ("batch_size", "gradient_accumulation", "logging_steps", "top_k", "lora_rank"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.evals_per_epoch < 0:
            raise ValueError(f"evals_per_epoch must be at least 0, got {self.evals_per_epoch}")
        if self.evals_per_epoch == 0 and (self.early_stopping_patience or self.resume):
            raise ValueError("early stopping and resuming read what each dev evaluation writes: with "
                             "evals_per_epoch=0 set early_stopping_patience=0 and resume=False")
        if self.max_steps is None and self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1 (or None to use epochs), got {self.max_steps}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.early_stopping_threshold < 0:
            raise ValueError(f"early_stopping_threshold must be at least 0, got {self.early_stopping_threshold}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1) or None, got {self.dropout}")


@dataclass
class FineTuneResult:
    """What a run did: its loss records, the best dev loss, and how far it went."""

    history: list[dict] = field(repr=False)  # {"phase": "train"|"dev", "step", "epoch", "loss"(, "lr")} per record
    # mean per-batch dev loss of the kept checkpoint (perplexity: `evaluate.perplexity`); NaN without dev evaluations
    best_dev_loss: float
    best_step: int  # optimizer step of the kept checkpoint (compare its loss with the step-0 record: before)
    steps: int  # optimizer steps taken
    planned_steps: int  # steps the budget allowed
    stopped_early: bool
    train_rows: RowReport
    dev_rows: RowReport
    trainable_parameters: int
    seconds: float


def tokenizer_texts(pairs: Sequence[Pair]) -> list[str]:
    """Every distinct turn of the pairs as ``"speaker: text"``: what a tiny model's tokenizer is trained on."""
    turns = (t for p in pairs for t in (*p.context, p.response))
    return list(dict.fromkeys(f"{t.speaker}: {t.text}" for t in turns))


def load_model(
    name_or_folder: str | Path | None, train_texts: Sequence[str] | None = None,
    device: str | torch.device | None = None,
):
    """(model, tokenizer) from a hub name or a folder, with the dialogue format's tokens added: a causal LM, or an
    encoder-decoder (``AutoModelForSeq2SeqLM``) when the config says it is one (T5, BART).

    None builds the tiny offline GPT-2 (`build_tiny_causal_lm`, tokenizer trained on `train_texts`, e.g.
    `tokenizer_texts(train_pairs)`) under `tiny_base_dir()` and loads it through the same ``from_pretrained`` path.
    The model goes to `device` (default: the GPU when there is one).
    """
    if name_or_folder is None:
        if not train_texts:
            raise ValueError("building the tiny offline model needs train_texts to train its tokenizer on")
        name_or_folder = build_tiny_causal_lm(train_texts, tiny_base_dir())
    tokenizer = AutoTokenizer.from_pretrained(name_or_folder)
    config = AutoConfig.from_pretrained(name_or_folder)
    with quiet_file_progress():
        if config.is_encoder_decoder:
            model = AutoModelForSeq2SeqLM.from_pretrained(name_or_folder, config=config)
        else:
            model = AutoModelForCausalLM.from_pretrained(name_or_folder, config=config)
    if not config.is_encoder_decoder:
        model.loss_type = "ForCausalLM"  # what transformers 5 uses anyway, after warning that GPT-2 leaves it unset
    add_format_tokens(tokenizer, model)
    return model.to(device or default_device()), tokenizer


def save_model(model, tokenizer, folder: str | Path) -> Path:
    """Save model and tokenizer where ``from_pretrained(folder)`` (and `load_model(folder)`) reads them back."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_file_progress():
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """Set every dropout layer's probability to `p`, and the config's dropout fields so a saved model keeps it."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
    for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "dropout", "dropout_rate", "attention_dropout",
                 "activation_dropout", "hidden_dropout"):
        if isinstance(getattr(model.config, name, None), float):
            setattr(model.config, name, p)


def context_window(model: torch.nn.Module) -> int | None:
    """How many positions the model reads (GPT-2: ``n_positions``; most others: ``max_position_embeddings``), or
    None when its config does not say."""
    config = model.config
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def is_seq2seq(model: torch.nn.Module) -> bool:
    """Whether `model` is an encoder-decoder (T5, BART, Marian) rather than a causal LM."""
    return bool(getattr(model.config, "is_encoder_decoder", False))


def _stack(model: torch.nn.Module) -> torch.nn.Module:
    """The module holding the blocks that write the output: the decoder of an encoder-decoder, else the base."""
    return model.get_decoder() if is_seq2seq(model) else model.base_model


def transformer_blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The model's stack of transformer blocks (GPT-2: ``transformer.h``; Llama-style: ``model.layers``; an
    encoder-decoder's decoder: ``block`` in T5, ``layers`` in BART and Marian)."""
    stack = _stack(model)
    for name in ("h", "layers", "blocks", "block"):
        blocks = getattr(stack, name, None)
        if isinstance(blocks, torch.nn.ModuleList):
            return blocks
    raise ValueError(f"cannot find the transformer blocks of {type(model).__name__}; freeze='none' still works")


def freeze_layers(model: torch.nn.Module, strategy: str, top_k: int = 2) -> int:
    """Make only the parameters `strategy` trains require gradients (see `FineTuneConfig.freeze`); returns their
    number. Frozen parameters get no gradient, so the optimizer never changes them."""
    if strategy not in FREEZE_STRATEGIES or strategy == "lora":  # LoRA adds parameters: `fine_tune` does it
        raise ValueError(f"freeze_layers takes one of {FREEZE_STRATEGIES[:-1]}, got {strategy!r}")
    train_all = strategy == "none"
    for parameter in model.parameters():
        parameter.requires_grad_(train_all)
    if not train_all:
        trained = [model.get_output_embeddings()]
        if strategy == "top-k":
            blocks = transformer_blocks(model)
            if not 1 <= top_k <= len(blocks):
                raise ValueError(f"top_k must be between 1 and {len(blocks)} (the model's blocks), got {top_k}")
            trained += list(blocks[-top_k:])
            trained += [m for name in ("ln_f", "norm", "final_layer_norm", "layer_norm")
                        if isinstance(m := getattr(_stack(model), name, None), torch.nn.Module)]
        for module in trained:
            for parameter in module.parameters():
                parameter.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def steps_per_epoch(train_rows: int, config: FineTuneConfig) -> int:
    """Optimizer steps in one pass over `train_rows` rows."""
    return max(1, math.ceil(math.ceil(train_rows / config.batch_size) / config.gradient_accumulation))


def checkpoint_to_resume(output_dir: Path) -> str | None:
    """The newest ``checkpoint-N`` in `output_dir`, None on a fresh run. The folder may not exist yet, even under
    torchrun on a process other than rank 0: the Trainer creates it only in the process that saves."""
    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


def planned_steps(train_rows: int, config: FineTuneConfig) -> int:
    """Optimizer steps the config allows for `train_rows` rows: `max_steps`, or `epochs` worth of steps."""
    if config.max_steps is not None:
        return config.max_steps
    return max(1, math.ceil(steps_per_epoch(train_rows, config) * config.epochs))


class _Records(TrainerCallback):
    """Turns the Trainer's log calls into history records and hands each to the sinks (e.g. a `LivePlot`)."""

    def __init__(self, sinks: Sequence[Callable[[dict], None]]):
        self.sinks, self.history = list(sinks), []

    def on_log(self, args, state, control, logs=None, **kwargs):
        record = self.record(logs or {}, state.global_step, state.epoch)
        if record is None:
            return  # the end-of-training summary repeats what the records already hold
        self.history.append(record)
        for sink in self.sinks:
            sink(record)

    @staticmethod
    def record(logs: dict, step: int, epoch: float | None) -> dict | None:
        base = {"step": step, "epoch": round(epoch or 0.0, 3)}
        if "loss" in logs:
            return {"phase": "train", **base, "loss": float(logs["loss"]), "lr": float(logs.get("learning_rate", 0))}
        if "eval_loss" in logs:
            return {"phase": "dev", **base, "loss": float(logs["eval_loss"])}
        return None


class _KnownNotices(logging.Filter):
    """Drops two Trainer warnings that need no action here: that tied weights (GPT-2's LM head is its input
    embedding) are missing from the best checkpoint, where they are stored once and loading restores all their
    names; and that checkpoints saved less than a second apart are ordered by step number, not file time."""

    MISSING = "There were missing keys in the checkpoint model loaded: "

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        owners: dict[int, list[str]] = {}
        for name, parameter in model.named_parameters(remove_duplicate=False):
            owners.setdefault(id(parameter), []).append(name)
        self.tied = {name for names in owners.values() if len(names) > 1 for name in names}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.MISSING):
            try:
                missing = set(ast.literal_eval(message[len(self.MISSING) :].rstrip(".")))
            except (ValueError, SyntaxError):
                return True
            return not missing <= self.tied
        return "mtime may not be reliable" not in message


def trainer_arguments(config: FineTuneConfig, output_dir: Path, total: int, every: int,
                      progress: bool = True) -> TrainingArguments:
    """The `TrainingArguments` of one fine-tuning run: `total` optimizer steps, the dev loss every `every` steps
    (and once before training), a checkpoint at each evaluation and the best one loaded at the end; with `every` 0,
    no evaluation and no checkpoint (the last weights are the result)."""
    evaluate = every > 0
    return training_arguments(
        output_dir=str(output_dir), seed=config.seed, data_seed=config.seed,
        optim=OPTIMIZERS[config.optimizer], learning_rate=config.learning_rate, weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler, warmup_ratio=config.warmup_ratio,
        per_device_train_batch_size=distributed.per_process_batch(config.batch_size),
        per_device_eval_batch_size=distributed.per_process_batch(config.batch_size),
        gradient_accumulation_steps=config.gradient_accumulation, max_steps=total,
        eval_strategy="steps" if evaluate else "no", eval_steps=every or None, eval_on_start=evaluate,
        save_strategy="steps" if evaluate else "no", save_steps=every or None, save_total_limit=1,
        save_only_model=not config.resume, load_best_model_at_end=evaluate,
        metric_for_best_model="eval_loss" if evaluate else None, greater_is_better=False,
        logging_strategy="steps", logging_steps=config.logging_steps, logging_nan_inf_filter=False,
        report_to=config.report_to,
        gradient_checkpointing=config.gradient_checkpointing, group_by_length=config.group_by_length,
        remove_unused_columns=False, dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available(),  # without it, processes on CPUs would each train alone, not together
        ddp_find_unused_parameters=False,  # frozen parameters need no gradient; the others are all used
        **precision_flags(config.mixed_precision),
    )


def fine_tune(
    model, tokenizer, train: Sequence[Pair], dev: Sequence[Pair], config: FineTuneConfig, output_dir: str | Path,
    callbacks: Sequence = (), progress: bool = True, fmt: DialogueFormat = DialogueFormat(),
) -> FineTuneResult:
    """Fine-tune `model` in place on `train`, evaluating the dev loss `evals_per_epoch` times per epoch; stop after
    `early_stopping_patience` evaluations without improvement and keep the weights of the best dev loss.

    `callbacks`: functions called with every loss record (a `LivePlot`), or `TrainerCallback`s for the Trainer.
    `output_dir` receives checkpoints while training (removed at the end: only the best weights, loaded back into
    `model`, matter) and TensorBoard event files when ``report_to="tensorboard"``.

    Under torchrun or ``accelerate launch`` every process calls this with the same arguments; Trainer splits each
    batch over them (`distributed`) and only rank 0 writes checkpoints and event files.
    """
    if not train or not dev:
        raise ValueError(f"fine-tuning needs training and dev pairs, got {len(train)} and {len(dev)}")
    output_dir = Path(output_dir)
    started = time.perf_counter()
    if config.dropout is not None:
        set_dropout(model, config.dropout)
    trained = model
    if config.freeze == "lora":
        from heygen_lib.nlg.lora import with_lora

        trained = with_lora(model, tokenizer, config.lora_rank, config.lora_alpha, seed=config.seed)
        trainable = sum(p.numel() for p in trained.parameters() if p.requires_grad)
    else:
        trainable = freeze_layers(model, config.freeze, config.top_k)
    train_rows, train_report = encode_pairs(tokenizer, train, config.max_length, fmt, is_seq2seq(model))
    dev_rows, dev_report = encode_pairs(tokenizer, dev, config.max_length, fmt, is_seq2seq(model))
    total = planned_steps(len(train_rows), config)
    every = 0 if not config.evals_per_epoch else min(
        total, max(1, steps_per_epoch(len(train_rows), config) // config.evals_per_epoch))
    args = trainer_arguments(config, output_dir, total, every, progress)
    records = _Records([c for c in callbacks if not isinstance(c, TrainerCallback)])
    trainer_callbacks = [records, StopOnNonFiniteLoss(), *(c for c in callbacks if isinstance(c, TrainerCallback))]
    if config.early_stopping_patience:
        trainer_callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience,
                                                       early_stopping_threshold=config.early_stopping_threshold))
    trainer = make_trainer(trained, tokenizer, args=args, train_dataset=train_rows, eval_dataset=dev_rows,
                           callbacks=trainer_callbacks, **loss_on_scored_positions(trained, collator_for(tokenizer)))
    if not progress:
        trainer.remove_callback(PrinterCallback)  # it would print every log record
    if every and not getattr(args, "eval_on_start", False):  # a step-0 record, the dev loss before fine-tuning
        trainer.evaluate()
    loggers = [logging.getLogger(f"transformers.{name}") for name in ("trainer", "trainer_utils")]
    notices = _KnownNotices(model)
    for log in loggers:
        log.addFilter(notices)
    try:
        with quiet_file_progress():
            trainer.train(resume_from_checkpoint=checkpoint_to_resume(output_dir) if config.resume else None)
    finally:
        for log in loggers:
            log.removeFilter(notices)
    if config.freeze == "lora":
        from heygen_lib.nlg.lora import merge_lora

        merge_lora(trained)  # `model` holds the merged weights: a plain model again
    distributed.wait_for_everyone()  # every process has loaded the best checkpoint before rank 0 removes it
    if distributed.is_main():
        for checkpoint in output_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint)
    if config.resume:  # the records from before an interruption live in the restored Trainer state
        records.history = [r for e in trainer.state.log_history
                           if (r := _Records.record(e, e.get("step", 0), e.get("epoch"))) is not None]
    # The Trainer kept the checkpoint with the lowest dev loss (the first, on a tie); the model before
    # fine-tuning (step 0) is no checkpoint, so it is never the one kept.
    saved = [(r["loss"], r["step"]) for r in records.history if r["phase"] == "dev" and r["step"] > 0]
    # at least one when evaluating: the first evaluation is at step min(total, every)
    best_loss, best_step = min(saved) if every else (math.nan, trainer.state.global_step)
    model.eval()
    return FineTuneResult(
        history=records.history, best_dev_loss=best_loss, best_step=best_step, steps=trainer.state.global_step,
        planned_steps=total, stopped_early=trainer.state.global_step < total, train_rows=train_report,
        dev_rows=dev_report, trainable_parameters=trainable, seconds=time.perf_counter() - started,
    )


def fixed_budget(config: FineTuneConfig, epochs: float) -> FineTuneConfig:
    """`config` for runs that must differ in one thing only (the learning curve's data, the freezing table's
    layers): `epochs` passes' worth of steps, all of them taken, and the last weights kept; no dev evaluation, so
    no early stopping and no checkpoint chosen by the dev loss."""
    return replace(config, epochs=epochs, evals_per_epoch=0, early_stopping_patience=0, report_to="none")


def profile_config(sizes: NlgSizes, seed: int = 0, **changes) -> FineTuneConfig:
    """The fine-tuning config of a profile's sizes: what notebook 05's main run and `ensure_finetuned_model` use."""
    return FineTuneConfig(learning_rate=sizes.learning_rate, lr_scheduler=sizes.lr_scheduler, epochs=sizes.epochs,
                          batch_size=sizes.batch_size, max_length=sizes.max_length,
                          early_stopping_patience=sizes.patience, early_stopping_threshold=sizes.min_improvement,
                          seed=seed, **changes)


def is_saved_model(folder: str | Path) -> bool:
    """Whether `folder` holds a model and tokenizer that `load_model` can read."""
    folder = Path(folder)
    return (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file() and any(
        folder.glob("*.safetensors"))


def ensure_finetuned_model(profile: Profile | None = None) -> Path:
    """Notebook 05's fine-tuned model (`model_dir`), for notebook 06. When notebook 05 has not saved one, fine-tune
    `base_model(profile)` on the support set's training pairs with the profile's settings, save it there, and say so
    in one line."""
    folder = model_dir()
    if is_saved_model(folder):
        return folder
    from heygen_lib.data.prepare import prepare_pairs

    profile = profile or active_profile()
    base = base_model(profile)
    prepared = prepare_pairs("support")
    model, tokenizer = load_model(base)
    result = fine_tune(model, tokenizer, prepared.train, prepared.dev, profile_config(profile.nlg),
                       artifacts_dir() / "nlg" / "runs" / "quick", progress=False)
    save_model(model, tokenizer, folder)
    shown = Path(base).name if Path(base).is_dir() else base
    print(f"notebook 05 has not saved a model yet: fine-tuned {shown} on {len(prepared.train)} pairs for "
          f"{result.steps} steps ({result.seconds:.0f} s) and saved it to artifacts/nlg/model")
    return folder
