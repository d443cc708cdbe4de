"""Pretraining a small GPT-2 on open-domain conversation, so that the smoke profile fine-tunes a model that already
speaks (notebook 05) instead of random weights.

The recipe is GPT-2's, shrunk to a CPU: a byte-level BPE tokenizer, a decoder-only transformer, and the **causal
language-modelling loss** (predict every next token) on **packed blocks**: the tokenised conversations are joined
end to end, each closed by ``<|endoftext|>``, and cut into blocks of ``block_size`` tokens, so no position is
padding. The corpus is the Chit-Chat Challenge's ~7,000 open-domain chats (`chitchat-dataset`, installed with the
kit), each rendered in the kit's dialogue format (`DialogueFormat.conversation`) so that the model meets the
special tokens where fine-tuning puts them. The tokenizer is trained on that text and on the support set's
**training** conversations (never dev or test: the kit's split by conversation decides), so support words such as
"parcel" are single tokens.

Training runs through `transformers`' `Trainer`, the same path as fine-tuning, with fixed seeds. The result is
cached in ``artifacts/pretrained`` with a manifest (corpus hash, config, transformers version, then steps, final
loss, seconds): `ensure_pretrained` reuses a folder whose manifest matches the recipe and rebuilds it otherwise.
``python -m heygen_lib.nlg.pretrain`` builds it outside Jupyter.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import transformers
from tqdm.auto import tqdm
from transformers import (GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, PrinterCallback,
                          TrainerCallback)

from heygen_lib.data.cleaning import clean_dialogues
from heygen_lib.data.loaders import load_chitchat, load_support_set
from heygen_lib.data.pairs import split_dialogues
from heygen_lib.nlg.dialogue_format import DialogueFormat
from heygen_lib.nlg.finetune import (StopOnNonFiniteLoss, _trainer, collator_for, precision_flags,
                                     quiet_file_progress, training_arguments)
from heygen_lib.paths import artifacts_dir, shown_path
from heygen_lib.profile import PretrainSizes, active_profile
from heygen_lib.tiny_models import train_tokenizer

MANIFEST = "manifest.json"  # written last: its presence means the folder is complete


@dataclass(frozen=True)
class PretrainConfig:
    """The stand-in's shape and its pretraining budget. The defaults: about 1.6M parameters, a few minutes on 2 CPU
    cores (distilgpt2: 82M parameters, pretrained on billions of tokens)."""

    vocab_size: int = 6000  # byte-level BPE merges target (GPT-2: 50,257)
    layers: int = 4  # transformer blocks (distilgpt2: 6)
    d_model: int = 128  # width of every token's vector (distilgpt2: 768)
    heads: int = 4  # attention heads; must divide d_model
    block_size: int = 256  # tokens per packed block; also the model's context window (n_positions)
    dropout: float = 0.0  # one pass over little data: nothing to regularise yet (fine-tuning sets its own)
    batch_size: int = 8  # blocks per optimizer step: 8 x 256 = 2,048 tokens
    # optimizer steps (1.2M tokens at the defaults, ~2.5 minutes on 2 CPU cores). Measured over all 88 support test
    # contexts after the smoke fine-tuning, 3 seeds: 200 steps gave test perplexity 141 and median greedy replies of
    # 5 words (52% repeats); 600 steps give 119-121 and 12-17 words (15-35% repeats).
    max_steps: int = 600
    learning_rate: float = 2e-3  # a small model from scratch takes a high rate; distilgpt2-sized ones ~6e-4
    warmup_ratio: float = 0.05  # share of the steps spent raising the rate from 0
    weight_decay: float = 0.01
    conversations: int | None = None  # Chit-Chat conversations to read (None: all ~7,000)
    dev_blocks: int = 24  # held-out Chit-Chat blocks (never trained on) whose loss is measured during training
    evals: int = 4  # held-out evaluations after the one before training
    split_seed: int = 0  # the support set's train/dev/test split (the kit's default, as in notebooks 01-06)
    seed: int = 0  # weight initialisation and data order

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide d_model ({self.d_model})")
        for name in ("vocab_size", "layers", "block_size", "batch_size", "max_steps", "evals"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class PretrainCorpus:
    """What pretraining reads: the texts the model trains on, and the texts its tokenizer is trained on."""

    lm_texts: list[str]  # Chit-Chat conversations in the dialogue format, one text each
    tokenizer_texts: list[str]  # the same, plus the support set's training conversations

    def sha256(self) -> str:
        payload = json.dumps([self.lm_texts, self.tokenizer_texts], ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(payload).hexdigest()


def config_for(sizes: PretrainSizes | None = None) -> PretrainConfig:
    """The pretraining config of a profile's sizes (default: the active profile's)."""
    sizes = sizes or active_profile().pretrain
    return PretrainConfig(max_steps=sizes.steps, conversations=sizes.conversations)


def pretrained_dir() -> Path:
    """Where the stand-in is built and cached (shared by notebooks 04, 05 and 06)."""
    return artifacts_dir() / "pretrained"


def build_corpus(config: PretrainConfig, fmt: DialogueFormat = DialogueFormat()) -> PretrainCorpus:
    """Chit-Chat (cleaned like every corpus of the kit) for the model; plus the support set's training split, and
    nothing of its dev or test split, for the tokenizer."""
    chitchat, _ = clean_dialogues(load_chitchat(limit=config.conversations))
    support, _ = clean_dialogues(load_support_set())
    support_train = split_dialogues(support, seed=config.split_seed).train
    lm_texts = [fmt.conversation(d.turns) for d in chitchat]
    return PretrainCorpus(lm_texts, lm_texts + [fmt.conversation(d.turns) for d in support_train])


def pack_blocks(token_lists: Sequence[Sequence[int]], block_size: int) -> list[dict[str, list[int]]]:
    """Join the token lists end to end and cut them into full blocks of `block_size` (the tail that does not fill
    a block is dropped). Labels are the inputs: the model shifts them by one, so position t predicts token t + 1."""
    stream = [token for tokens in token_lists for token in tokens]
    return [{"input_ids": stream[i : i + block_size], "labels": stream[i : i + block_size]}
            for i in range(0, len(stream) - block_size + 1, block_size)]


def build_tokenizer(texts: Sequence[str], config: PretrainConfig,
                    fmt: DialogueFormat = DialogueFormat()) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with the dialogue format's special tokens as its first ids."""
    specials = [fmt.eos_token, fmt.pad_token, fmt.turn_token, fmt.response_token]
    return PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(texts, config.vocab_size, specials), model_max_length=config.block_size,
        eos_token=fmt.eos_token, bos_token=fmt.eos_token, pad_token=fmt.pad_token,
        additional_special_tokens=[fmt.turn_token, fmt.response_token],
    )


def init_model(tokenizer: PreTrainedTokenizerFast, config: PretrainConfig, seed: int | None = None) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 of the config's shape (GPT-2's own initialisation), the same for the same seed."""
    gpt2 = GPT2Config(
        vocab_size=len(tokenizer), n_positions=config.block_size, n_embd=config.d_model, n_layer=config.layers,
        n_head=config.heads, resid_pdrop=config.dropout, embd_pdrop=config.dropout, attn_pdrop=config.dropout,
        activation_function="gelu_pytorch_tanh",
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed if seed is None else seed)
        model = GPT2LMHeadModel(gpt2)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model.loss_type = "ForCausalLM"
    return model


class _ProgressBar(TrainerCallback):
    """One tqdm bar over the optimizer steps, closed when training ends, with the last training loss beside it."""

    def __init__(self, total: int, enabled: bool):
        self.bar = tqdm(total=total, desc="pretraining", unit="step", disable=not enabled)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}", refresh=False)

    def close(self) -> None:
        self.bar.close()


class _History(TrainerCallback):
    """Loss records: {"phase": "train"|"dev", "step", "loss"}."""

    def __init__(self):
        self.records: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        for key, phase in (("loss", "train"), ("eval_loss", "dev")):
            if key in logs:
                self.records.append({"phase": phase, "step": state.global_step, "loss": float(logs[key])})


def pretrain(config: PretrainConfig, folder: str | Path, progress: bool = True,
             corpus: PretrainCorpus | None = None, fmt: DialogueFormat = DialogueFormat()) -> dict:
    """Build the corpus and tokenizer, pretrain a fresh GPT-2 on packed blocks, save model and tokenizer to
    `folder` and write the manifest last. Returns the manifest. Stops with `TrainingDiverged` on a non-finite loss."""
    started = time.perf_counter()
    folder = Path(folder)
    corpus = corpus or build_corpus(config, fmt)
    tokenizer = build_tokenizer(corpus.tokenizer_texts, config, fmt)
    ids = tokenizer(corpus.lm_texts, add_special_tokens=False, verbose=False)["input_ids"]
    blocks = pack_blocks(ids, config.block_size)
    needed = config.dev_blocks + 1
    if len(blocks) < needed:
        raise ValueError(f"the corpus fills {len(blocks)} blocks of {config.block_size} tokens; pretraining needs "
                         f"at least {needed} (dev_blocks + 1): read more conversations or use smaller blocks")
    dev, train = blocks[: config.dev_blocks], blocks[config.dev_blocks :]
    model = init_model(tokenizer, config)
    every = max(1, config.max_steps // config.evals)
    checkpoints = folder.parent / f".{folder.name}-checkpoints"
    args = training_arguments(
        output_dir=str(checkpoints), seed=config.seed, data_seed=config.seed, optim="adamw_torch",
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, lr_scheduler_type="cosine",
        warmup_ratio=config.warmup_ratio, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, max_steps=config.max_steps,
        eval_strategy="steps", eval_steps=every, eval_on_start=True, save_strategy="no",
        logging_strategy="steps", logging_steps=max(1, config.max_steps // 30), logging_nan_inf_filter=False,
        report_to="none", group_by_length=False, remove_unused_columns=False, dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=True, **precision_flags("auto"),
    )
    history, bar = _History(), _ProgressBar(config.max_steps, progress)
    trainer = _trainer(model, tokenizer, args=args, data_collator=collator_for(tokenizer), train_dataset=train,
                       eval_dataset=dev, callbacks=[history, bar, StopOnNonFiniteLoss()])
    trainer.remove_callback(PrinterCallback)  # it would print every log record
    try:
        if not getattr(args, "eval_on_start", False):
            trainer.evaluate()
        trainer.train()
        trainer.evaluate()  # the held-out loss of the final weights
    finally:
        bar.close()
    model.eval()
    model.config.use_cache = True  # the Trainer turns the generation cache off while training
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    with quiet_file_progress():
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    train_losses = [r["loss"] for r in history.records if r["phase"] == "train"]
    manifest = {
        **recipe(config, corpus),
        "steps": trainer.state.global_step, "tokens": trainer.state.global_step * config.batch_size * config.block_size,
        "train_blocks": len(train), "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": train_losses[-1], "dev_loss": history.records[-1]["loss"],
        "seconds": round(time.perf_counter() - started, 1), "history": history.records,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def recipe(config: PretrainConfig, corpus: PretrainCorpus) -> dict:
    """What decides the weights: the manifest fields a cached folder must match to be reused."""
    return {"config": asdict(config), "corpus_sha256": corpus.sha256(), "transformers": transformers.__version__}


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a built folder, or None when there is none (never built, or interrupted)."""
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_pretrained(config: PretrainConfig | None = None, folder: str | Path | None = None,
                      progress: bool = True) -> Path:
    """The pretrained stand-in's folder (loadable with `finetune.load_model`): reused when its manifest matches
    `config` (default: the active profile's, `config_for`) and the corpus, pretrained afresh otherwise."""
    config = config or config_for()
    folder = Path(folder) if folder else pretrained_dir()
    corpus = build_corpus(config)
    manifest = read_manifest(folder)
    wanted = recipe(config, corpus)
    if manifest is None or any(manifest.get(key) != value for key, value in wanted.items()):
        # Every core, whatever the caller set: notebook 04 runs its small models on one thread, and pretraining on
        # one is 1.7x slower on 2 cores (0.83 against 0.48 s per step of 8 x 256 tokens).
        threads = torch.get_num_threads()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(cores)
        try:
            pretrain(config, folder, progress, corpus)
        finally:
            torch.set_num_threads(threads)
    return folder


def random_init_copy(folder: str | Path, seed: int | None = None) -> Path:
    """The stand-in's architecture and tokenizer with fresh random weights (never trained), saved beside it: the
    "from scratch" side of *what pretraining buys*. Same seed, same weights."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"{folder} holds no pretrained stand-in: call ensure_pretrained() first")
    config = replace(PretrainConfig(**manifest["config"]), **({} if seed is None else {"seed": seed}))
    target = folder.parent / f"{folder.name}-random-init"
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    model = init_model(tokenizer, config)
    target.mkdir(parents=True, exist_ok=True)
    with quiet_file_progress():
        model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def loss_to_perplexity(loss: float) -> float:
    """Perplexity of a mean per-token loss (nats): exp(loss), inf for a loss too large to exponentiate."""
    return math.exp(loss) if loss < 700 else math.inf


def main() -> None:
    """``python -m heygen_lib.nlg.pretrain``: build (or reuse) the active profile's stand-in and say what it is."""
    started = time.perf_counter()
    folder = ensure_pretrained()
    manifest = read_manifest(folder)
    print(f"{shown_path(folder)}: {manifest['parameters']:,} parameters, {manifest['steps']} steps ({manifest['tokens']:,} "
          f"tokens) in {manifest['seconds']:.0f} s when built; final training loss {manifest['final_loss']:.3f}, "
          f"held-out perplexity {loss_to_perplexity(manifest['dev_loss']):.1f}; this call: "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
