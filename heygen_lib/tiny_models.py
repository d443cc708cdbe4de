"""Tiny offline stand-ins: small `transformers` models (a translator, a causal LM) built from a config, with a
tokenizer trained on local text.

A stand-in is randomly initialised and never trained, so **what it generates is noise**. It exists so that code
written for a real hub model (loading with ``from_pretrained``, tokenising, batching, ``generate``) runs end to end
in tests and offline smoke runs, in seconds on a CPU. It exercises the same code path as the real model, nothing
more: never read meaning into its output.

Each stand-in is saved to a folder that ``AutoTokenizer.from_pretrained(folder)`` and
``AutoModelFor....from_pretrained(folder)`` load exactly as they load a hub name, and is cached there: a folder
that already holds a complete stand-in made from the same texts, config, seed and transformers version is reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, MarianConfig, MarianMTModel, PreTrainedTokenizerFast

from heygen_lib.data.dialogue_format import DialogueFormat

# Written last into a stand-in's folder: its presence means the folder is complete, its content says what made it.
RECIPE_FILE = "tiny_recipe.json"
SAVED_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

# MarianMT's special tokens. Marian appends </s> to every source text and starts decoding from <pad>.
SEQ2SEQ_SPECIAL_TOKENS = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str]) -> Tokenizer:
    """A byte-level BPE tokenizer trained on `texts`, with `special_tokens` as its first ids.

    Byte-level BPE can spell any string (emoji, accents, scripts it never saw) from its 256 byte tokens, so no
    input becomes unknown, and ``decode(encode(text)) == text``. The vocabulary is at most `vocab_size`: fewer
    when the texts hold fewer merges.
    """
    texts = list(texts)
    if not any(text.strip() for text in texts):
        raise ValueError("a tiny model needs some non-empty texts to train its tokenizer on")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


@dataclass
class TinyTranslatorConfig:
    """The shape of a stand-in MarianMT model: about 300K parameters instead of Marian's 74M."""

    vocab_size: int = 1000  # BPE vocabulary target; Marian's is 58K
    d_model: int = 64  # Marian: 512
    layers: int = 2  # encoder layers and decoder layers each; Marian: 6
    heads: int = 4  # attention heads; must divide d_model
    ffn_dim: int = 128  # Marian: 2048
    max_positions: int = 512  # as Marian, so settings made for the real model (max_length) fit the stand-in too
    # Weight scale. Marian initialises at 0.02; untrained weights that small give every input the same output,
    # which would hide bugs that mix up the order of a batch. At 1.0 the noise at least depends on the input.
    init_std: float = 1.0


def build_tiny_translator(
    texts: Sequence[str], folder: str | Path, config: TinyTranslatorConfig | None = None, seed: int = 0
) -> Path:
    """Save a randomly initialised MarianMT model and a tokenizer trained on `texts` to `folder`, which
    ``from_pretrained`` then loads. The model is untrained: it turns any input into noise (see the module docstring).

    Its generation defaults copy the real Marian checkpoints' (beam search with 4 beams, up to 512 tokens), so code
    that must override them is tested against the same defaults. Reuses `folder` if it already holds this stand-in.
    """
    config = config or TinyTranslatorConfig()
    folder = Path(folder)
    recipe = _recipe("marian", texts, config, seed)
    if is_complete(folder, recipe):
        return folder
    tokenizer = _seq2seq_tokenizer(texts, config)
    model = _marian_from_config(tokenizer, config, seed)
    return save_with_recipe(folder, tokenizer, model, recipe)


def tiny_translation_pair(
    texts: Sequence[str], folder: str | Path, config: TinyTranslatorConfig | None = None, seed: int = 0
) -> tuple[Path, Path]:
    """An offline stand-in for a translation pair such as opus-mt-en-de / opus-mt-de-en: the folders
    ``folder/forward`` and ``folder/backward``, each a stand-in from `build_tiny_translator` (same tokenizer,
    different random weights). Pass them where a back-translator takes hub names. Both translate into noise.
    """
    folder = Path(folder)
    forward = build_tiny_translator(texts, folder / "forward", config, seed=seed)
    backward = build_tiny_translator(texts, folder / "backward", config, seed=seed + 1)
    return forward, backward


@dataclass
class TinyCausalLMConfig:
    """The shape of a stand-in GPT-2: about 0.25M parameters instead of distilgpt2's 82M."""

    vocab_size: int = 2000  # BPE vocabulary target; GPT-2's is 50,257
    d_model: int = 64  # distilgpt2: 768
    layers: int = 2  # distilgpt2: 6
    heads: int = 4  # must divide d_model; distilgpt2: 12
    max_positions: int = 256  # distilgpt2: 1024
    dropout: float = 0.1  # as GPT-2 (residual, embedding and attention dropout)
    # GPT-2's tanh approximation of GELU; distilgpt2 names it "gelu_new", which computes the same in several ops
    activation: str = "gelu_pytorch_tanh"


def build_tiny_causal_lm(
    texts: Sequence[str], folder: str | Path, config: TinyCausalLMConfig | None = None, seed: int = 0,
    fmt: DialogueFormat = DialogueFormat(),
) -> Path:
    """Save a randomly initialised GPT-2 and a tokenizer trained on `texts` to `folder`, loadable with
    ``AutoTokenizer.from_pretrained(folder)`` and ``AutoModelForCausalLM.from_pretrained(folder)`` like a hub name.

    The tokenizer already holds the dialogue format's special tokens, so `add_format_tokens` adds nothing.
    Untrained, the model writes noise; fine-tuning it (notebook 05) is what the smoke profile stands in for.
    Reuses `folder` if it already holds this stand-in.
    """
    config = config or TinyCausalLMConfig()
    folder = Path(folder)
    recipe = _recipe("gpt2", texts, config, seed)
    if is_complete(folder, recipe):
        return folder
    if config.d_model % config.heads:
        raise ValueError(f"heads ({config.heads}) must divide d_model ({config.d_model})")
    specials = [fmt.eos_token, fmt.pad_token, fmt.turn_token, fmt.response_token]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(texts, config.vocab_size, specials),
        model_max_length=config.max_positions,
        eos_token=fmt.eos_token, bos_token=fmt.eos_token, pad_token=fmt.pad_token,
        additional_special_tokens=[fmt.turn_token, fmt.response_token],
    )
    gpt2 = GPT2Config(
        vocab_size=len(tokenizer), n_positions=config.max_positions, n_embd=config.d_model, n_layer=config.layers,
        n_head=config.heads, resid_pdrop=config.dropout, embd_pdrop=config.dropout, attn_pdrop=config.dropout,
        activation_function=config.activation,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(gpt2)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    return save_with_recipe(folder, tokenizer, model, recipe)


def _seq2seq_tokenizer(texts: Sequence[str], config: TinyTranslatorConfig) -> PreTrainedTokenizerFast:
    tokens = SEQ2SEQ_SPECIAL_TOKENS
    tokenizer = train_tokenizer(texts, config.vocab_size, list(tokens.values()))
    eos = tokens["eos_token"]
    # Like Marian's tokenizer: every source text ends with </s>.
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", special_tokens=[(eos, tokenizer.token_to_id(eos))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=config.max_positions, **tokens)


def _marian_from_config(tokenizer: PreTrainedTokenizerFast, config: TinyTranslatorConfig, seed: int) -> MarianMTModel:
    if config.d_model % config.heads:
        raise ValueError(f"heads ({config.heads}) must divide d_model ({config.d_model})")
    pad, eos, vocab = tokenizer.pad_token_id, tokenizer.eos_token_id, len(tokenizer)
    marian = MarianConfig(
        vocab_size=vocab,
        decoder_vocab_size=vocab,
        d_model=config.d_model,
        encoder_layers=config.layers,
        decoder_layers=config.layers,
        encoder_attention_heads=config.heads,
        decoder_attention_heads=config.heads,
        encoder_ffn_dim=config.ffn_dim,
        decoder_ffn_dim=config.ffn_dim,
        max_position_embeddings=config.max_positions,
        init_std=config.init_std,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,  # Marian starts decoding from <pad>
        forced_eos_token_id=eos,
    )
    with torch.random.fork_rng(devices=[]):  # same seed, same weights; the caller's torch RNG is left untouched
        torch.manual_seed(seed)
        model = MarianMTModel(marian)
    model.generation_config = GenerationConfig(
        num_beams=4,
        max_length=config.max_positions,
        bad_words_ids=[[pad]],
        decoder_start_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        pad_token_id=pad,
    )
    return model.eval()


def _recipe(kind: str, texts: Sequence[str], config: TinyTranslatorConfig | TinyCausalLMConfig, seed: int) -> dict:
    digest = hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
    # The saved files' format follows the transformers version (5.x writes tokenizer classes 4.x cannot read).
    return {"kind": kind, "config": asdict(config), "seed": seed, "texts_sha256": digest, "texts": len(texts),
            "transformers": transformers.__version__}


def save_with_recipe(folder: Path, tokenizer: PreTrainedTokenizerFast, model: torch.nn.Module, recipe: dict) -> Path:
    """Save a built model and its tokenizer, the recipe last: a folder without it is an interrupted build."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RECIPE_FILE).unlink(missing_ok=True)  # incomplete until the recipe is written again, last
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    (folder / RECIPE_FILE).write_text(json.dumps(recipe, indent=2), encoding="utf-8")
    return folder


def is_complete(folder: Path, recipe: dict) -> bool:
    """Whether `folder` holds every saved file of a model built from exactly `recipe` (so it is reused)."""
    if not all((folder / name).is_file() for name in SAVED_FILES):
        return False
    try:
        return json.loads((folder / RECIPE_FILE).read_text(encoding="utf-8")) == recipe
    except (OSError, ValueError):
        return False
