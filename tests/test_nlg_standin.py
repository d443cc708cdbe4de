"""The shipped stand-in: loaded only when it matches the kit, reproducible from its card, and cheap to prove so."""

import json
import shutil
from dataclasses import replace

import pytest
import torch

from heygen_lib.nlg import pretrain as pt
from heygen_lib.nlg import standin
from heygen_lib.nlg.finetune import load_model

SHIPPED = standin.SHIPPED_DIR
# Losses of a rebuild's first steps against the card's: the same code, seed and data give the same numbers on one
# machine; another CPU's kernels may round differently, and such differences grow a little over the steps.
FIRST_STEPS_TOLERANCE = 2e-3


@pytest.fixture(scope="module")
def manifest():
    return pt.read_manifest(SHIPPED)


@pytest.fixture(scope="module")
def corpus(manifest):
    return pt.build_corpus(pt.PretrainConfig(**manifest["config"]))


@pytest.fixture(autouse=True)
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "artifacts"))


def test_the_shipped_stand_in_matches_the_kit_and_is_what_the_kit_loads(manifest):
    assert standin.check(SHIPPED) == []
    assert standin.standin_dir() == SHIPPED
    assert manifest["config"] == pt.asdict(pt.PretrainConfig())


def test_a_changed_config_field_is_refused_with_the_field_and_the_rebuild_command():
    with pytest.raises(standin.StaleStandIn, match=r"config\.layers: 4 in the manifest, 5 in PretrainConfig.*"
                                                   r"python -m heygen_lib\.nlg\.pretrain"):
        standin.standin_dir(replace(pt.PretrainConfig(), layers=5))


def test_changed_weights_or_corpus_files_are_refused(tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(SHIPPED, copy)
    assert standin.check(copy) == []
    weights = copy / pt.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert [p for p in standin.check(copy) if p.startswith(pt.WEIGHTS)]
    monkeypatch.setattr(standin, "source_hashes", lambda: {"chitchat-dataset/dataset.json": "0" * 64})
    assert [p for p in standin.check(SHIPPED) if "chitchat-dataset/dataset.json" in p]


def test_a_rebuilt_stand_in_is_used_when_the_shipped_one_no_longer_matches(tmp_path, monkeypatch):
    shutil.copytree(SHIPPED, pt.rebuilt_dir())
    monkeypatch.setattr(standin, "SHIPPED_DIR", tmp_path / "nothing-here")
    assert standin.standin_dir() == pt.rebuilt_dir()


def test_the_shipped_weights_reproduce_their_held_out_loss(manifest, corpus):
    config = pt.PretrainConfig(**manifest["config"])
    assert corpus.sha256() == manifest["corpus_sha256"]  # the cleaning and formatting code still make this corpus
    loss = pt.held_out_loss(SHIPPED, pt.held_out_blocks(config, SHIPPED, corpus))
    assert loss == pytest.approx(manifest["dev_loss"], abs=1e-3)


def test_rebuilding_the_first_steps_from_the_card_gives_its_losses(manifest, corpus, tmp_path):
    config = pt.PretrainConfig(**manifest["config"])
    rebuilt = pt.pretrain(config, tmp_path / "first-steps", progress=False, corpus=corpus,
                          stop_after=pt.FIRST_STEPS)
    assert rebuilt["tokenizer_sha256"] == manifest["tokenizer_sha256"]  # the tokenizer is rebuilt exactly
    assert rebuilt["first_losses"] == pytest.approx(manifest["first_losses"], abs=FIRST_STEPS_TOLERANCE)


def test_the_stand_in_loads_as_fp32_with_the_dialogue_tokens_it_was_trained_with():
    model, tokenizer = load_model(SHIPPED, device="cpu")
    assert model.dtype == torch.float32 and len(tokenizer) == model.config.vocab_size
    ids = tokenizer("<|turn|>customer: hi<|response|>hello<|endoftext|>")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids)[0] == "<|turn|>" and ids[-1] == tokenizer.eos_token_id


def test_the_shipped_files_stay_small_and_the_card_says_what_the_manifest_says(manifest):
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) <= 10 * 2**20
    text = (SHIPPED / standin.CARD).read_text(encoding="utf-8")
    assert text == standin.card(manifest)
    assert json.loads((SHIPPED / "config.json").read_text())["dtype"] == "float32"
