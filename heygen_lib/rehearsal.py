"""The rehearsal profile's models: the full profile's architectures, built here with random weights.

On a Colab GPU the full profile fine-tunes distilgpt2 and back-translates through MarianMT's opus-mt-en-de /
opus-mt-de-en, all downloaded from the Hugging Face hub, which no machine the kit is tested on reaches. A rehearsal
builds each of them from its published configuration (the values below, as the hub's ``config.json`` files give
them) with random weights, and a byte-level BPE tokenizer of exactly its vocabulary size, trained on the kit's own
corpora (padded with tokens that never occur when the text holds fewer merges), its special tokens at the ids the
real tokenizers give them. Every tensor then has the shape it has on Colab, so code paths, batch shapes and memory
are the real ones; **what the models say is noise**. The sentence encoder (all-MiniLM-L6-v2) is the real one: it
ships offline.

One thing is set on purpose: each model's end token is about as likely as in real text (one token in
`END_EVERY`), so generation stops after realistic lengths, as a trained model's does; untrained, it would run to
the token limit every time, and anything that keeps only finished replies would keep none.

Built once into ``artifacts/rehearsal/`` of the kit (shared by every artifacts folder, ``HEYGEN_ARTIFACTS_DIR``
included: a cache, not a result), a recipe file in each folder; a folder whose recipe matches is reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from functools import cache
from pathlib import Path

from heygen_lib.profile import REHEARSAL_MODELS

RECIPE_VERSION = 1  # raise it when a builder changes what it writes

# distilgpt2's config.json on the hub (the values that set its shape and behaviour).
DISTILGPT2 = {"n_layer": 6, "n_embd": 768, "n_head": 12, "n_positions": 1024, "vocab_size": 50257,
              "activation_function": "gelu_new", "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
              "layer_norm_epsilon": 1e-5, "initializer_range": 0.02, "bos_token_id": 50256, "eos_token_id": 50256}
GPT2_END_TOKEN = "<|endoftext|>"  # GPT-2's only special token, the last id

# Helsinki-NLP/opus-mt-en-de's and opus-mt-de-en's config.json (both: the same architecture and vocabulary size).
OPUS_MT = {"d_model": 512, "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 8,
           "decoder_attention_heads": 8, "encoder_ffn_dim": 2048, "decoder_ffn_dim": 2048,
           "max_position_embeddings": 512, "vocab_size": 58101, "decoder_vocab_size": 58101,
           "activation_function": "swish", "scale_embedding": True, "share_encoder_decoder_embeddings": True,
           "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0, "init_std": 0.02,
           "pad_token_id": 58100, "eos_token_id": 0, "bos_token_id": 0, "decoder_start_token_id": 58100,
           "forced_eos_token_id": 0}
MARIAN_TOKENS = {"eos_token": ("</s>", 0), "unk_token": ("<unk>", 1), "pad_token": ("<pad>", 58100)}
# Their generation_config.json: beam search with 4 beams, up to 512 tokens, never the pad token.
OPUS_MT_GENERATION = {"num_beams": 4, "max_length": 512, "bad_words_ids": [[58100]], "decoder_start_token_id": 58100,
                      "eos_token_id": 0, "forced_eos_token_id": 0, "pad_token_id": 58100, "bos_token_id": 0}

END_EVERY = 30  # tokens per end token the random models aim at: real support replies run to about 31 words
TOKENIZER_TEXTS = ("support", "chitchat", "chatterbot")  # the corpora the tokenizers learn their merges from


def causal_lm_dir() -> Path:
    """The distilgpt2-shaped stand-in: what `NlgSizes.model` names in the rehearsal profile."""
    return REHEARSAL_MODELS["distilgpt2"]


def translator_dirs() -> tuple[Path, Path]:
    """The opus-mt-en-de- and opus-mt-de-en-shaped stand-ins: `AugmentSizes.translation` in the rehearsal profile."""
    return REHEARSAL_MODELS["opus-mt-en-de"], REHEARSAL_MODELS["opus-mt-de-en"]


@cache
def ensure_models() -> dict[str, Path]:
    """Build whichever rehearsal model is missing (or made by another recipe); return every folder by name. Checked
    once per process (the check reads the corpora: 2 s)."""
    texts = corpus_texts()
    forward, backward = translator_dirs()
    return {"distilgpt2": _ensure(causal_lm_dir(), "gpt2", texts, seed=0),
            "opus-mt-en-de": _ensure(forward, "marian", texts, seed=1),
            "opus-mt-de-en": _ensure(backward, "marian", texts, seed=2)}


def corpus_texts() -> list[str]:
    """Every turn of the kit's corpora, once each, in a fixed order: what the tokenizers are trained on."""
    from heygen_lib.data import load_corpus

    with warnings.catch_warnings():  # the loaders report malformed entries: notebook 01 shows them, not this cache
        warnings.simplefilter("ignore")
        turns = (t.text for name in TOKENIZER_TEXTS for d in load_corpus(name, limit=None) for t in d.turns)
        return list(dict.fromkeys(turns))


def _recipe(kind: str, texts: list[str], seed: int) -> dict:
    import transformers

    digest = hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode("utf-8")).hexdigest()
    config = DISTILGPT2 if kind == "gpt2" else OPUS_MT
    return {"kind": kind, "version": RECIPE_VERSION, "config": config, "end_every": END_EVERY, "seed": seed,
            "texts_sha256": digest, "transformers": transformers.__version__}


def _ensure(folder: Path, kind: str, texts: list[str], seed: int) -> Path:
    from heygen_lib.tiny_models import is_complete, save_with_recipe

    recipe = _recipe(kind, texts, seed)
    if is_complete(folder, recipe):
        return folder
    tokenizer, model = (_gpt2 if kind == "gpt2" else _marian)(texts, seed)
    return save_with_recipe(folder, tokenizer, model, recipe)


def padded_tokenizer(texts: list[str], size: int, specials: dict[str, int]):
    """A byte-level BPE `tokenizers.Tokenizer` of exactly `size` ids: merges learned from `texts`, the special
    tokens at the given ids, every id left over a token no text ever produces (no merge leads to it)."""
    from tokenizers import Tokenizer

    from heygen_lib.tiny_models import train_tokenizer

    learned = train_tokenizer(texts, size - len(specials), [])
    data = json.loads(learned.to_str())
    vocab = data["model"]["vocab"]
    taken = set(specials.values())
    free = [i for i in range(size) if i not in taken]
    renumbered = dict(zip(sorted(vocab, key=vocab.get), free))  # the learned tokens, in order, around the specials
    renumbered |= {f"<unused{k}>": i for k, i in enumerate(free[len(renumbered):])}
    renumbered |= specials
    if len(renumbered) != size:
        raise ValueError(f"{len(renumbered)} ids for a vocabulary of {size}: a special token is also a learned one")
    data["model"]["vocab"] = renumbered
    data["added_tokens"] = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for t, i in specials.items()]
    return Tokenizer.from_str(json.dumps(data))


def _end_logit(size: int) -> float:
    """The logit boost that makes the end token about 1 in `END_EVERY` among `size` near-equal logits."""
    return math.log((size - 1) / (END_EVERY - 1))


def _gpt2(texts: list[str], seed: int):
    import torch
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    size, end = DISTILGPT2["vocab_size"], DISTILGPT2["eos_token_id"]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=padded_tokenizer(texts, size, {GPT2_END_TOKEN: end}),
                                        model_max_length=DISTILGPT2["n_positions"], eos_token=GPT2_END_TOKEN,
                                        bos_token=GPT2_END_TOKEN, unk_token=GPT2_END_TOKEN)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(GPT2Config(**DISTILGPT2))
    with torch.no_grad():  # the head is the input embedding (tied): a final-norm bias along the end token's row
        row = model.transformer.wte.weight[end]
        model.transformer.ln_f.bias.copy_(row * _end_logit(size) / row.dot(row))
    model.generation_config = GenerationConfig(bos_token_id=end, eos_token_id=end)
    return tokenizer, model


def _marian(texts: list[str], seed: int):
    import torch
    from tokenizers import processors
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    specials = {token: i for token, i in MARIAN_TOKENS.values()}
    backend = padded_tokenizer(texts, OPUS_MT["vocab_size"], specials)
    eos, eos_id = MARIAN_TOKENS["eos_token"]
    backend.post_processor = processors.TemplateProcessing(single=f"$A {eos}", special_tokens=[(eos, eos_id)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=OPUS_MT["max_position_embeddings"],
                                        **{name: token for name, (token, _) in MARIAN_TOKENS.items()})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MarianMTModel(MarianConfig(**OPUS_MT))
    with torch.no_grad():  # Marian adds a bias to every logit: the end token's is raised
        model.final_logits_bias[0, eos_id] = _end_logit(OPUS_MT["vocab_size"])
    model.generation_config = GenerationConfig(**OPUS_MT_GENERATION)
    return tokenizer, model.eval()


if __name__ == "__main__":
    for name, folder in ensure_models().items():
        print(f"{name}: {folder.relative_to(folder.parents[2])}")
