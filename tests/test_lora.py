import pytest
import torch
from transformers import AutoModelForCausalLM

from heygen_lib.chat.chatbot import load_chatbot
from heygen_lib.data import Pair, Turn
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.finetune import FineTuneConfig, fine_tune, load_model, save_model, tokenizer_texts
from heygen_lib.nlg.lora import trainable_parameters, with_lora
from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm

PAIRS = [Pair((Turn("customer", f"my {thing} is {state}"),), Turn("agent", f"sorry your {thing} is {state}."),
              f"d{i}", "test", 1)
         for i, (thing, state) in enumerate((t, s) for t in ("parcel", "kettle", "refund") for s in ("late", "lost"))]
TRAIN, DEV = PAIRS[:4], PAIRS[4:]
TINY = TinyCausalLMConfig(vocab_size=300, d_model=32, layers=2, heads=2, max_positions=64)
CONFIG = FineTuneConfig(freeze="lora", lora_rank=4, learning_rate=1e-2, batch_size=2, max_steps=3, max_length=48,
                        evals_per_epoch=1, early_stopping_patience=0, dropout=0.0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_causal_lm(tokenizer_texts(PAIRS), tmp_path_factory.mktemp("tiny") / "lm", TINY)


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    """(model before, model after LoRA fine-tuning and merging, tokenizer, result)."""
    before, _ = load_model(folder)
    model, tokenizer = load_model(folder)
    result = fine_tune(model, tokenizer, TRAIN, DEV, CONFIG, tmp_path_factory.mktemp("run"), progress=False)
    return before, model, tokenizer, result


def test_lora_trains_a_small_share_of_the_parameters(folder):
    model, tokenizer = load_model(folder)
    total = sum(p.numel() for p in model.parameters())
    lora = with_lora(model, tokenizer, rank=4)
    trainable, with_adapters = trainable_parameters(lora)
    # per linear layer r (d_in + d_out): attention in/out and MLP in/out of 2 blocks of width 32, rank 4
    per_block = 4 * ((32 + 96) + (32 + 32) + (32 + 128) + (128 + 32))
    special_rows = 4 * 32  # the format's 4 special tokens' embedding rows
    assert trainable == 2 * per_block + special_rows
    assert with_adapters == total + trainable  # the trained copies of the special rows sit beside the embedding
    assert trainable < total / 5  # at width 32; at distilgpt2 width 768, rank 8 trains under 1% of the weights


def test_lora_training_merges_into_a_plain_model_changing_only_linear_weights_and_special_rows(trained):
    before, after, tokenizer, result = trained
    assert type(after) is type(before)  # merged: no LoRA layers left
    old, new = dict(before.named_parameters()), dict(after.named_parameters())
    assert old.keys() == new.keys()
    changed = {name for name in old if not torch.equal(old[name], new[name])}
    linear = {name for name in old if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))}
    assert changed == linear | {"transformer.wte.weight"}  # biases, norms and positions frozen
    fmt = DialogueFormat()
    special = tokenizer.convert_tokens_to_ids([fmt.turn_token, fmt.response_token, fmt.eos_token, fmt.pad_token])
    rows_changed = (old["transformer.wte.weight"] != new["transformer.wte.weight"]).any(dim=1).nonzero().flatten()
    assert set(rows_changed.tolist()) <= set(special) and len(rows_changed) > 0
    dev = [r["loss"] for r in result.history if r["phase"] == "dev"]
    assert dev[-1] < dev[0]


def test_a_lora_trained_model_saves_and_the_chatbot_loads_it_unchanged(trained, tmp_path):
    _, model, tokenizer, _ = trained
    save_model(model, tokenizer, tmp_path / "model")
    bot = load_chatbot(tmp_path / "model", device=torch.device("cpu"))
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    ids = torch.tensor([tokenizer("<|turn|>customer: my parcel is late<|response|>")["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, model.cpu()(ids).logits, atol=1e-5)
        assert torch.allclose(bot.model(ids).logits, reloaded(ids).logits, atol=1e-5)
