from pathlib import Path

import pytest

from heygen_lib.paths import PROJECT_ROOT, shown_path


def test_a_path_inside_the_kit_prints_relative_to_it():
    assert shown_path(PROJECT_ROOT / "artifacts" / "nlg" / "model") == "artifacts/nlg/model"


def test_artifacts_kept_elsewhere_print_under_the_setting_that_put_them_there(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "drive"))
    assert shown_path(tmp_path / "drive" / "chat" / "feedback.jsonl") == "$HEYGEN_ARTIFACTS_DIR/chat/feedback.jsonl"


def test_any_other_path_prints_as_given(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "drive"))
    assert shown_path(tmp_path / "elsewhere.txt") == str(tmp_path / "elsewhere.txt")


def test_a_relative_path_is_read_from_the_working_folder(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    assert shown_path(Path("artifacts") / ".." / "data") == "data"


def test_heygen_data_dir_naming_no_folder_is_one_line_saying_what_works(tmp_path, monkeypatch):
    from heygen_lib.paths import data_dir
    from heygen_lib.settings import SettingError

    monkeypatch.setenv("HEYGEN_DATA_DIR", str(tmp_path / "mydata"))
    with pytest.raises(SettingError) as caught:
        data_dir()
    assert str(caught.value) == (f"HEYGEN_DATA_DIR='{tmp_path / 'mydata'}' names no folder (nothing is there); point "
                                 "it at the folder that holds your data files, or unset HEYGEN_DATA_DIR")
    (tmp_path / "mydata").write_text("")
    with pytest.raises(SettingError, match="is a file, not a folder"):
        data_dir()
    monkeypatch.setenv("HEYGEN_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.setenv("HEYGEN_DATA_DIR", "  ")  # blank: as if unset, never the working folder
    assert data_dir() == PROJECT_ROOT / "data"


def test_heygen_artifacts_dir_is_refused_where_nothing_can_be_written(tmp_path, monkeypatch):
    import os

    from heygen_lib.paths import artifacts_dir
    from heygen_lib.settings import SettingError

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "a-file"))
    with pytest.raises(SettingError) as caught:
        artifacts_dir()
    assert str(caught.value) == (f"HEYGEN_ARTIFACTS_DIR='{tmp_path / 'a-file'}' is a file, not a folder; point it at "
                                 "a folder you can write to (it is created if missing), or unset HEYGEN_ARTIFACTS_DIR")
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "a-file" / "artifacts"))
    with pytest.raises(SettingError, match=f"cannot be created: {tmp_path / 'a-file'} is a file"):
        artifacts_dir()
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "new" / "artifacts"))
    assert artifacts_dir() == tmp_path / "new" / "artifacts"  # created when something is written
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "read-only"))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode) and path != tmp_path)
    with pytest.raises(SettingError, match=f"would go inside {tmp_path}, a folder you cannot write to"):
        artifacts_dir()
