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
    with pytest.raises(ValueError, match="'huge' is not a profile; choose one of: smoke, full, auto"):
        profile.active_profile()


def test_smoke_is_smaller_than_full():
    smoke, full = profile.PROFILES["smoke"], profile.PROFILES["full"]
    assert smoke.data.max_dialogues is not None and full.data.max_dialogues is None
    assert smoke.augment.pairs is not None and full.augment.pairs is None
    assert smoke.augment.translation is None and full.augment.translation is not None


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
    assert shown.strip() == ("ProfileError: HEYGEN_PROFILE='tiny' is not a profile; choose one of: smoke, full, auto")
    result = subprocess.run([sys.executable, "-m", "heygen_lib.run_notebooks", "01"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == "error: HEYGEN_PROFILE='tiny' is not a profile; choose one of: smoke, full, auto\n"


def test_the_run_command_without_the_lab_extra_says_what_to_install(monkeypatch, capsys):
    import importlib.util

    from heygen_lib import run_notebooks

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nbclient" else real(name, *a))
    assert run_notebooks.main(["01"]) == 2
    assert capsys.readouterr().err == ("error: heygen-run-notebooks needs nbclient (the kit's lab extra): "
                                       "pip install 'heygen-kit[lab]'\n")
