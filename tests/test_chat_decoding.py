import pytest

from heygen_lib.chat import Chatbot, DecodingConfig


def test_each_strategy_passes_only_the_arguments_it_uses():
    common = {"max_new_tokens": 12, "repetition_penalty": 1.3}
    settings = dict(temperature=0.5, top_k=7, top_p=0.8, num_beams=3, **common)
    assert DecodingConfig("greedy", **settings).generate_kwargs() == {**common, "do_sample": False, "num_beams": 1}
    assert DecodingConfig("beam", **settings).generate_kwargs() == {**common, "do_sample": False, "num_beams": 3,
                                                                    "early_stopping": True}
    assert DecodingConfig("sample", **settings).generate_kwargs() == {**common, "do_sample": True, "num_beams": 1,
                                                                      "temperature": 0.5, "top_k": 7, "top_p": 0.8}


@pytest.mark.parametrize("field, value", [("strategy", "nucleus"), ("temperature", 0.0), ("top_k", -1),
                                          ("top_p", 0.0), ("top_p", 1.5), ("repetition_penalty", 0.0),
                                          ("max_new_tokens", 0)])
def test_bad_settings_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        DecodingConfig(**{field: value})


def test_beam_search_needs_two_beams_but_other_strategies_ignore_num_beams():
    with pytest.raises(ValueError, match="num_beams"):
        DecodingConfig("beam", num_beams=1)
    assert DecodingConfig("greedy", num_beams=1).generate_kwargs()["num_beams"] == 1


def test_describe_names_only_the_settings_in_use():
    assert DecodingConfig("greedy", max_new_tokens=5).describe() == "greedy max_new_tokens=5, repetition_penalty=1.2"
    assert "temperature=0.7" in DecodingConfig("sample").describe()
    assert "num_beams=4" in DecodingConfig("beam").describe()


@pytest.mark.parametrize("decoding", [DecodingConfig("greedy", max_new_tokens=4, repetition_penalty=1.1),
                                      DecodingConfig("beam", max_new_tokens=5, num_beams=3),
                                      DecodingConfig("sample", max_new_tokens=6, temperature=1.3, top_k=9, top_p=0.7)])
def test_every_option_reaches_generate_with_its_value_and_transformers_does_not_warn(model_and_tokenizer, decoding,
                                                                                    capfd, monkeypatch):
    model, tokenizer = model_and_tokenizer
    calls, real = [], model.generate
    monkeypatch.setattr(model, "generate", lambda **kw: calls.append(kw) or real(**kw))
    Chatbot(model, tokenizer, decoding).reply("where is my parcel")
    (kwargs,) = calls
    for name, value in decoding.generate_kwargs().items():
        assert kwargs[name] == value, name
    assert kwargs["max_new_tokens"] == decoding.max_new_tokens
    assert kwargs["pad_token_id"] == tokenizer.pad_token_id
    assert kwargs["eos_token_id"] == [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|turn|>")]
    if decoding.strategy != "sample":
        assert not {"temperature", "top_k", "top_p"} & set(kwargs)
    assert "generation flags" not in capfd.readouterr().err


@pytest.mark.parametrize("config", [
    DecodingConfig("sample", temperature=0.7, top_k=50, top_p=0.9, repetition_penalty=1.2),
    DecodingConfig("sample", temperature=1.3, top_k=0, top_p=0.5, repetition_penalty=1.0),
    DecodingConfig("sample", temperature=0.5, top_k=5, top_p=1.0, repetition_penalty=2.0),
])
def test_next_token_probs_equal_what_transformers_generate_samples_from(config):
    import torch
    from transformers import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                              TopKLogitsWarper, TopPLogitsWarper)

    from heygen_lib.nlg.decoding import next_token_probs

    torch.manual_seed(0)
    logits, previous = torch.randn(300) * 3, [5, 17, 17, 250]
    chain = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(config.repetition_penalty),
                                 TemperatureLogitsWarper(config.temperature)]
                                + ([TopKLogitsWarper(config.top_k)] if config.top_k else [])
                                + ([TopPLogitsWarper(config.top_p)] if config.top_p < 1 else []))
    expected = chain(torch.tensor([previous]), logits[None].clone()).softmax(-1)[0]
    got = next_token_probs(logits, previous, config)
    assert torch.allclose(got, expected, atol=1e-6)
    assert (got > 0).sum() == (expected > 0).sum() < 300  # each setting truncates the tail
