import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from heygen_lib.data.dialogue_format import DialogueFormat, add_format_tokens
from heygen_lib.tiny_models import RECIPE_FILE, TinyCausalLMConfig, build_tiny_causal_lm

TEXTS = [f"customer: my {t} is {s}" for t in ("parcel", "kettle", "app") for s in ("late", "broken")]
SMALL = TinyCausalLMConfig(vocab_size=300, d_model=16, layers=2, heads=2, max_positions=64)


def test_the_tiny_lm_loads_through_from_pretrained_with_the_format_tokens_in_place(tmp_path):
    folder = build_tiny_causal_lm(TEXTS, tmp_path / "lm", SMALL)
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    assert add_format_tokens(tokenizer, model) == 0
    fmt = DialogueFormat()
    assert [tokenizer.convert_tokens_to_ids(t) for t in (fmt.eos_token, fmt.pad_token, fmt.turn_token,
                                                         fmt.response_token)] == [0, 1, 2, 3]
    assert model.config.n_embd == 16 and model.config.n_layer == 2 and model.config.n_positions == 64
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer) <= 300
    text = "customer: my émoji 🙂 kettle"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: nothing becomes unknown


def test_the_same_recipe_reuses_the_folder_and_another_seed_rebuilds_it(tmp_path):
    folder = build_tiny_causal_lm(TEXTS, tmp_path / "lm", SMALL, seed=0)
    weights = (folder / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_causal_lm(TEXTS, tmp_path / "lm", SMALL, seed=0) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == weights
    first = AutoModelForCausalLM.from_pretrained(folder).transformer.wte.weight.clone()
    build_tiny_causal_lm(TEXTS, tmp_path / "lm", SMALL, seed=1)
    assert json.loads((folder / RECIPE_FILE).read_text())["seed"] == 1
    assert not torch.equal(first, AutoModelForCausalLM.from_pretrained(folder).transformer.wte.weight)


def test_bad_shapes_and_empty_texts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must divide"):
        build_tiny_causal_lm(TEXTS, tmp_path / "a", TinyCausalLMConfig(d_model=10, heads=4))
    with pytest.raises(ValueError, match="non-empty texts"):
        build_tiny_causal_lm(["", "  "], tmp_path / "b", SMALL)
