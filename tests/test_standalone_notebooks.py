"""A notebook opened alone (a fresh Colab runtime, an empty artifacts folder) rebuilds what earlier notebooks would
have left and says so in one line. `make test` runs the notebooks in order in one folder, so these calls are what
prove it, at sizes cut down to seconds."""

from dataclasses import replace

import pytest

from heygen_lib.profile import PROFILES


@pytest.fixture(autouse=True)
def empty_artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.delenv("HEYGEN_MODEL", raising=False)


def test_notebook_05_alone_builds_the_augmented_pool_and_says_so(capsys):
    from heygen_lib.augment import augmented_pairs_path, ensure_augmented_pairs
    from heygen_lib.data import load_pairs

    profile = replace(PROFILES["smoke"], augment=replace(PROFILES["smoke"].augment, pairs=6))
    path = ensure_augmented_pairs(profile)
    assert path == augmented_pairs_path() and load_pairs(path, allow_empty=True) is not None
    said = capsys.readouterr().out
    assert "was missing (notebook 02 writes it)" in said and len(said.strip().splitlines()) == 1
    assert ensure_augmented_pairs(profile) == path and capsys.readouterr().out == ""  # built once


def test_notebook_05_alone_builds_the_reviewed_gan_pairs_and_says_so(capsys, monkeypatch):
    from heygen_lib import dialogue_gan
    from heygen_lib.dialogue_gan import ensure_reviewed_pairs
    from heygen_lib.dialogue_gan.review import reviewed_pairs_path

    tiny = replace(PROFILES["smoke"].dialogue_gan, lm_mle_epochs=0.1, d_fit_steps=20, lm_adversarial_steps=1,
                   contexts_per_step=2, samples_per_context=2, max_new_tokens=24, lm_candidates=16, lm_keep=8)
    monkeypatch.setattr(dialogue_gan, "QUICK", tiny)
    # the plumbing under test, not the discriminator: a few classifier steps rarely clear the held-out bar
    monkeypatch.setattr("heygen_lib.dialogue_gan.feature_discriminator.MIN_HELD_OUT_BALANCED", 0.0)
    assert ensure_reviewed_pairs() == reviewed_pairs_path() and reviewed_pairs_path().is_file()
    said = capsys.readouterr().out
    assert "notebook 04 makes them" in said and len(said.strip().splitlines()) == 1


def test_notebook_06_alone_fine_tunes_the_model_it_talks_to_and_says_so(capsys, monkeypatch):
    from heygen_lib.nlg import finetune

    short = finetune.profile_config
    monkeypatch.setattr(finetune, "profile_config", lambda sizes, **kw: replace(short(sizes, **kw), max_steps=2))
    folder = finetune.ensure_finetuned_model(PROFILES["smoke"])
    assert folder == finetune.model_dir() and finetune.is_saved_model(folder)
    said = capsys.readouterr().out
    assert "notebook 05 has not saved a model yet" in said and "2 steps" in said
    assert finetune.ensure_finetuned_model(PROFILES["smoke"]) == folder and capsys.readouterr().out == ""
