"""Pretraining a small GPT-2 on open-domain conversation, so that the smoke profile fine-tunes a model that already
speaks (notebook 05) instead of random weights.

The recipe is GPT-2's, shrunk to a CPU: a byte-level BPE tokenizer, a decoder-only transformer, and the **causal
language-modelling loss** (predict every next token) on **packed blocks**: the tokenised conversations are joined
end to end, each closed by ``<|endoftext|>``, and cut into blocks of ``block_size`` tokens, so no position is
padding. The corpus is the Chit-Chat Challenge's open-domain chats (`chitchat-dataset`, installed with the kit),
each rendered in the kit's dialogue format (`DialogueFormat.conversation`) so that the model meets the special
tokens where fine-tuning puts them. The tokenizer is trained on that text and on the support set's **training**
conversations (never dev or test: the kit's split by conversation decides), so support words such as "parcel" are
single tokens.

Training runs through `transformers`' `Trainer`, the same path as fine-tuning, with fixed seeds, so the same command
on the same corpus gives the same weights. The kit ships the result (`heygen_lib.nlg.standin`): pretraining it takes
tens of minutes on 2 CPU cores, too long to repeat on every fresh machine. ``python -m heygen_lib.nlg.pretrain``
rebuilds it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import platform
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
from heygen_lib.data.loaders import SUPPORT_FILE, chitchat_path, load_chitchat, load_support_set
from heygen_lib.data.pairs import split_dialogues
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.hf_training import StopOnNonFiniteLoss, make_trainer, precision_flags, training_arguments
from heygen_lib.nlg.rows import collator_for
from heygen_lib.paths import artifacts_dir, data_dir, shown_path
from heygen_lib.quiet import quiet_file_progress
from heygen_lib.tiny_models import train_tokenizer

MANIFEST = "manifest.json"  # written last: its presence means the folder is complete
WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"
# Training losses recorded at every one of the first steps: a rebuild of these steps must match them (the cheap
# reproducibility check in the tests), without paying for the whole run.
FIRST_STEPS = 20


@dataclass(frozen=True)
class PretrainConfig:
    """The stand-in's shape and its pretraining budget: the defaults are the shipped stand-in's recipe, chosen by
    measuring fine-tuned replies (`notebooks/results/stand_in_sweep.md`); distilgpt2 has 82M parameters, pretrained
    on billions of tokens."""

    vocab_size: int = 6000  # byte-level BPE merges target (GPT-2: 50,257)
    layers: int = 4  # transformer blocks (distilgpt2: 6)
    d_model: int = 128  # width of every token's vector (distilgpt2: 768)
    heads: int = 4  # attention heads; must divide d_model
    block_size: int = 256  # tokens per packed block; also the model's context window (n_positions)
    dropout: float = 0.0  # a few passes over 3.6M tokens barely overfit (the held-out loss in the card says so)
    batch_size: int = 8  # blocks per optimizer step: 8 x 256 = 2,048 tokens
    max_steps: int = 5200  # optimizer steps: 10.6M tokens, about 3 passes over Chit-Chat
    learning_rate: float = 2e-3  # a small model from scratch takes a high rate; distilgpt2-sized ones ~6e-4
    warmup_ratio: float = 0.02  # share of the steps spent raising the rate from 0
    weight_decay: float = 0.01
    conversations: int | None = None  # Chit-Chat conversations to read (None: all)
    dev_blocks: int = 24  # held-out Chit-Chat blocks (never trained on) whose loss is measured during training
    evals: int = 20  # held-out evaluations after the one before training
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


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_hashes() -> dict[str, str]:
    """SHA-256 of the raw files the corpus is made from (Chit-Chat's JSON, the support set): checked in well under
    a second, where rebuilding the corpus and hashing it (`PretrainCorpus.sha256`) takes seconds."""
    return {"chitchat-dataset/dataset.json": file_sha256(chitchat_path()),
            f"data/{SUPPORT_FILE}": file_sha256(data_dir() / SUPPORT_FILE)}


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
    """Loss records, {"phase": "train"|"dev", "step", "loss"}: the training loss of each of the first `FIRST_STEPS`
    steps and then every `every` steps (the Trainer logs every step), each held-out evaluation; training stops after
    `stop_after` steps when set."""

    def __init__(self, every: int, stop_after: int | None = None):
        self.every, self.stop_after, self.records = every, stop_after, []

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs, step = logs or {}, state.global_step
        if "loss" in logs and (step <= FIRST_STEPS or step % self.every == 0 or step == state.max_steps):
            self.records.append({"phase": "train", "step": step, "loss": float(logs["loss"])})
        if "eval_loss" in logs:
            self.records.append({"phase": "dev", "step": step, "loss": float(logs["eval_loss"])})

    def on_step_end(self, args, state, control, **kwargs):
        if self.stop_after is not None and state.global_step >= self.stop_after:
            control.should_training_stop = True


def machine() -> dict:
    """Where a build ran: what a reader needs to compare its wall time with their own."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.machine()})"
    return {"device": device, "cores": cores, "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__}


def pretrain(config: PretrainConfig, folder: str | Path, progress: bool = True, corpus: PretrainCorpus | None = None,
             callbacks: Sequence[TrainerCallback] = (), stop_after: int | None = None,
             fmt: DialogueFormat = DialogueFormat()) -> dict:
    """Build the corpus and tokenizer, pretrain a fresh GPT-2 on packed blocks, save model and tokenizer to
    `folder` and write the manifest last. Returns the manifest. Stops with `TrainingDiverged` on a non-finite loss.

    `stop_after` ends training after that many steps of the same schedule (the reproducibility check rebuilds the
    first steps this way); `callbacks` are extra `TrainerCallback`s (e.g. saving snapshots along the way)."""
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
    checkpoints = folder.parent / f".{folder.name}-checkpoints"
    args = training_arguments(
        output_dir=str(checkpoints), seed=config.seed, data_seed=config.seed, optim="adamw_torch",
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, lr_scheduler_type="cosine",
        warmup_ratio=config.warmup_ratio, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, max_steps=config.max_steps,
        eval_strategy="steps", eval_steps=max(1, config.max_steps // config.evals), eval_on_start=True,
        save_strategy="no", logging_strategy="steps", logging_steps=1, logging_nan_inf_filter=False,
        report_to="none", group_by_length=False, remove_unused_columns=False, dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=True, **precision_flags("auto"),
    )
    history = _History(every=max(1, config.max_steps // 100), stop_after=stop_after)
    bar = _ProgressBar(stop_after or config.max_steps, progress)
    trainer = make_trainer(model, tokenizer, args=args, data_collator=collator_for(tokenizer), train_dataset=train,
                           eval_dataset=dev, callbacks=[history, bar, StopOnNonFiniteLoss(), *callbacks])
    trainer.remove_callback(PrinterCallback)  # it would print every log record
    try:
        if not getattr(args, "eval_on_start", False):
            trainer.evaluate()
        trainer.train()
    finally:
        bar.close()
    save_stand_in(model, tokenizer, folder, fmt)
    train_losses = [r for r in history.records if r["phase"] == "train"]
    manifest = {
        **recipe(config, corpus), "tokenizer_sha256": file_sha256(folder / TOKENIZER),
        "weights_sha256": file_sha256(folder / WEIGHTS),
        "steps": trainer.state.global_step, "tokens": trainer.state.global_step * config.batch_size * config.block_size,
        "train_blocks": len(train), "epochs": round(trainer.state.global_step * config.batch_size / len(train), 2),
        "parameters": sum(p.numel() for p in model.parameters()),
        "first_losses": [r["loss"] for r in train_losses[:FIRST_STEPS]], "final_loss": train_losses[-1]["loss"],
        # the held-out loss of the weights as saved (half precision), which a reload must reproduce
        "dev_loss": held_out_loss(folder, dev), "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(), "history": history.records,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def save_stand_in(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, folder: Path,
                  fmt: DialogueFormat = DialogueFormat()) -> None:
    """Save the weights in half precision (half the size; `from_pretrained` reads them back into fp32, as the
    config says) and a tokenizer every transformers version from 4.40 on can read."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    saved = copy.deepcopy(model).eval().to(torch.float16)  # a copy: the model itself keeps training in fp32
    saved.config.use_cache = True  # the Trainer turns the generation cache off while training
    with quiet_file_progress():
        saved.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["dtype"] = config["torch_dtype"] = "float32"  # load as fp32 (transformers 5 reads "dtype", 4 "torch_dtype")
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tokenizer.backend_tokenizer.save(str(folder / TOKENIZER))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": tokenizer.model_max_length,
         **fmt.special_tokens}, indent=2) + "\n", encoding="utf-8")


@torch.inference_mode()
def held_out_loss(folder: str | Path, dev_blocks: Sequence[dict], batch_size: int = 8) -> float:
    """Mean per-token loss of the saved model on the held-out blocks (all full, so the mean over blocks is the mean
    over tokens)."""
    model = GPT2LMHeadModel.from_pretrained(folder).eval()
    model.loss_type = "ForCausalLM"
    losses = []
    for start in range(0, len(dev_blocks), batch_size):
        ids = torch.tensor([b["input_ids"] for b in dev_blocks[start : start + batch_size]])
        losses.append(model(input_ids=ids, labels=ids).loss.item() * len(ids))
    return sum(losses) / len(dev_blocks)


def held_out_blocks(config: PretrainConfig, folder: str | Path, corpus: PretrainCorpus | None = None) -> list[dict]:
    """The held-out blocks a stand-in was measured on, rebuilt with its own tokenizer."""
    corpus = corpus or build_corpus(config)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(Path(folder) / TOKENIZER))
    ids = tokenizer(corpus.lm_texts, add_special_tokens=False, verbose=False)["input_ids"]
    return pack_blocks(ids, config.block_size)[: config.dev_blocks]


def recipe(config: PretrainConfig, corpus: PretrainCorpus) -> dict:
    """What decides the weights: the config and what the corpus is made of."""
    return {"config": asdict(config), "corpus_sha256": corpus.sha256(), "sources": source_hashes()}


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a built folder, or None when there is none (never built, or interrupted)."""
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def build(config: PretrainConfig, folder: str | Path, progress: bool = True) -> dict:
    """Pretrain on every core, whatever the caller set (one thread is 1.7x slower on 2 cores), and give the
    caller's thread setting back."""
    threads = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(cores)
    try:
        return pretrain(config, folder, progress)
    finally:
        torch.set_num_threads(threads)


def rebuilt_dir() -> Path:
    """Where ``python -m heygen_lib.nlg.pretrain`` builds a stand-in (the kit uses it when the shipped one no
    longer matches the kit)."""
    return artifacts_dir() / "pretrained"


def random_init_copy(folder: str | Path, target: str | Path | None = None, seed: int | None = None) -> Path:
    """The stand-in's architecture and tokenizer with fresh random weights (never trained), saved to `target`
    (default ``artifacts/pretrained-random-init``): the "from scratch" side of *what pretraining buys*. Same seed,
    same weights."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"{shown_path(folder)} holds no pretrained stand-in (no {MANIFEST})")
    config = replace(PretrainConfig(**manifest["config"]), **({} if seed is None else {"seed": seed}))
    target = Path(target) if target else artifacts_dir() / "pretrained-random-init"
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    save_stand_in(init_model(tokenizer, config), tokenizer, target)
    return target


def loss_to_perplexity(loss: float) -> float:
    """Perplexity of a mean per-token loss (nats): exp(loss), inf for a loss too large to exponentiate."""
    return math.exp(loss) if loss < 700 else math.inf


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m heygen_lib.nlg.pretrain``: rebuild the stand-in from `PretrainConfig`'s defaults."""
    parser = argparse.ArgumentParser(prog="python -m heygen_lib.nlg.pretrain", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to build into (default: artifacts/pretrained, which the kit uses when the "
                             "shipped stand-in does not match the kit's corpus or config)")
    args = parser.parse_args(argv)
    folder = args.out or rebuilt_dir()
    manifest = build(PretrainConfig(), folder)
    print(f"{shown_path(folder)}: {manifest['parameters']:,} parameters, {manifest['steps']} steps "
          f"({manifest['tokens']:,} tokens, {manifest['epochs']} passes) in {manifest['seconds']:.0f} s; final "
          f"training loss {manifest['final_loss']:.3f}, held-out perplexity {loss_to_perplexity(manifest['dev_loss']):.1f}")


if __name__ == "__main__":
    main()
