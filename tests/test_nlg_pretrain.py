import os

import pytest
import torch
from safetensors.torch import load_file

from heygen_lib.adversarial_state import TrainingDiverged
from heygen_lib.data.cleaning import clean_dialogues
from heygen_lib.data.loaders import load_support_set
from heygen_lib.data.pairs import split_dialogues
from heygen_lib.nlg import pretrain as pt
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.finetune import base_model, load_model
from heygen_lib.nlg.hf_training import StopOnNonFiniteLoss
from heygen_lib.profile import PROFILES

TINY = pt.PretrainConfig(vocab_size=300, layers=1, d_model=32, heads=2, block_size=32, batch_size=4, max_steps=3,
                         conversations=12, dev_blocks=2, evals=1)


@pytest.fixture(scope="module")
def corpus():
    return pt.build_corpus(TINY)


@pytest.fixture(autouse=True)
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.delenv("HEYGEN_MODEL", raising=False)


def test_pack_blocks_joins_the_texts_and_drops_the_tail_that_fills_no_block():
    blocks = pt.pack_blocks([[1, 2, 3], [4, 5], [6, 7, 8]], block_size=3)
    assert [b["input_ids"] for b in blocks] == [[1, 2, 3], [4, 5, 6]]
    assert all(b["labels"] == b["input_ids"] for b in blocks)


def test_a_conversation_renders_as_the_fine_tuning_format_with_its_last_turn_as_response():
    from heygen_lib.data.dialogue import Turn

    turns = (Turn("a", "hi"), Turn("b", "hello <|x"), Turn("a", "bye"))
    assert DialogueFormat().conversation(turns) == "<|turn|>a: hi<|turn|>b: hello < |x<|response|>bye<|endoftext|>"


def test_support_dev_and_test_text_never_reaches_pretraining_or_its_tokenizer(corpus):
    fmt = DialogueFormat()
    support, _ = clean_dialogues(load_support_set())
    splits = split_dialogues(support, seed=TINY.split_seed)
    support_texts = set(corpus.tokenizer_texts) - set(corpus.lm_texts)
    assert support_texts == {fmt.conversation(d.turns) for d in splits.train}
    held_out_turns = {t.text for d in splits.dev + splits.test for t in d.turns}
    train_turns = {t.text for d in splits.train for t in d.turns}
    only_held_out = [text for text in held_out_turns - train_turns if len(text) > 20]
    assert len(only_held_out) > 50
    everything = "\n".join(corpus.tokenizer_texts)
    assert not [text for text in only_held_out if text in everything]
    assert not any("agent:" in text or "customer:" in text for text in corpus.lm_texts)  # Chit-Chat only


def test_the_stand_in_is_built_on_every_core_and_the_callers_thread_setting_comes_back(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(pt, "pretrain", lambda *args: seen.append(torch.get_num_threads()))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as notebook 04 sets it for its small models
    try:
        pt.build(TINY, tmp_path / "stand-in", progress=False)
        assert seen == [len(os.sched_getaffinity(0))] and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_the_manifest_records_the_recipe_the_first_losses_and_the_held_out_loss_of_the_saved_weights(corpus, tmp_path):
    manifest = pt.pretrain(TINY, tmp_path / "m", progress=False, corpus=corpus)
    assert manifest["corpus_sha256"] == corpus.sha256() and manifest["sources"] == pt.source_hashes()
    assert manifest["steps"] == TINY.max_steps and len(manifest["first_losses"]) == TINY.max_steps
    assert manifest["tokenizer_sha256"] == pt.file_sha256(tmp_path / "m" / pt.TOKENIZER)
    blocks = pt.held_out_blocks(TINY, tmp_path / "m", corpus)
    assert manifest["dev_loss"] == pt.held_out_loss(tmp_path / "m", blocks)
    model, tokenizer = load_model(tmp_path / "m", device="cpu")
    assert len(tokenizer) == model.config.vocab_size and tokenizer.pad_token_id != tokenizer.eos_token_id


def test_stopping_after_the_first_steps_follows_the_same_schedule(corpus, tmp_path):
    whole = pt.pretrain(TINY, tmp_path / "whole", progress=False, corpus=corpus)
    first = pt.pretrain(TINY, tmp_path / "first", progress=False, corpus=corpus, stop_after=2)
    assert first["steps"] == 2 and first["first_losses"] == whole["first_losses"][:2]


def test_a_short_pretraining_run_is_deterministic(corpus, tmp_path):
    first = pt.pretrain(TINY, tmp_path / "a", progress=False, corpus=corpus)
    second = pt.pretrain(TINY, tmp_path / "b", progress=False, corpus=corpus)
    assert first["history"] == second["history"] and first["final_loss"] < first["history"][0]["loss"]
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_pretraining_stops_with_an_error_on_a_non_finite_loss(corpus, tmp_path, monkeypatch):
    make = pt.init_model

    def broken(*args, **kwargs):
        model = make(*args, **kwargs)
        with torch.no_grad():
            model.transformer.ln_f.weight.fill_(float("nan"))
        return model

    monkeypatch.setattr(pt, "init_model", broken)
    with pytest.raises(TrainingDiverged, match="loss is nan at step 0"):
        pt.pretrain(TINY, tmp_path / "nan", progress=False, corpus=corpus)
    assert pt.read_manifest(tmp_path / "nan") is None  # nothing half-built passes for a stand-in


@pytest.mark.parametrize("key", ["loss", "eval_loss"])
def test_the_non_finite_stop_fires_on_nan_and_inf_and_lets_finite_losses_pass(key):
    class State:
        global_step = 7

    stop = StopOnNonFiniteLoss()
    stop.on_log(None, State(), None, logs={key: 2.5})
    for bad in (float("nan"), float("inf")):
        with pytest.raises(TrainingDiverged, match="at step 7"):
            stop.on_log(None, State(), None, logs={key: bad})


def test_random_init_copy_shares_the_tokenizer_and_shape_but_not_the_weights(corpus, tmp_path):
    folder = tmp_path / "trained"
    pt.pretrain(TINY, folder, progress=False, corpus=corpus)
    fresh = pt.random_init_copy(folder)
    assert fresh.is_relative_to(tmp_path / "artifacts")  # never beside a stand-in shipped in the package
    trained, _ = load_model(folder, device="cpu")
    scratch, tokenizer = load_model(fresh, device="cpu")
    assert trained.config.to_diff_dict() == scratch.config.to_diff_dict()
    assert not torch.equal(trained.lm_head.weight, scratch.lm_head.weight)
    again, _ = load_model(pt.random_init_copy(folder), device="cpu")
    assert torch.equal(again.lm_head.weight, scratch.lm_head.weight)


def test_base_model_prefers_the_env_var_then_the_profile_then_the_shipped_stand_in(monkeypatch):
    from heygen_lib.nlg.standin import SHIPPED_DIR

    assert base_model(PROFILES["smoke"]) == str(SHIPPED_DIR)
    assert base_model(PROFILES["full"]) == "distilgpt2"
    monkeypatch.setenv("HEYGEN_MODEL", "sshleifer/tiny-gpt2")
    monkeypatch.setattr("heygen_lib.settings.hub_reachable", lambda: True)  # a hub name is checked for the network
    assert base_model(PROFILES["smoke"]) == base_model(PROFILES["full"]) == "sshleifer/tiny-gpt2"


def test_the_profile_config_carries_every_fine_tuning_size_of_the_profile():
    from heygen_lib.nlg.finetune import profile_config

    sizes = PROFILES["smoke"].nlg
    config = profile_config(sizes, seed=3, report_to="tensorboard")
    assert (config.learning_rate, config.lr_scheduler, config.epochs, config.batch_size, config.max_length,
            config.early_stopping_patience, config.early_stopping_threshold, config.seed, config.report_to) == (
        sizes.learning_rate, sizes.lr_scheduler, sizes.epochs, sizes.batch_size, sizes.max_length, sizes.patience,
        sizes.min_improvement, 3, "tensorboard")
