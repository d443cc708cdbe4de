import json
import random

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, MarianMTModel

from heygen_lib.augment import augment_pairs
from heygen_lib.augment.backtranslate import BackTranslationConfig, BackTranslator
from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.tiny_models import RECIPE_FILE, TinyTranslatorConfig, build_tiny_translator, tiny_translation_pair

SUBJECTS = ["my order", "the kettle", "your app", "the refund", "this parcel", "our account"]
PROBLEMS = ["arrived broken", "is late again", "won't load", "never came", "was charged twice"]
TEXTS = [f"Hi, {s} {p}. Can you help me?" for s in SUBJECTS for p in PROBLEMS]  # 30 distinct support turns


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return tiny_translation_pair(TEXTS, tmp_path_factory.mktemp("tiny") / "en-xx")


@pytest.fixture(scope="module")
def sampler(pair):
    """A back-translator with the default (sampling) decoding, shared: loading models is the slow part."""
    return translator(pair)


def translator(pair, **settings) -> BackTranslator:
    forward, backward = pair
    settings = {"max_length": 12, "batch_size": 8, "device": "cpu", **settings}
    return BackTranslator(BackTranslationConfig(forward=str(forward), backward=str(backward), **settings))


def spy_on_generate(monkeypatch, model, calls: list):
    generate = model.generate

    def recording(**kwargs):
        calls.append(kwargs)
        return generate(**kwargs)

    monkeypatch.setattr(model, "generate", recording)


def test_sampling_at_temperature_0_8_overrides_marians_four_beams(sampler, monkeypatch):
    assert sampler.forward[1].generation_config.num_beams == 4  # the stand-in keeps Marian's default, as hub models do
    calls = []
    spy_on_generate(monkeypatch, sampler.forward[1], calls)
    spy_on_generate(monkeypatch, sampler.backward[1], calls)
    sampler.augment(TEXTS[:3], random.Random(0))
    assert len(calls) == 2  # one batch each way
    for kwargs in calls:
        assert kwargs["do_sample"] is True and kwargs["num_beams"] == 1
        assert kwargs["temperature"] == 0.8 and kwargs["top_k"] == 0 and kwargs["top_p"] == 1.0
        assert kwargs["max_length"] == 13  # 12 tokens after the start token, not Marian's 512


def test_beam_search_option_reaches_generate(pair, monkeypatch):
    bt = translator(pair, decoding="beam", num_beams=3)
    calls = []
    spy_on_generate(monkeypatch, bt.forward[1], calls)
    bt.augment(TEXTS[:2], random.Random(0))
    assert calls[0]["do_sample"] is False and calls[0]["num_beams"] == 3
    assert "temperature" not in calls[0]


def test_batching_keeps_input_order(pair):
    texts = TEXTS[:7] + ["ok", "A much longer message about a kettle that arrived broken, twice, in one week."]
    batched = translator(pair, decoding="beam", num_beams=1, batch_size=4).round_trip(texts, random.Random(0))
    one_by_one = translator(pair, decoding="beam", num_beams=1, batch_size=1)
    alone = [one_by_one.round_trip([text], random.Random(0)) for text in texts]
    assert batched == ([p[0] for p, _ in alone], [b[0] for _, b in alone])
    assert len(set(batched[0])) >= 4  # the translations differ, so a shuffled order could not pass


def test_same_seed_same_outputs_and_another_seed_others(sampler):
    first, again, other = (sampler.augment(TEXTS[:6], random.Random(seed)) for seed in (1, 1, 2))
    assert first == again
    assert first != other
    assert all(isinstance(text, str) and text for text in first)


def test_sampling_leaves_the_callers_torch_rng_alone(sampler):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    sampler.augment(TEXTS[:2], random.Random(0))
    assert torch.equal(torch.rand(3), expected)


def test_empty_and_whitespace_texts_give_none(sampler, monkeypatch):
    calls = []
    spy_on_generate(monkeypatch, sampler.forward[1], calls)
    assert sampler.augment(["", "  \n", ""], random.Random(0)) == [None, None, None]
    assert calls == []
    out = sampler.augment(["", TEXTS[0], " "], random.Random(0))
    assert out[0] is None and out[2] is None and isinstance(out[1], str)


def test_long_and_unusual_inputs_are_truncated_not_fatal(sampler, monkeypatch):
    calls = []
    spy_on_generate(monkeypatch, sampler.forward[1], calls)
    out = sampler.augment(["word " * 3000, "😀🚚 Grüße, 你好!", "\u200b"], random.Random(0))
    assert calls[0]["input_ids"].shape[1] == 12  # cut to max_length tokens
    assert len(out) == 3 and isinstance(out[0], str) and isinstance(out[1], str)


@pytest.mark.parametrize(
    "settings, message",
    [({"decoding": "greedy"}, "decoding"), ({"temperature": 0}, "temperature"), ({"top_p": 0}, "top_p"),
     ({"batch_size": 0}, "batch_size"), ({"max_length": 0}, "max_length")],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        BackTranslationConfig(**settings)


def test_max_length_beyond_the_models_positions_is_refused(pair):
    with pytest.raises(ValueError, match="512 positions"):
        translator(pair, max_length=600)


def test_augment_pairs_records_the_decoding_in_provenance(sampler):
    turns = tuple(Turn("customer" if i % 2 == 0 else "agent", text) for i, text in enumerate(TEXTS[:4]))
    dialogue = Dialogue("d1", turns, "test")
    made, report = augment_pairs(build_pairs([dialogue]), sampler, seed=3)
    assert report.made == len(made) == 3
    params = made[0].meta["provenance"]["params"]
    assert params["decoding"] == "sample" and params["temperature"] == 0.8
    json.dumps(made[0].meta)  # provenance must be storable


def test_tiny_pair_loads_through_from_pretrained(pair):
    forward, backward = pair
    tokenizer = AutoTokenizer.from_pretrained(forward)
    model = AutoModelForSeq2SeqLM.from_pretrained(forward)
    assert isinstance(model, MarianMTModel)
    assert 100_000 < model.num_parameters() < 1_000_000
    assert model.config.vocab_size == len(tokenizer)
    text = "Hi 😀, my kettle arrived — grüße!"
    ids = tokenizer(text)["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id == model.config.eos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == text  # byte-level BPE spells anything
    assert tokenizer.pad_token_id == model.config.decoder_start_token_id
    other = AutoModelForSeq2SeqLM.from_pretrained(backward)
    assert not torch.equal(model.model.shared.weight, other.model.shared.weight)


def test_tiny_translator_is_deterministic_and_cached(tmp_path):
    small = TinyTranslatorConfig(vocab_size=300, d_model=16, layers=1, heads=2, ffn_dim=32)
    a = build_tiny_translator(TEXTS, tmp_path / "a", small, seed=7)
    b = build_tiny_translator(TEXTS, tmp_path / "b", small, seed=7)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    stamp = (a / "model.safetensors").stat().st_mtime_ns
    build_tiny_translator(TEXTS, a, small, seed=7)
    assert (a / "model.safetensors").stat().st_mtime_ns == stamp  # complete and same recipe: reused
    build_tiny_translator(TEXTS, a, small, seed=8)
    assert (a / "model.safetensors").read_bytes() != (b / "model.safetensors").read_bytes()  # new seed: rebuilt
    (b / "tokenizer.json").unlink()
    build_tiny_translator(TEXTS, b, small, seed=7)
    assert (b / "tokenizer.json").is_file() and (b / RECIPE_FILE).is_file()  # incomplete: rebuilt


def test_tiny_translator_needs_text():
    with pytest.raises(ValueError, match="non-empty texts"):
        build_tiny_translator(["", " "], "/nonexistent/never-written")
