from dataclasses import fields, is_dataclass

import pytest
import torch

from heygen_lib import profile


@pytest.mark.parametrize("name", ["smoke", "full", " FULL "])
def test_environment_variable_chooses_the_profile(monkeypatch, name):
    monkeypatch.setenv(profile.ENV_VAR, name)
    assert profile.active_profile().name == name.strip().lower()


@pytest.mark.parametrize(("cuda", "expected"), [(True, "full"), (False, "smoke")])
def test_auto_picks_full_only_with_a_gpu(monkeypatch, cuda, expected):
    monkeypatch.setenv(profile.ENV_VAR, "auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert profile.active_profile().name == expected


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(profile.ENV_VAR, "huge")
    with pytest.raises(ValueError, match="'huge' is not a profile; choose one of: smoke, full, rehearsal, auto"):
        profile.active_profile()


# Fields where the smoke profile may ask for more than the full one, and why.
NOT_SIZES = {"pretrain.steps": "the offline stand-in is built alike in both profiles (full fine-tunes a hub model)",
             "nlg.min_improvement": "early stopping's threshold: a setting for the stand-in's noisy dev loss, not a size",
             "dialogue_gan.lm_mle_epochs": "the generator's MLE start needs as many passes over the real pairs in both"}


def profile_fields(sizes, prefix=""):
    for field in fields(sizes):
        value = getattr(sizes, field.name)
        if is_dataclass(value):
            yield from profile_fields(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", value


def test_smoke_asks_for_no_more_than_full_on_every_size_and_for_no_hub_model():
    smoke, full = (dict(profile_fields(profile.PROFILES[name])) for name in ("smoke", "full"))
    bigger = []
    for name, small in smoke.items():
        large = full[name]
        if isinstance(small, tuple) or isinstance(large, tuple):
            if large is None:  # no limit: everything
                continue
            small, large = len(small or ()), len(large)
        hyperparameter = name.endswith(("learning_rate", "_lr"))  # a setting, not a size
        if isinstance(small, (int, float)) and not isinstance(small, bool) and name not in NOT_SIZES and not hyperparameter:
            if large is not None and small > large:  # None: no limit, i.e. everything
                bigger.append(f"{name}: smoke {small} > full {large}")
    assert bigger == []
    assert smoke["data.max_dialogues"] == 400 and full["data.max_dialogues"] is None
    assert smoke["nlg.model"] is None and smoke["augment.translation"] is None  # CI downloads nothing
    assert full["nlg.model"] and full["augment.translation"]
    lighter = [name for name in smoke if name.endswith(("steps", "epochs", "samples", "rollouts"))
               and name not in NOT_SIZES and smoke[name] >= full[name]]
    assert lighter == []  # every training and evaluation budget is cut for CI


def test_environment_report_names_profile_device_and_versions(monkeypatch):
    monkeypatch.setenv(profile.ENV_VAR, "smoke")
    report = profile.environment_report()
    assert "profile      smoke (set by HEYGEN_PROFILE" in report
    assert f"torch        {torch.__version__}" in report
    assert "device       cpu" in report or "device       cuda" in report


def test_a_bad_profile_shows_one_line_in_jupyter_and_in_the_run_command(monkeypatch, capsys):
    import subprocess
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("HEYGEN_PROFILE", "tiny")
    shell = InteractiveShell.instance()
    shell.run_cell("from heygen_lib.profile import active_profile\nactive_profile()")
    shown = capsys.readouterr().out
    assert shown.strip() == ("ProfileError: HEYGEN_PROFILE='tiny' is not a profile; choose one of: smoke, full, rehearsal, auto")
    result = subprocess.run([sys.executable, "-m", "heygen_lib.run_notebooks", "01"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == "error: HEYGEN_PROFILE='tiny' is not a profile; choose one of: smoke, full, rehearsal, auto\n"


def test_the_run_command_without_the_lab_extra_says_what_to_install(monkeypatch, capsys):
    import importlib.util

    from heygen_lib import run_notebooks

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nbclient" else real(name, *a))
    assert run_notebooks.main(["01"]) == 2
    assert capsys.readouterr().err == ("error: heygen-run-notebooks needs nbclient (the kit's lab extra): "
                                       "pip install 'heygen-kit[lab]'\n")
